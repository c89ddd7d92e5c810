"""GLUE metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_txf.training.metrics import task_scores

LABELS = np.array([1, 0, 1, 1, 0])
PREDICTIONS = np.array([1, 0, 0, 1, 1])  # TP=2, TN=1, FP=1, FN=1


def test_classification_metrics_by_hand() -> None:
    scores = task_scores(("accuracy", "f1", "mcc"), LABELS, PREDICTIONS)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    assert scores["f1"] == pytest.approx(2 / 3)  # precision 2/3, recall 2/3
    # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2 - 1) / sqrt(3*3*2*2)
    assert scores["mcc"] == pytest.approx(1 / 6)


def test_correlations_by_hand() -> None:
    labels, predictions = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 2.0, 4.0])
    scores = task_scores(("pearson", "spearman"), labels, predictions)
    # ranks equal values: 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 6 * 2 / 60
    assert scores["spearman"] == pytest.approx(0.8)
    assert scores["pearson"] == pytest.approx(0.8)


def test_constant_predictions_score_zero_not_nan() -> None:
    scores = task_scores(("mcc", "pearson", "spearman"), np.array([0, 1, 1]), np.array([1, 1, 1]))
    assert scores == {"mcc": 0.0, "pearson": 0.0, "spearman": 0.0}
