"""GLUE's metrics: accuracy, F1 (positive class 1), Matthews correlation, Pearson, Spearman.

Computed with scikit-learn and SciPy rather than by hand, so they agree with the GLUE
scorer's definitions. A metric that is undefined on the given predictions (a constant
prediction makes MCC 0 in scikit-learn, but makes Pearson undefined) is reported as 0.0,
the value GLUE's scorer reports for a constant predictor.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef


def _correlation(fn: Callable[[np.ndarray, np.ndarray], object]) -> Callable[[np.ndarray, np.ndarray], float]:
    def metric(labels: np.ndarray, predictions: np.ndarray) -> float:
        if np.ptp(predictions) == 0 or np.ptp(labels) == 0:
            return 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = float(fn(labels, predictions)[0])  # type: ignore[index]
        return value if math.isfinite(value) else 0.0

    return metric


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": lambda y, p: float(accuracy_score(y, p)),
    "f1": lambda y, p: float(f1_score(y, p, pos_label=1, zero_division=0.0)),
    "mcc": lambda y, p: float(matthews_corrcoef(y, p)),
    "pearson": _correlation(stats.pearsonr),
    "spearman": _correlation(stats.spearmanr),
}


def task_scores(names: tuple[str, ...], labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Each named metric of predictions (class indices, or values for regression) against labels."""
    return {name: METRICS[name](labels, predictions) for name in names}
