"""Small summaries of samples: n, median, p95, min, max."""
from __future__ import annotations

import statistics


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0–100) by linear interpolation; None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    k = (len(xs) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values: list[float]) -> dict:
    """n, median, p95, min and max of `values` (None where there are none)."""
    xs = [v for v in values if v is not None]
    return {"n": len(xs), "median": statistics.median(xs) if xs else None, "p95": percentile(xs, 95),
            "min": min(xs) if xs else None, "max": max(xs) if xs else None}


def fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    """A number for a table cell, or an en dash."""
    return "–" if value is None else f"{value:,.{digits}f}{unit}"
