"""Every registered strategy runs ask/tell rounds deterministically on a small space."""

from __future__ import annotations

from pathlib import Path

import pytest
from nbt_testing import STRATEGY_BENCHMARK, STRATEGY_SPACE, loadable, space

from nasbench_txf.cell import CellSpec, incompatibility, open_cell
from nasbench_txf.registry import get_benchmark, get_encoding, get_strategy
from nasbench_txf.runner import run_cell
from nasbench_txf.store import Store
from nasbench_txf.trials import Budget

STRATEGIES = loadable("strategies")
ROUNDS = 12


def spec_for(name: str, seed: int, **benchmark_options: str) -> CellSpec:
    """The strategy on the test space, with the first encoding it can use when it needs one."""
    subject_space = space(STRATEGY_SPACE)
    bench_cls = get_benchmark(STRATEGY_BENCHMARK)
    benchmark_options = {"noise": "0.1", **benchmark_options}
    bench = bench_cls(subject_space, options=bench_cls.make_options(benchmark_options))
    encodings = [None] if not get_strategy(name).requires.encoding else loadable("encodings")
    for encoding in encodings:
        enc_cls = get_encoding(encoding) if encoding else None
        if incompatibility(get_strategy(name), subject_space, enc_cls, bench) is None:
            return CellSpec(space=STRATEGY_SPACE, strategy=name, benchmark=STRATEGY_BENCHMARK,
                            seed=seed, encoding=encoding, benchmark_options=benchmark_options)
    raise AssertionError(f"strategy {name} cannot run on the contract test space")


def trials(tmp_path: Path, name: str, seed: int, store: str) -> list[str]:
    path = tmp_path / store
    summary = run_cell(spec_for(name, seed), path, Budget(queries=ROUNDS))
    with Store.open(path) as opened:
        rows = opened.trials(summary.cell_id)
    assert [r.trial for r in rows] == list(range(ROUNDS))
    return [r.arch_id for r in rows]


@pytest.mark.parametrize("name", STRATEGIES)
def test_same_seed_same_trials(tmp_path: Path, name: str) -> None:
    first = trials(tmp_path, name, 3, "a.sqlite")
    assert first == trials(tmp_path, name, 3, "b.sqlite")
    assert len(set(first)) == ROUNDS, "no arch is asked twice"


@pytest.mark.parametrize("name", STRATEGIES)
def test_batch_ask_gives_distinct_valid_archs(name: str) -> None:
    cell = open_cell(spec_for(name, 0))
    batch = cell.strategy.ask(4)
    assert len(batch) == len(set(batch)) == 4
    for arch in batch:
        cell.strategy.space.check(arch)
        cell.strategy.tell(arch, cell.benchmark.evaluate(arch, 0))
    assert not set(cell.strategy.ask(2)) & set(batch)


@pytest.mark.parametrize("name", STRATEGIES)
def test_failed_evaluations_are_told_and_the_search_goes_on(tmp_path: Path, name: str) -> None:
    """Trainings fail on every benchmark (a diverged live run, a table's failed row, the
    surrogate at the table's rate): here every card with op ``d``, about half of them, past
    the point where model-based strategies start fitting."""
    rounds = 20
    summary = run_cell(spec_for(name, 1, fail_op="d"), tmp_path / "s.sqlite", Budget(queries=rounds))
    with Store.open(tmp_path / "s.sqlite") as opened:
        rows = opened.trials(summary.cell_id)
    assert [r.trial for r in rows] == list(range(rounds)) and len({r.arch_id for r in rows}) == rounds
    assert 0 < sum(r.status == "failed" for r in rows) < rounds
