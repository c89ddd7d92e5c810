"""Model-free strategies against random search on the toy problem (known optimum 4.25)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nbt_testing import STRATEGY_BENCHMARK, STRATEGY_SPACE

from nasbench_txf.cell import CellSpec
from nasbench_txf.runner import Budget, run_cell

OPTIMUM, SEEDS, QUERIES = 4.25, range(6), 40
OPTIONS = {"es": {"population": "10", "sample_size": "3"}, "reinforce": {}, "rs": {}}


def mean_regret(tmp_path: Path, strategy: str) -> float:
    regrets = []
    for seed in SEEDS:
        spec = CellSpec(space=STRATEGY_SPACE, strategy=strategy, benchmark=STRATEGY_BENCHMARK, seed=seed,
                        strategy_options=OPTIONS[strategy], benchmark_options={"noise": "0.1"})
        best = run_cell(spec, tmp_path / f"{strategy}-{seed}.sqlite", Budget(queries=QUERIES)).best_value
        assert best is not None
        regrets.append(OPTIMUM - best)
    return float(np.mean(regrets))


@pytest.mark.parametrize("strategy", ["es", "reinforce"])
def test_beats_random_search(tmp_path: Path, strategy: str) -> None:
    # measured: rs 1.08, es 0.47, reinforce 0.50 mean regret over seeds 0-5
    assert mean_regret(tmp_path, strategy) < mean_regret(tmp_path, "rs") - 0.2
