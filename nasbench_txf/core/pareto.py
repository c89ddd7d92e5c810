"""Pareto fronts of results over several metrics (non-dominated sorting from pymoo)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasbench_txf.core.result import Metric, Result


def minimisation_matrix(results: Sequence[Result], metrics: Sequence[Metric]) -> np.ndarray:
    """One row per result, one column per metric, signs flipped so that smaller is better.

    A failed result, or one missing a metric, gets ``inf`` in every column.
    """
    rows = []
    for result in results:
        values = [result.value(m.name) for m in metrics]
        if any(v is None for v in values):
            rows.append([np.inf] * len(metrics))
        else:
            rows.append([-v if m.maximize else v for v, m in zip(values, metrics, strict=True)])  # type: ignore[operator]
    return np.array(rows, dtype=float).reshape(len(results), len(metrics))


def pareto_indices(points: np.ndarray) -> list[int]:
    """Indices of the non-dominated rows of a minimisation matrix (rows of ``inf`` excluded)."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    finite = np.flatnonzero(np.isfinite(points).all(axis=1))
    if len(finite) == 0:
        return []
    front = NonDominatedSorting().do(points[finite], only_non_dominated_front=True)
    return sorted(int(finite[i]) for i in front)
