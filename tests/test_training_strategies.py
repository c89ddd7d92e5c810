"""The extension point for strategies that train: a training context, a folder for
checkpoints that survives a kill, and the compute they report put on the simulated clock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli_bad_input import assert_refused

from nasbench_txf.core.checkpoints import load_checkpoint, save_checkpoint
from nasbench_txf.run.cell import CellSpec
from nasbench_txf.run.runner import run_cell
from nasbench_txf.run.simulation import Simulation
from nasbench_txf.run.store import Store
from nasbench_txf.run.trials import Budget, run_dir


def spec(**options: str) -> CellSpec:
    return CellSpec(space="toy-grid", strategy="toy-oneshot", benchmark="toy-trainable", seed=3,
                    strategy_options=options, simulation=Simulation(overhead=False))


def steps_trained(store: Path) -> list[str]:
    log = run_dir(store) / "strategies" / "trained-steps.log"
    return log.read_text().splitlines() if log.exists() else []


def test_reported_training_is_on_the_simulated_clock_without_the_strategies_own_time(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    summary = run_cell(spec(steps="5", step_seconds="10"), store, Budget(queries=4))
    with Store.open(store) as opened:
        rows = opened.trials(summary.cell_id)
    assert [r.reported_seconds for r in rows] == [50.0, 0.0, 0.0, 0.0]
    assert rows[0].sim_start == 50.0  # the training came first, though measured time is left out
    assert rows[1].sim_start == rows[0].sim_end
    assert len(steps_trained(store)) == 5


def test_a_resumed_training_strategy_continues_from_its_checkpoint(tmp_path: Path) -> None:
    """Killed during its training, the strategy resumes at its last checkpoint: it trains each
    step once, and the run ends with the trials (and simulated times) of an uninterrupted run."""
    store = tmp_path / "killed.sqlite"
    args = ["run", "--space", "toy-grid", "--benchmark", "toy-trainable", "--strategy", "toy-oneshot",
            "--strategy-opt", "steps=6", "--strategy-opt", "step_delay=0.3", "--seed", "3", "--budget", "4",
            "--store", str(store)]
    proc = subprocess.Popen([sys.executable, "-m", "nasbench_txf", *args], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(steps_trained(store)) < 2:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    done = subprocess.run([sys.executable, "-m", "nasbench_txf", *args, "--resume"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    numbers = [int(line.split()[1]) for line in steps_trained(store)]
    assert numbers == sorted(set(numbers)) == list(range(1, 7))  # no step trained twice

    reference = tmp_path / "reference.sqlite"
    assert subprocess.run([sys.executable, "-m", "nasbench_txf", *args[:-1], str(reference)], cwd=tmp_path,
                          capture_output=True, timeout=120).returncode == 0
    with Store.open(store) as a, Store.open(reference) as b:
        ((cell,), (ref,)) = a.cells(), b.cells()
        got, want = a.trials(cell.cell_id), b.trials(ref.cell_id)
    assert [(r.arch_id, r.metrics, r.reported_seconds) for r in got] == \
           [(r.arch_id, r.metrics, r.reported_seconds) for r in want]
    assert got[0].reported_seconds == 60.0  # all six steps charged once, half of them before the kill
    # `run` also counts the strategy's measured time (milliseconds here) on its clock
    assert [r.sim_start for r in got] == pytest.approx([r.sim_start for r in want], abs=0.5)


def test_a_strategy_that_trains_needs_a_benchmark_that_lends_training(cli) -> None:
    assert_refused(cli("run", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategy", "toy-oneshot"),
                   "strategy toy-oneshot trains models itself and needs a benchmark that lends it a training "
                   "context")


def test_checkpoints_are_whole_or_ignored(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    save_checkpoint(tmp_path, {"w": torch.arange(3.0)}, {"step": 7})
    tensors, state = load_checkpoint(tmp_path)  # type: ignore[misc]
    assert state == {"step": 7} and tensors["w"].tolist() == [0.0, 1.0, 2.0]
    (tmp_path / "weights.safetensors").write_bytes(b"half a file")
    assert load_checkpoint(tmp_path) is None
    assert load_checkpoint(tmp_path / "nothing") is None
