"""Black-box strategies against random search on the toy problems (known optimum 4.25)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nbt_testing import STRATEGY_BENCHMARK, STRATEGY_SPACE

from nasbench_txf.core.pareto import pareto_indices
from nasbench_txf.run.cell import CellSpec, open_cell
from nasbench_txf.run.runner import run_cell
from nasbench_txf.run.store import Store
from nasbench_txf.run.trials import Budget

OPTIMUM, SEEDS, QUERIES = 4.25, range(6), 40
#: options and encoding per strategy (toy-grid's block graph is a chain, so its path encoding
#: is one feature per arch and cannot generalise: the model-based strategies use onehot here)
SETTINGS: dict[str, tuple[dict[str, str], str | None]] = {
    "es": ({"population": "10", "sample_size": "3"}, None),
    "reinforce": ({}, None),
    "gp-bo": ({}, "onehot"),
    "bananas": ({}, "onehot"),
    "rs": ({}, None),
}


def spec(strategy: str, seed: int, options: dict[str, str] | None = None, encoding: str | None = None) -> CellSpec:
    return CellSpec(space=STRATEGY_SPACE, strategy=strategy, benchmark=STRATEGY_BENCHMARK, seed=seed,
                    encoding=encoding, strategy_options=options or {}, benchmark_options={"noise": "0.1"})


def mean_regret(tmp_path: Path, strategy: str) -> float:
    options, encoding = SETTINGS[strategy]
    regrets = []
    for seed in SEEDS:
        best = run_cell(spec(strategy, seed, options, encoding), tmp_path / f"{strategy}-{seed}.sqlite",
                        Budget(queries=QUERIES)).best_value
        assert best is not None
        regrets.append(OPTIMUM - best)
    return float(np.mean(regrets))


@pytest.mark.parametrize("strategy", ["es", "reinforce", "gp-bo", "bananas"])
def test_beats_random_search(tmp_path: Path, strategy: str) -> None:
    # each strategy's mean regret is well below random search's, by far more than the 0.2 asked
    assert mean_regret(tmp_path, strategy) < mean_regret(tmp_path, "rs") - 0.2


def front(tmp_path: Path, strategy: str, seed: int, options: dict[str, str]) -> np.ndarray:
    """The measured Pareto front (−score, size) of a 100-query run."""
    path = tmp_path / f"{strategy}-{seed}.sqlite"
    summary = run_cell(spec(strategy, seed, options), path, Budget(queries=100))
    with Store.open(path) as store:
        points = np.array([[-r.metrics["score"], r.metrics["size"]] for r in store.trials(summary.cell_id)])
    return points[pareto_indices(points)]


def covered(front: np.ndarray, by: np.ndarray) -> float:
    """Fraction of ``front``'s points weakly dominated by a point of ``by`` (Zitzler's C metric)."""
    return float(np.mean([((by <= p).all(axis=1)).any() for p in front]))


def test_nsga2_front_dominates_random_search(tmp_path: Path) -> None:
    from pymoo.indicators.hv import HV

    hypervolume = HV(ref_point=np.array([0.0, 17.0]))  # worst score 0, largest size 16
    for seed in range(4):
        ours, theirs = front(tmp_path, "nsga2", seed, {"population": "10"}), front(tmp_path, "rs", seed, {})
        assert hypervolume(ours) > hypervolume(theirs)
        assert covered(theirs, by=ours) > covered(ours, by=theirs)


def test_nsga2_run_reports_its_pareto_set(tmp_path: Path) -> None:
    path = tmp_path / "moo.sqlite"
    summary = run_cell(spec("nsga2", 0, {"against": "size"}), path, Budget(queries=30))
    assert summary.pareto_objectives == ["score", "size"]
    with Store.open(path) as store:
        points = [(-r.metrics["score"], r.metrics["size"]) for r in store.trials(summary.cell_id)]
    reported = {(-p["score"], p["size"]) for p in summary.pareto}
    dominated = {p for p in points if any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points)}
    assert reported == set(points) - dominated  # exactly the non-dominated trials
    assert run_cell(spec("rs", 0), tmp_path / "single.sqlite", Budget(queries=3)).pareto == []


@pytest.mark.parametrize("against", ["latency", "score", ""])
def test_nsga2_refuses_unknown_cost_metrics(against: str) -> None:
    from nasbench_txf.core.errors import IncompatibleError

    with pytest.raises(IncompatibleError, match="choose cost metrics among size"):
        open_cell(spec("nsga2", 0, {"against": against}))


def test_model_based_strategies_refuse_to_run_without_an_encoding_unless_they_have_a_default() -> None:
    from nasbench_txf.core.errors import IncompatibleError

    with pytest.raises(IncompatibleError, match="needs --encoding"):
        open_cell(spec("gp-bo", 0))
    assert open_cell(spec("bananas", 0)).encoding.name == "path"  # type: ignore[union-attr]
    with pytest.raises(IncompatibleError, match="does not use an encoding"):
        open_cell(spec("nsga2", 0, encoding="onehot"))


def test_isometric_coordinates_keep_train_and_test_distances() -> None:
    from scipy.spatial.distance import cdist

    from nasbench_txf.strategies.gp_bo import isometric_coordinates

    rng = np.random.default_rng(0)
    train, test = (rng.random((20, 300)) < 0.1).astype(float), (rng.random((50, 300)) < 0.1).astype(float)
    train_low, test_low = isometric_coordinates(train, test)
    assert train_low.shape[1] <= 20 and test_low.shape[1] == train_low.shape[1]
    np.testing.assert_allclose(cdist(train_low, train_low), cdist(train, train), atol=1e-9)
    np.testing.assert_allclose(cdist(test_low, train_low), cdist(test, train), atol=1e-9)


def test_gp_bo_with_one_shared_length_scale(tmp_path: Path) -> None:
    path = tmp_path / "iso.sqlite"
    summary = run_cell(spec("gp-bo", 1, {"ard_max": "1", "initial": "5"}, "onehot"), path, Budget(queries=15))
    with Store.open(path) as store:
        assert len({r.arch_id for r in store.trials(summary.cell_id)}) == 15
    assert summary.best_value is not None and OPTIMUM - summary.best_value < 2.0


@pytest.mark.parametrize("queries", [50, 100])
def test_evolution_with_its_defaults_evolves_within_the_budget(tmp_path: Path, queries: int) -> None:
    """es's first ``initial`` (10) asks are random; every later one is a mutation of a measured
    arch, so its trials part from random search's once the initial sample is spent."""
    seed = 3
    trials = {}
    for strategy in ("es", "rs"):
        path = tmp_path / f"{strategy}-{queries}.sqlite"
        summary = run_cell(CellSpec(space="flexibert", strategy=strategy, benchmark="surrogate", seed=seed),
                           path, Budget(queries=queries))
        with Store.open(path) as store:
            trials[strategy] = [r.arch_id for r in store.trials(summary.cell_id)]
    es, rs = trials["es"], trials["rs"]
    assert len(es) == len(rs) == queries
    assert es[:10] == rs[:10]  # the same random start from the same seed
    assert len(set(es[10:]) & set(rs[10:])) < 5  # then es evolves: not random search's archs
    assert set(es[10:]).isdisjoint(es[:10])  # and never asks an arch twice


@pytest.mark.parametrize(("start", "low", "high"), [("space", 0.0, 0.15), ("uniform", 0.35, 0.65)])
def test_reinforce_starts_from_the_spaces_own_sampling(start: str, low: float, high: float) -> None:
    """Uniform per decision, half of the first level-1 FlexiBERT asks would have 2 layers (3% of
    the cards); started from the space's sampling frequencies, few do, as with random search."""
    from nasbench_txf.core.registry import get_space, get_strategy
    from nasbench_txf.core.result import Metric

    space_cls, cls = get_space("flexibert"), get_strategy("reinforce")
    flexibert = space_cls(space_cls.make_options())
    asks = []
    for seed in range(10):
        strategy = cls(flexibert, objective=Metric("accuracy", maximize=True), seed=seed,
                       options=cls.make_options({"start": start}))
        asks += strategy.ask(10)
    share = np.mean([arch.card["l"] == 2 for arch in asks])
    assert low <= share <= high, share
