"""The statistics a leaderboard reports, on plain arrays (seeds along the last axis).

Confidence intervals are two-sided Student-t intervals at 90%, as the FlexiBERT papers plot
[FLEXIBERT23 Figs. 3–4]. The significance mark is a one-sided paired Wilcoxon signed-rank test
over the seeds two rows share (scipy), asking whether a row's regret is larger than the
leader's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: confidence level of every interval
LEVEL = 0.90
#: a row whose regret is not larger than the leader's at this level gets the mark
ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and the half-width of its 90% t-interval (NaN with one seed)."""

    mean: float
    half: float
    n: int

    def text(self, digits: int = 4) -> str:
        if math.isnan(self.mean):
            return "—"
        if math.isnan(self.half):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.half:.{digits}f}"


def mean_ci(values: np.ndarray, level: float = LEVEL) -> Interval:
    """Mean and t-interval half-width of the finite values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Interval(math.nan, math.nan, 0)
    if x.size == 1:
        return Interval(float(x[0]), math.nan, 1)
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return Interval(float(x.mean()), float(half), int(x.size))


def average_ranks(regret: np.ndarray) -> np.ndarray:
    """Mean rank of each row over every column (rows × samples; rank 1 = least regret, ties
    share the mean rank, a missing value ranks last)."""
    filled = np.where(np.isfinite(regret), regret, np.inf)
    return np.asarray(stats.rankdata(filled, axis=0).mean(axis=1), dtype=float)


def queries_to_target(regret: np.ndarray, target: float) -> float:
    """Queries until the regret first comes within ``target`` (inf if it never does)."""
    hits = np.flatnonzero(np.asarray(regret) <= target)
    return float(hits[0] + 1) if hits.size else math.inf


def median_queries(queries: np.ndarray) -> float:
    """The median over seeds, counting a seed that never reached the target as infinite."""
    return float(np.median(np.asarray(queries, dtype=float))) if len(queries) else math.nan


def area_under(regret: np.ndarray) -> float:
    """The anytime regret: the area under the regret curve over queries, per query (so it is
    in the objective's units and comparable across budgets)."""
    finite = np.asarray(regret, dtype=float)
    return float(np.nanmean(finite)) if np.isfinite(finite).any() else math.nan


def wilcoxon_worse(row: np.ndarray, leader: np.ndarray) -> float:
    """p-value that ``row``'s regret exceeds the leader's, paired by seed (NaN with no pair).

    Identical regrets on every seed give p = 1 (nothing suggests a difference).
    """
    row, leader = np.asarray(row, dtype=float), np.asarray(leader, dtype=float)
    keep = np.isfinite(row) & np.isfinite(leader)
    diff = row[keep] - leader[keep]
    if diff.size == 0:
        return math.nan
    if not np.any(diff):
        return 1.0
    return float(stats.wilcoxon(diff, alternative="greater", zero_method="wilcox").pvalue)
