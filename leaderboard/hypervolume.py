"""Hypervolume of the archs a run has visited, for multi-objective tables (pymoo's indicator).

Every objective is turned into a minimisation and scaled to [0, 1] by the best and worst
values found anywhere in the table, so that accuracy and parameter counts weigh alike; the
reference point is 1.1 in each scaled objective, a little beyond the worst point, so that
the table's extreme points still add volume.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pymoo.indicators.hv import HV

from nasbench_txf.core.pareto import pareto_indices
from nasbench_txf.core.result import Metric

from .collect import Run

REFERENCE = 1.1


def points(run: Run, objectives: Sequence[Metric]) -> np.ndarray:
    """One row per trial in minimisation form; a failed trial or missing metric is ``inf``."""
    rows = []
    for metrics in run.metrics:
        values = [metrics.get(m.name) for m in objectives]
        rows.append([np.inf] * len(objectives) if None in values
                    else [-v if m.maximize else v for v, m in zip(values, objectives, strict=True)])
    return np.array(rows, dtype=float).reshape(len(run.metrics), len(objectives))


class Scale:
    """The table-wide scaling of the objectives."""

    def __init__(self, runs: Sequence[Run], objectives: Sequence[Metric]) -> None:
        every = np.vstack([points(r, objectives) for r in runs])
        finite = every[np.isfinite(every).all(axis=1)]
        self.low, high = finite.min(axis=0), finite.max(axis=0)
        self.span = np.where(high > self.low, high - self.low, 1.0)

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        return (pts - self.low) / self.span


def curve(run: Run, objectives: Sequence[Metric], scale: Scale) -> np.ndarray:
    """Hypervolume of the visited archs after each query."""
    scaled = scale(points(run, objectives))
    indicator = HV(ref_point=np.full(len(objectives), REFERENCE))
    out, front = np.zeros(run.queries), np.empty((0, len(objectives)))
    for t, point in enumerate(scaled):
        if np.isfinite(point).all() and (point < REFERENCE).all():
            candidates = np.vstack([front, point])
            front = candidates[pareto_indices(candidates)]
        out[t] = float(indicator(front)) if len(front) else 0.0
    return out


def front(run: Run, objectives: Sequence[Metric], upto: int) -> np.ndarray:
    """The non-dominated points among the first ``upto`` trials, in the objectives' own units
    and signs."""
    pts = points(run, objectives)[:upto]
    chosen = pts[pareto_indices(pts)]
    signs = np.array([-1.0 if m.maximize else 1.0 for m in objectives])
    return chosen * signs
