"""Sweeps: the grid, skipped combinations, resuming after a kill, and stores of other sweeps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_kill_resume import kill_after

from nasbench_txf.cli import main
from nasbench_txf.run.store import Store

BASE = ["sweep", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--benchmark-opt", "noise=0.1"]


def sweep(path: Path, *extra: str) -> list[str]:
    return [*BASE, "--store", str(path), "--workers", "1", "--no-sim-overhead", *extra]


def test_grid_skips_what_cannot_work_and_runs_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "grid.sqlite"
    code = main(sweep(path, "--strategies", "rs,gp-bo,nsga2", "--encodings", "onehot", "--seeds", "2",
                      "--budget", "12", "--benchmark-opt", "fail_op=d", "--json"))
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert {(r["strategy"], r["encoding"], r["cells"]) for r in report["rows"]} == {
        ("rs", None, 2), ("gp-bo", "onehot", 2), ("nsga2", None, 2)}
    with Store.open(path) as store:
        assert len(store.cells()) == 6 and store.count_trials() == 72


def test_a_strategy_runs_as_several_variants_each_its_own_cells(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "variants.sqlite"
    strategies = "rs, es(population=4, sample_size=2), es(sample_size=2,population=8), es, es(population=30)"
    assert main(sweep(path, "--strategies", strategies, "--seeds", "2", "--budget", "6", "--json")) == 0
    report = json.loads(capsys.readouterr().out)
    # es(population=30) is es with its defaults: one variant, run once
    assert [(r["strategy"], r["cells"]) for r in report["rows"]] == [
        ("rs", 2), ("es(population=4, sample_size=2)", 2), ("es(population=8, sample_size=2)", 2), ("es", 2)]
    with Store.open(path) as store:
        populations = sorted(c.key["strategy"]["options"]["population"] for c in store.cells()
                             if c.key["strategy"]["name"] == "es")
    assert populations == [4, 4, 8, 8, 30, 30]
    assert main(["leaderboard", "show", str(path), "--json"]) == 0  # each variant its own leaderboard row
    shown = json.loads(capsys.readouterr().out)
    rows = [r["row"] for table in shown for r in table["rows"]] if isinstance(shown, list) else None
    assert rows is not None and sorted(rows) == sorted(
        ["rs", "es(population=4, sample_size=2)", "es(population=8, sample_size=2)", "es"]), shown


def test_a_variant_the_benchmark_cannot_serve_is_skipped_before_the_store_is_claimed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("optuna")
    # toy-quadratic reports score and size: no metric named nope to optimise against
    assert main(sweep(tmp_path / "alone.sqlite", "--strategies", "optuna(against=nope)", "--seeds", "1",
                      "--budget", "2")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "grid is empty" in err[0] and "cost metrics among size" in err[0], err
    assert not (tmp_path / "alone.sqlite").exists()
    strategies = "rs, optuna(against='size,nope'), optuna(against=size)"
    assert main(sweep(tmp_path / "s.sqlite", "--strategies", strategies, "--seeds", "1", "--budget", "2",
                      "--json")) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["strategy"] for r in report["rows"]] == ["rs", "optuna(against=size)"]
    assert [s["strategy"] for s in report["skipped"]] == ["optuna(against=size,nope)"]


@pytest.mark.parametrize(("strategies", "message"), [
    ("es(population=x)", "population"),
    ("es(population=4", "missing ')'"),
    ("es(population=4) x", "must end with ')'"),
    ("es(population=4, sample_size=[2)", "unbalanced ')' (expected ']')"),
    ("es(population)", "takes KEY=VALUE"),
    ("es(sample_size=90)", "sample_size must be between 1 and population"),
    ("es(nope=1)", "nope"),
    ("(population=4)", "no strategy name"),
    ("rs,bogus(x=1)", "unknown strategy 'bogus'"),
])
def test_a_bad_variant_is_one_line_and_exit_2_before_anything_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], strategies: str, message: str) -> None:
    assert main(sweep(tmp_path / "s.sqlite", "--strategies", strategies, "--seeds", "1", "--budget", "2")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "s.sqlite").exists()


def test_incompatible_combinations_are_listed_with_the_reason(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main(sweep(tmp_path / "s.sqlite", "--strategies", "rs,gp-bo", "--encodings", "onehot,bogus",
                      "--seeds", "1", "--budget", "3"))
    assert code == 2  # an unknown name is an error, not a skip
    assert "unknown encoding 'bogus'" in capsys.readouterr().err
    code = main(sweep(tmp_path / "t.sqlite", "--strategies", "gp-bo", "--encodings", "", "--seeds", "1",
                      "--budget", "3"))
    assert code == 2
    err = capsys.readouterr().err
    assert "grid is empty after filtering" in err and "needs --encoding" in err
    assert not (tmp_path / "t.sqlite").exists()


def test_a_store_of_another_sweep_or_run_is_refused_untouched(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.sqlite"
    assert main(sweep(path, "--strategies", "rs", "--seeds", "2", "--budget", "5")) == 0
    before = path.read_bytes()
    assert main(sweep(path, "--strategies", "rs", "--seeds", "2", "--budget", "6")) == 2
    assert "belongs to another sweep (budget:" in capsys.readouterr().err
    assert path.read_bytes() == before
    run_store = tmp_path / "run.sqlite"
    assert main(["run", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategy", "rs",
                 "--budget", "2", "--store", str(run_store)]) == 0
    assert main(sweep(run_store, "--strategies", "rs", "--seeds", "1", "--budget", "2")) == 2
    assert "not part of a sweep" in capsys.readouterr().err


def test_a_grown_sweep_runs_only_the_new_cells(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    assert main(sweep(path, "--strategies", "rs", "--seeds", "2", "--budget", "5")) == 0
    with Store.open(path) as store:
        first = {c.cell_id: store.trials(c.cell_id) for c in store.cells()}
    assert main(sweep(path, "--strategies", "rs,es", "--seeds", "3", "--budget", "5")) == 0
    with Store.open(path) as store:
        assert len(store.cells()) == 6
        assert all(store.trials(cell_id) == rows for cell_id, rows in first.items())


def test_killed_sweep_resumes_to_the_same_trials(tmp_path: Path) -> None:
    args = ["--strategies", "rs,es", "--seeds", "2", "--budget", "15", "--benchmark-opt", "delay=0.03"]
    killed, reference = tmp_path / "killed.sqlite", tmp_path / "reference.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "nasbench_txf", *sweep(killed, *args), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    workers = kill_after(proc, killed, 20)
    if sys.platform.startswith("linux"):  # pool workers end with their driver, not train on
        assert workers
        deadline = time.monotonic() + 10
        while (alive := [pid for pid in workers if Path(f"/proc/{pid}").exists()]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive, [Path(f"/proc/{pid}/cmdline").read_text() for pid in alive]
    assert main(sweep(killed, *args)) == 0
    assert main(sweep(reference, *args)) == 0
    with Store.open(killed) as a, Store.open(reference) as b:
        assert sorted(c.cell_id for c in a.cells()) == sorted(c.cell_id for c in b.cells())
        for cell in a.cells():
            assert [(r.arch_id, r.metrics, r.sim_end) for r in a.trials(cell.cell_id)] == \
                   [(r.arch_id, r.metrics, r.sim_end) for r in b.trials(cell.cell_id)]


def test_ctrl_c_of_a_pool_sweep_keeps_every_finished_trial_and_exits_at_once(tmp_path: Path) -> None:
    """Ctrl-C reaches the driver and its workers (one process group): the driver stores what the
    workers finished, ends them and exits with one line; at most each worker's trial in flight is
    lost, and the sweep then resumes to its end."""
    log = tmp_path / "evaluated.txt"
    args = ["--strategies", "rs,es", "--seeds", "2", "--budget", "300", "--benchmark-opt", "delay=0.01",
            "--benchmark-opt", f"log={log}"]
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "nasbench_txf", *sweep(path, *args), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not log.exists() or len(log.read_text().splitlines()) < 60:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=15)  # the workers end promptly on Ctrl-C
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["nasbench-txf: interrupted; finished trials are in the store"]
    with Store.open(path) as store:
        stored = store.count_trials()
    evaluated = len(log.read_text().splitlines())
    assert stored < 4 * 300
    assert evaluated - stored <= 2, (evaluated, stored)
    assert main(sweep(path, *args)) == 0
    with Store.open(path) as store:
        assert store.count_trials() == 4 * 300
