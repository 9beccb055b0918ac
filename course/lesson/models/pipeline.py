"""A promotion pipeline in which a small rating bias can compound: the design of Martell, Lane & Emrich (1996).

An organisation has several levels, each with fewer positions than the one below. Every promotion round,
some people leave at random; each vacancy is filled by the best-rated person from the level below, and the
entry level hires from outside. Ratings are noisy (a fresh draw from a normal distribution with a standard
deviation of 1 every round) and men's ratings get a small `bias`, in standard-deviation units; nobody differs
in ability. The model is pure and seeded, so the same settings always give the same result.

What the model assumes, following the replication by Meldgin, Mitchell & Oswald (2024): many rounds, a
constant gap between men's and women's mean ratings, equal spread of ratings in both groups, and leaving
that is random and low. When those assumptions do not hold, the compounding can be much weaker.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from course.lesson.models import checks

DEFAULT_BOTTOM, DEFAULT_TOP = 500, 10


@dataclass(frozen=True)
class Result:
    """The share of women at each level (entry level first) after the last round, averaged over runs."""

    positions: tuple[int, ...]
    share_women: tuple[float, ...]
    spread: tuple[float, ...]  # standard deviation across runs, per level
    top_by_round: tuple[float, ...]  # women's share at the top at the start and after each round
    bias: float
    start_share: float
    attrition: float
    cycles: int
    runs: int
    seed: int

    @property
    def top(self) -> float:
        return self.share_women[-1]


def pyramid(levels: int, bottom: int = DEFAULT_BOTTOM, top: int = DEFAULT_TOP) -> tuple[int, ...]:
    """Positions per level narrowing evenly (geometrically) from `bottom` at entry to `top`."""
    checks.whole(levels, "levels", 2)
    checks.whole(bottom, "bottom", 1)
    checks.whole(top, "top", 1)
    if top + levels - 1 > bottom:
        raise ValueError(f"cannot narrow from {bottom} to {top} positions over {levels} levels")
    sizes = [round(bottom * (top / bottom) ** (i / (levels - 1))) for i in range(levels)]
    for i in range(1, levels):  # rounding can make neighbours equal: keep each level strictly smaller
        sizes[i] = min(sizes[i], sizes[i - 1] - 1)
    return tuple(sizes)


def check_positions(positions, levels: int) -> tuple[int, ...]:
    """The positions per level, refused unless there is one positive whole number per level, each
    level smaller than the one below (an organisation narrows towards the top)."""
    positions = tuple(positions)
    if len(positions) != levels:
        raise ValueError(f"positions must give one number per level: {levels} levels, {len(positions)} numbers")
    for i, n in enumerate(positions, start=1):
        if isinstance(n, bool) or not isinstance(n, Integral) or n <= 0:
            raise ValueError(f"positions must be positive whole numbers: level {i} has {n!r}")
    for i in range(1, levels):
        if positions[i] >= positions[i - 1]:
            raise ValueError(f"positions must narrow towards the top: level {i + 1} has {positions[i]}, "
                             f"not fewer than the {positions[i - 1]} of level {i}")
    return tuple(int(n) for n in positions)


def simulate(levels: int = 8, positions=None, *, bias: float = 0.0, start_share: float = 0.5,
             attrition: float = 0.15, cycles: int = 40, runs: int = 100, seed: int = 0) -> Result:
    """Run the pipeline `runs` times for `cycles` promotion rounds and report women's share per level.

    levels       number of levels (at least 2); entry level first
    positions    positions per level, narrowing; default: 500 at entry narrowing to 10 at the top
    bias         men's rating advantage in standard deviations of the rating noise (0 = no bias)
    start_share  women's share of the starting staff and of every outside hire (0 to 1)
    attrition    the chance that each person leaves in a round, at random (between 0 and 1)
    cycles, runs promotion rounds per run, and independent runs averaged; `seed` fixes the random draws
    """
    levels = checks.whole(levels, "levels", 2)
    positions = check_positions(pyramid(levels) if positions is None else positions, levels)
    bias = checks.in_range(bias, "bias", -5, 5)
    start_share = checks.in_range(start_share, "start_share", 0, 1)
    attrition = checks.in_range(attrition, "attrition", 0, 1, open_low=True, open_high=True)
    cycles = checks.whole(cycles, "cycles", 1)
    runs = checks.whole(runs, "runs", 1)
    seed = checks.whole(seed, "seed", 0)

    rng = np.random.default_rng(seed)
    size = np.array(positions)
    women = np.array([round(start_share * n) for n in positions])[:, None].repeat(runs, axis=1)
    men = size[:, None] - women
    history = [_share(women[-1], men[-1])]
    for _ in range(cycles):
        women = women - rng.binomial(women, attrition)
        men = men - rng.binomial(men, attrition)
        for level in range(levels - 1, 0, -1):  # fill from the top down: each promotion opens a seat below
            below_w, below_m = women[level - 1], men[level - 1]
            take = np.minimum(size[level] - women[level] - men[level], below_w + below_m)
            promoted_w = _promote(rng, below_w, below_m, take, bias)
            promoted_m = take - promoted_w
            women[level] += promoted_w
            men[level] += promoted_m
            women[level - 1] = below_w - promoted_w
            men[level - 1] = below_m - promoted_m
        hires = size[0] - women[0] - men[0]
        hired_women = rng.binomial(hires, start_share)
        women[0] += hired_women
        men[0] += hires - hired_women
        history.append(_share(women[-1], men[-1]))
    shares = [_share(women[level], men[level], spread=True) for level in range(levels)]
    return Result(positions, tuple(m for m, _ in shares), tuple(s for _, s in shares), tuple(history),
                  bias, start_share, attrition, cycles, runs, seed)


def _share(women, men, spread=False):
    """Women's share over runs (mean, and standard deviation if `spread`); runs with an empty level,
    possible only with extreme attrition, are left out."""
    filled = women + men
    share = women[filled > 0] / filled[filled > 0]
    mean = float(share.mean()) if share.size else math.nan
    return (mean, float(share.std()) if share.size else math.nan) if spread else mean


def _promote(rng, women, men, take, bias: float):
    """How many women are among the `take` best-rated candidates, per run (all arrays over runs)."""
    runs = women.shape[0]
    pool = women + men
    width = int(pool.max())
    if width == 0:
        return np.zeros(runs, dtype=women.dtype)
    column = np.arange(width)[None, :]
    is_woman = column < women[:, None]
    rating = rng.standard_normal((runs, width), dtype=np.float32)
    rating[~is_woman] += np.float32(bias)
    rating[column >= pool[:, None]] = -np.inf  # padding for runs with fewer candidates
    # The lowest rating that still wins a seat, per run; the women rated at least that high are promoted.
    cut = np.sort(rating, axis=1)[np.arange(runs), width - np.maximum(take, 1)]
    picked = np.count_nonzero(is_woman & (rating >= cut[:, None]), axis=1)
    return np.where(take > 0, picked, 0).astype(women.dtype)
