from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nasbench_txf.core.errors import IncompatibleError, StoreError, UserError
from nasbench_txf.run.cell import CellSpec
from nasbench_txf.run.runner import run_cell, run_cells
from nasbench_txf.run.store import Store
from nasbench_txf.run.trials import Budget


def spec(seed: int = 0, **bench: str) -> CellSpec:
    return CellSpec(space="toy-grid", strategy="rs", benchmark="toy-quadratic", seed=seed,
                    benchmark_options=bench)


def arch_ids(path: Path, cell_id: str) -> list[str]:
    with Store.open(path) as store:
        return [r.arch_id for r in store.trials(cell_id)]


def test_trials_are_stored_with_the_cell_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    summary = run_cell(spec(noise="0.5"), path, Budget(queries=7), command="nasbench-txf run ...")
    assert summary.trials == 7 and summary.best_value is not None
    rows = sqlite3.connect(path).execute(
        "SELECT space, benchmark, task, strategy, encoding, seed, trial, status, metrics,"
        " benchmark_options FROM runs ORDER BY trial").fetchall()
    assert len(rows) == 7 and [r[6] for r in rows] == list(range(7))
    assert rows[0][:6] == ("toy-grid", "toy-quadratic", "match", "rs", None, 0)
    assert '"noise":0.5' in rows[0][9] and '"score"' in rows[0][8]
    assert max(float(r[8].split('"score":')[1].split(",")[0]) for r in rows) == pytest.approx(summary.best_value)


def test_resume_continues_without_repeating(tmp_path: Path) -> None:
    full, part = tmp_path / "full.sqlite", tmp_path / "part.sqlite"
    ref = run_cell(spec(), full, Budget(queries=20))
    run_cell(spec(), part, Budget(queries=8))
    resumed = run_cell(spec(), part, Budget(queries=20), resume=True)
    assert resumed.trials == 20 and resumed.cell_id == ref.cell_id
    assert arch_ids(part, ref.cell_id) == arch_ids(full, ref.cell_id)


def test_a_finished_run_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    run_cell(spec(), path, Budget(queries=3))
    with pytest.raises(StoreError, match="already has 3 trials of this run; add --resume"):
        run_cell(spec(), path, Budget(queries=5))


def test_resume_with_other_keys_names_the_difference(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    run_cell(spec(seed=1), path, Budget(queries=3))
    with pytest.raises(StoreError, match="seed: command has 2, store has 1"):
        run_cell(spec(seed=2), path, Budget(queries=5), resume=True)


def test_a_cell_is_not_resumed_on_a_changed_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nasbench_txf_toy import ToyQuadratic

    path = tmp_path / "s.sqlite"
    monkeypatch.setattr(ToyQuadratic, "version", property(lambda self: "rows-10"))
    first = run_cell(spec(), path, Budget(queries=3))
    with Store.open(path) as store:
        assert store.cells()[0].benchmark_version == "rows-10"
    monkeypatch.setattr(ToyQuadratic, "version", property(lambda self: "rows-12"))
    with pytest.raises(StoreError, match=r"changed since this run started \(stored rows-10, now rows-12\)"):
        run_cell(spec(), path, Budget(queries=5), resume=True)
    assert len(arch_ids(path, first.cell_id)) == 3


def test_failed_evaluations_are_stored_as_failed(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    summary = run_cell(spec(fail_op="a"), path, Budget(queries=15))
    with Store.open(path) as store:
        rows = store.trials(summary.cell_id)
    failed = [r for r in rows if r.status == "failed"]
    assert failed and summary.failed == len(failed)
    assert all(r.reason == "op a diverged" and r.metrics == {} for r in failed)
    assert all("a" not in r.card["ops"] for r in rows if r.status == "ok")


def test_seconds_budget_stops_on_simulated_time(tmp_path: Path) -> None:
    summary = run_cell(spec(), tmp_path / "s.sqlite", Budget(seconds=100.0))
    assert summary.simulated_seconds >= 100.0
    assert summary.simulated_seconds - 30.0 < 100.0  # stopped by the trial that crossed it


def test_parallel_workers_give_the_same_trials(tmp_path: Path) -> None:
    specs = [spec(seed=s) for s in range(3)]
    serial = run_cells(specs, tmp_path / "a.sqlite", Budget(queries=6), progress=False)
    parallel = run_cells(specs, tmp_path / "b.sqlite", Budget(queries=6), workers=2, progress=False)
    for s, p in zip(serial, parallel, strict=True):
        assert s.cell_id == p.cell_id
        assert arch_ids(tmp_path / "a.sqlite", s.cell_id) == arch_ids(tmp_path / "b.sqlite", p.cell_id)
    assert len({tuple(arch_ids(tmp_path / "a.sqlite", s.cell_id)) for s in serial}) == 3


def test_encoding_refused_for_a_strategy_that_does_not_use_one(tmp_path: Path) -> None:
    bad = CellSpec(space="toy-grid", strategy="rs", benchmark="toy-quadratic", seed=0, encoding="onehot")
    with pytest.raises(IncompatibleError, match="strategy rs does not use an encoding; drop --encoding onehot"):
        run_cell(bad, tmp_path / "s.sqlite", Budget(queries=2))
    assert not (tmp_path / "s.sqlite").exists(), "refused before anything was written"


def test_budget_must_be_positive() -> None:
    with pytest.raises(UserError):
        Budget(queries=0)
    with pytest.raises(UserError):
        Budget()
