"""Means over training seeds with a 95 % interval, and the one rule every verdict uses.

An accuracy here is the mean of a few trainings that differ only by their seed (shuffling order
and initial weights). Two settings trained with the same seeds share each seed's training order,
so they are compared seed by seed (paired): the differences cancel the order's share of the
noise, and a Student-t interval on the mean difference says whether a gap is larger than what
the seeds scatter. A setting is *significantly below* another when the whole 95 % interval of
the gap lies above zero; otherwise the two are *indistinguishable*. The table's plateau, the
best factor and the knee verdict all use this rule (:func:`significantly_below`).

scipy gives the t quantile; the rest is a few lines that no library shapes the way the verdicts
need (paired by seed, with the seeds listed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as scipy_stats

from edgetune.errors import EdgetuneError

CONFIDENCE = 0.95
INTERVAL_NAME = "95 % t-interval over seeds"


@dataclass(frozen=True)
class Estimate:
    """A mean over n seeds and the half-width of its 95 % interval (nan below 2 seeds)."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def as_dict(self, digits: int = 6) -> dict:
        return {"mean": round(self.mean, digits), "ci95": round(self.half_width, digits), "n": self.n}


def estimate(values: Sequence[float]) -> Estimate:
    """Mean and 95 % t-interval half-width of ``values`` (one per seed)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise EdgetuneError("no values to average: a row needs at least one seed")
    if x.size < 2:
        return Estimate(float(x.mean()), math.nan, 1)
    sem = float(x.std(ddof=1)) / math.sqrt(x.size)
    t = float(scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, df=x.size - 1))
    return Estimate(float(x.mean()), t * sem, int(x.size))


def paired_gap(better: Sequence[float], other: Sequence[float]) -> Estimate:
    """``better − other``, seed by seed, averaged with its interval: how far ``other`` lies below."""
    a, b = np.asarray(better, dtype=float), np.asarray(other, dtype=float)
    if a.shape != b.shape:
        raise EdgetuneError(f"paired comparison of {a.size} and {b.size} seeds: both sides need the same seeds")
    return estimate(a - b)


def significantly_below(gap: Estimate) -> bool:
    """True when the whole interval of the gap is above zero; one seed cannot show it (False)."""
    return gap.n >= 2 and gap.low > 0


def best_index(means: Sequence[float]) -> int:
    """Index of the highest mean; on a tie the first (the smallest setting, listed ascending)."""
    return int(np.argmax(np.asarray(means, dtype=float)))


@dataclass(frozen=True)
class Comparison:
    """Every setting against the best one: gaps, and which are indistinguishable from it."""

    best: int  # index of the best setting
    gaps: list[Estimate]  # best − setting, paired by seed (0 ± 0 for the best itself)
    below: list[bool]  # significantly below the best

    @property
    def first_indistinguishable(self) -> int:
        """Smallest setting (index, settings ascending) not significantly below the best."""
        return next(i for i, b in enumerate(self.below) if not b)


def compare_to_best(per_seed: Sequence[Sequence[float]]) -> Comparison:
    """``per_seed[i]``: setting i's accuracy for each seed (same seeds, same order, settings ascending)."""
    means = [float(np.mean(v)) for v in per_seed]
    best = best_index(means)
    gaps = [paired_gap(per_seed[best], v) for v in per_seed]
    return Comparison(best, gaps, [i != best and significantly_below(g) for i, g in enumerate(gaps)])
