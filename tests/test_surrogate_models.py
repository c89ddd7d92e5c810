"""The surrogate's candidate models: calibration, robustness to bad runs, safe storage."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nasbench_txf.surrogate.models import CANDIDATES, LinearModel, TreeModel, fit_candidate, load_model


def additive_data(n: int, bad_share: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-hot rows of 6 decisions with 3 choices, additive true values, small Gaussian
    noise, and a share of archs whose mean a bad run pulled down by 4 points."""
    rng = np.random.default_rng(seed)
    choices = rng.integers(0, 3, size=(n, 6))
    x = np.zeros((n, 18))
    x[np.repeat(np.arange(n), 6), (choices + np.arange(6) * 3).ravel()] = 1.0
    effects = np.random.default_rng(99).normal(0, 0.5, 18)
    truth = 85 + x @ effects
    measured = truth + rng.normal(0, 0.1, n) - 4.0 * (rng.random(n) < bad_share)
    return x, truth, measured


@pytest.mark.parametrize("candidate", list(CANDIDATES))
def test_every_candidate_predicts_the_mean_of_what_it_was_fitted_on(candidate: str, tmp_path: Path) -> None:
    """Robust fits follow the typical arch; the shift makes them predict expected
    measurements again, bad runs included, as the surrogate's mean-zero noise needs."""
    x, _, measured = additive_data(120, 0.1, seed=0)
    model = fit_candidate(candidate, x, measured)
    assert model.predict(x).mean() == pytest.approx(measured.mean(), abs=1e-9)
    entry = json.loads(json.dumps(model.save(tmp_path, "accuracy")))  # what surrogate.json holds
    assert np.array_equal(load_model(entry, tmp_path, x.shape[1]).predict(x), model.predict(x))


def test_the_robust_candidates_rank_unseen_archs_better_when_runs_go_bad() -> None:
    x, _, measured = additive_data(150, 0.1, seed=1)
    unseen, truth, _ = additive_data(500, 0.0, seed=2)
    tau = {c: stats.kendalltau(fit_candidate(c, x, measured).predict(unseen), truth).statistic
           for c in ("trees-shallow", "robust-trees", "robust-linear")}
    assert tau["robust-trees"] > tau["trees-shallow"] + 0.2
    assert tau["robust-linear"] > 0.9 > tau["trees-shallow"]


def test_stored_models_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    x, _, measured = additive_data(60, 0.0, seed=3)
    entry = fit_candidate("robust-linear", x, measured).save(tmp_path, "accuracy")
    with pytest.raises(ValueError, match="coefficients for an encoding of width 20"):
        load_model(entry, tmp_path, 20)
    with pytest.raises(ValueError, match="unknown model kind 'mlp'"):
        load_model({**entry, "kind": "mlp"}, tmp_path, 18)
    trees = fit_candidate("trees-medium", x, measured)
    assert isinstance(trees, TreeModel) and not isinstance(trees, LinearModel)
    trees.save(tmp_path, "old")
    with pytest.raises(ValueError, match="no checksum"):  # a bare file name (before format 4): unchecked
        load_model("old.lgb.txt", tmp_path, 18)
