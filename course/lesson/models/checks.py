"""The models' argument checks: a wrong type or a value out of range is refused with its name and range."""
from __future__ import annotations

import math
from numbers import Integral, Real


def whole(value, name: str, low: int, high: int | None = None) -> int:
    """`value` as an int, refused unless it is a whole number from `low` to `high` (no upper limit if None)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if high is None and value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    if high is not None and not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return int(value)


def in_range(value, name: str, low: float = 0.0, high: float = 1.0, *, open_low=False, open_high=False) -> float:
    """`value` as a float, refused unless it is a finite number in [low, high] (open at either end on request)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if (value <= low if open_low else value < low) or (value >= high if open_high else value > high):
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        raise ValueError(f"{name} must be in {left}{low:g}, {high:g}{right}, got {value:g}")
    return value
