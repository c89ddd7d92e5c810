"""BOSHNAS's parts one by one [FLEXIBERT23 §3.4], and the whole against random search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from nbt_testing import STRATEGY_BENCHMARK, STRATEGY_SPACE

from nasbench_txf.core.threads import one_thread
from nasbench_txf.run.cell import CellSpec
from nasbench_txf.run.runner import run_cell
from nasbench_txf.run.store import Store
from nasbench_txf.run.trials import Budget
from nasbench_txf.strategies.boshnas_models import NPN, Student, Teacher, fit
from nasbench_txf.strategies.gobi import ascend, nearest

FAST = {"epochs": "200", "steps": "40", "initial": "8"}


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    with one_thread():  # tiny models: threads only contend
        yield


def test_npn_learns_where_targets_are_noisy() -> None:
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 200).unsqueeze(1)
    noise = torch.where(x[:, 0] > 0, 0.6, 0.05)
    y = x[:, 0] + noise * torch.randn(200, generator=generator)
    npn = NPN(1)
    losses = fit(npn, NPN.loss, x, y, generator, epochs=600, patience=600)
    assert losses[-1] < losses[0] - 0.5
    with torch.no_grad():
        mean, var = npn(torch.tensor([[-0.5], [0.5]]))
    assert var[1] > 4 * var[0]  # aleatoric σ grows where the targets are noisy
    assert abs(float(mean[0]) + 0.5) < 0.2


def test_student_tracks_the_teachers_spread() -> None:
    generator = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    x = torch.cat([torch.rand(60, 2) * 0.3, torch.rand(60, 2) * 3])  # dense and sparse regions
    y = x.sum(1).sin()
    teacher = Teacher(2)
    fit(teacher, lambda p, t: ((p - t) ** 2).mean(), x, y, generator, epochs=300)
    probe = torch.rand(200, 2, generator=generator) * 3
    _, xi = teacher.sample(probe)
    student = Student(2)
    fit(student, lambda p, t: ((p - t) ** 2).mean(), probe, xi, generator, epochs=800, patience=800)
    with torch.no_grad():
        predicted = student(probe)
    assert np.corrcoef(predicted.numpy(), xi.numpy())[0, 1] > 0.7


@pytest.mark.parametrize("second_order", [True, False])
def test_gobi_increases_the_acquisition_within_bounds(second_order: bool) -> None:
    target = torch.tensor([0.3, -0.2])

    def acquisition(x: torch.Tensor) -> torch.Tensor:
        return -((x - target) ** 2).sum(1) + 0.1 * torch.sin(3 * x).sum(1)

    starts = torch.tensor([[0.9, 0.9], [-0.9, -0.9], [0.5, -0.9]])
    lower, upper = torch.full((2,), -1.0), torch.full((2,), 1.0)
    end = ascend(acquisition, starts, lower, upper, second_order=second_order, steps=200, lr=0.05)
    assert (acquisition(end) > acquisition(starts)).all()
    assert (end >= lower).all() and (end <= upper).all()


def test_snapping_skips_asked_and_taken_archs() -> None:
    candidates = np.array([[0.0, 0.0], [1.0, 1.0], [0.1, 0.0]])
    rng = np.random.default_rng(0)
    point = np.array([[0.04, 0.0]])
    assert nearest(point, candidates, np.array([False, False, False]), rng) == [0]
    assert nearest(point, candidates, np.array([True, False, False]), rng) == [2]
    # the second point is nearest to the first one's pick, so it takes the next nearest
    assert nearest(np.repeat(point, 2, 0), candidates, np.array([False, False, False]), rng) == [0, 2]
    # fewer picks than points once every candidate is excluded or taken
    assert nearest(np.repeat(point, 3, 0), candidates, np.array([False, True, False]), rng) == [0, 2]


def test_snapping_breaks_ties_at_random() -> None:
    candidates = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [5.0, 5.0]])
    excluded = np.zeros(len(candidates), dtype=bool)
    picks = {nearest(np.zeros((1, 2)), candidates, excluded, np.random.default_rng(seed))[0] for seed in range(40)}
    assert picks == {0, 1, 2, 3}


def best_after(tmp_path: Path, strategy: str, seed: int, queries: int) -> float:
    options = FAST if strategy != "rs" else {}
    spec = CellSpec(space=STRATEGY_SPACE, strategy=strategy, benchmark=STRATEGY_BENCHMARK, seed=seed,
                    encoding="onehot" if strategy != "rs" else None, strategy_options=options,
                    benchmark_options={"noise": "0.1"})
    summary = run_cell(spec, tmp_path / f"{strategy}-{seed}.sqlite", Budget(queries=queries))
    assert summary.best_value is not None
    return summary.best_value


def test_boshnas_beats_random_search_on_the_test_problem(tmp_path: Path) -> None:
    seeds = range(3)
    regret = {s: np.mean([4.25 - best_after(tmp_path, s, seed, 24) for seed in seeds]) for s in ("rs", "boshnas")}
    assert regret["boshnas"] < regret["rs"], regret


def test_boshnas_is_deterministic_per_seed_past_the_initial_asks(tmp_path: Path) -> None:
    runs = []
    for store in ("a", "b"):
        spec = CellSpec(space=STRATEGY_SPACE, strategy="boshnas", benchmark=STRATEGY_BENCHMARK, seed=7,
                        encoding="onehot", strategy_options=FAST, benchmark_options={"noise": "0.1"})
        summary = run_cell(spec, tmp_path / f"{store}.sqlite", Budget(queries=14))
        with Store.open(tmp_path / f"{store}.sqlite") as opened:
            runs.append([r.arch_id for r in opened.trials(summary.cell_id)])
    assert runs[0] == runs[1] and len(set(runs[0])) == 14


def test_boshnas_predicts_when_a_feature_that_varies_in_training_is_constant_among_the_candidates() -> None:
    """Standardised over the candidates, such a feature must not put the observations 1e9 away."""
    from scipy.stats import kendalltau

    from nasbench_txf.core.registry import get_encoding, get_strategy
    from nasbench_txf.core.result import Metric
    from nasbench_txf.testing import toy_space

    rng = np.random.default_rng(0)
    train_x, test_x = rng.normal(size=(40, 4)), rng.normal(size=(40, 4))
    test_x[:, 0] = 0.0  # varies among the observations, constant among the candidates
    weights = np.array([0.0, 1.0, -1.0, 0.5])
    cls, grid = get_strategy("boshnas"), toy_space()
    encoding = get_encoding("onehot")(grid)  # only for the strategy's set-up: predict takes vectors
    encoding.fit()
    strategy = cls(grid, objective=Metric("score", maximize=True), seed=0, encoding=encoding,
                   options=cls.make_options())
    predicted = strategy.predict(train_x, train_x @ weights, test_x)
    assert np.isfinite(predicted).all() and kendalltau(predicted, test_x @ weights).statistic > 0.6
