"""Small summaries of samples: n, median, p95, min, max, and how far a ratio of two medians could move."""
from __future__ import annotations

import random
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


def median_ratio_interval(a: list[float], b: list[float], level: float = 90, draws: int = 2000,
                          seed: int = 0) -> tuple[float, float] | None:
    """The central `level` % of median(a) / median(b) over bootstrap resamples of both samples: the range in
    which the ratio of two medians of samples this size would fall; None if either sample is empty (or b's
    medians all 0)."""
    a, b = [x for x in a if x is not None], [x for x in b if x is not None]
    if not a or not any(b):
        return None
    rng = random.Random(seed)
    pairs = ((statistics.median(rng.choices(a, k=len(a))), statistics.median(rng.choices(b, k=len(b))))
             for _ in range(draws))
    ratios = [x / y for x, y in pairs if y]
    if not ratios:
        return None
    tail = (100 - level) / 2
    return percentile(ratios, tail), percentile(ratios, 100 - tail)


def fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    """A number for a table cell, or an en dash."""
    return "–" if value is None else f"{value:,.{digits}f}{unit}"
