"""A training that learned nothing (a failure of the recipe) is not a measurement of its arch."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from nbt_testing import space

from nasbench_txf.benchmarks.surrogate import SurrogateBenchmark
from nasbench_txf.benchmarks.tabular import Tabular
from nasbench_txf.surrogate.noise import noise_level
from nasbench_txf.surrogate.surrogate import Surrogate, arch_targets
from nasbench_txf.tables.info import describe, seed_values
from nasbench_txf.tables.table import Row, Table
from nasbench_txf.training.loop import chance_loss
from nasbench_txf.training.tasks import GLUE_TASKS

TOY = space("toy-grid")


def test_chance_loss_worked_out_by_hand() -> None:
    sst2 = GLUE_TASKS["sst2"]
    # training labels 0, 0, 0, 1: add-one smoothed frequencies 4/6 and 2/6
    assert chance_loss(np.array([0, 0, 0, 1]), np.array([0, 1]), sst2) == pytest.approx(
        -(math.log(4 / 6) + math.log(2 / 6)) / 2)
    # a label never seen in training costs a finite loss
    assert math.isfinite(chance_loss(np.array([0, 0]), np.array([1]), sst2))
    regression = dataclasses.replace(sst2, labels=None)
    assert chance_loss(np.array([1.0, 3.0]), np.array([2.0, 4.0]), regression) == pytest.approx(2.0)


def _row(loss: float, chance: float | None, status: str = "ok") -> Row:
    info = {} if chance is None else {"chance_loss": chance}
    metrics = {"accuracy": 0.5575, "loss": loss} if status == "ok" else {}
    return Row("a", {}, 0, status, None if status == "ok" else "diverged", metrics, 12.0, info)


@pytest.mark.parametrize(("row", "at_chance"), [
    (_row(0.6867, 0.6867), True),  # a run that predicted one class for every sentence
    (_row(0.70, 0.6867), True),  # worse than the label frequencies
    (_row(0.5435, 0.6867), False),  # 21% below chance: it learned something
    (_row(0.6867, None), False),  # imported and older rows do not say what chance is
    (_row(0.0, 0.6867, status="failed"), False),  # failed already, for another reason
])
def test_which_rows_stayed_at_chance(row: Row, at_chance: bool) -> None:
    assert row.stayed_at_chance is at_chance
    assert row.measured is (row.status == "ok" and not at_chance)


def test_a_row_at_chance_is_answered_as_a_failed_training_with_its_scores_kept() -> None:
    result = _row(0.6867, 0.6867).result()
    assert not result.ok and not result.metrics and result.cost_seconds == 12.0
    assert "stayed at chance: loss 0.6867, against 0.6867" in (result.reason or "")
    assert result.info["scored"] == {"accuracy": 0.5575, "loss": 0.6867}
    assert _row(0.5, 0.6867).result().metrics["loss"] == 0.5


def _put_at_chance(table: Table, victim: Row, score: float) -> Table:
    """``table`` read again after ``victim`` was rewritten as a run that stayed at chance, scoring ``score``."""
    collapsed = dataclasses.replace(victim, metrics={**victim.metrics, "score": score, "loss": 0.69},
                                    info={"chance_loss": 0.69})
    with table.writing():
        table.rewrite([collapsed if r is victim else r for r in table.rows])
    return Table.read(table.folder)


def test_tables_leave_runs_at_chance_out_of_noise_means_and_surrogate(toy_table: Path, tmp_path: Path) -> None:
    folder = tmp_path / "t"
    shutil.copytree(toy_table, folder)
    table = Table.read(folder)
    repeated = next(rows for rows in table.by_arch().values() if len(rows) == 3)
    victim = repeated[1]
    others = [r for r in table.rows if r is not victim]
    before = noise_level(seed_values(Table(folder, table.meta, others), "score"))
    table = _put_at_chance(table, victim, score=victim.metrics["score"] - 50)
    summary = describe(table)
    assert summary["at_chance_rows"] == 1 and summary["failed_rows"] == 0
    # a fall of 50 would swamp the noise (0.3); left out, the noise is the other runs'
    assert summary["objective_seed_noise_std"] == pytest.approx(before)
    bench = Tabular(TOY, options=Tabular.make_options({"table": str(folder)}))
    arch = TOY.arch(victim.card)
    assert bench.expected([arch])[0] == pytest.approx(np.mean([repeated[0].metrics["score"],
                                                               repeated[2].metrics["score"]]))
    answer = bench.evaluate(arch, seed=victim.seed)
    assert not answer.ok and "stayed at chance" in (answer.reason or "")
    targets = arch_targets(TOY, table.by_arch(), ["score"])
    assert sorted(len(x) for x in targets.by_seed["score"]).count(2) == 1


def test_export_says_a_row_at_chance_failed_and_import_skips_it(cli, toy_table: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(toy_table, tmp_path / "t")
    table = Table.read(tmp_path / "t")
    victim = table.rows[3]
    _put_at_chance(table, victim, score=victim.metrics["score"])
    assert cli("bench", "export", "t", "--out", "out.csv").returncode == 0
    with (tmp_path / "out.csv").open() as handle:
        exported = list(csv.DictReader(handle))
    assert [r["status"] for r in exported].count("failed") == 1
    row = exported[3]
    assert row["status"] == "failed" and "stayed at chance" in row["reason"]
    assert float(row["score"]) == victim.metrics["score"]  # what it measured is kept
    done = cli("bench", "import", "out.csv", "--space", "toy-grid", "--task", "toy", "--metric", "score",
               "--out", "copy", "--json")
    assert done.returncode == 0, done.stderr
    assert "line 5: not a successful evaluation (status failed: the training stayed at chance" in done.stderr
    assert json.loads(done.stdout)["skipped"] == 1
    assert len(Table.read(tmp_path / "copy").rows) == len(table.rows) - 1


def test_the_surrogate_fails_at_the_rate_the_tables_trainings_failed(toy_table: Path, tmp_path: Path) -> None:
    """7 runs at chance and 7 failed ones of the toy table's 140: the surrogate's answers fail
    at 10%, the same for the same (arch, seed), as the tabular benchmark answers those rows."""
    folder = tmp_path / "t"
    shutil.copytree(toy_table, folder)
    table = Table.read(folder)
    rows = list(table.rows)
    for i in range(0, 140, 10):
        if i % 20:
            rows[i] = dataclasses.replace(rows[i], status="failed", reason="diverged", metrics={})
        else:
            rows[i] = dataclasses.replace(rows[i], metrics={**rows[i].metrics, "loss": 0.69},
                                          info={"chance_loss": 0.69})
    with table.writing():
        table.rewrite(rows)
    model = Surrogate.fit(Table.read(folder), TOY)
    assert model.meta["failures"] == {"rows": 14, "of": 140, "rate": 0.1}
    model.save(folder / "surrogate")
    archs = list(TOY.enumerate())
    draws = [model.fails(arch, seed) for arch in archs for seed in range(40)]
    assert abs(sum(draws) - 0.1 * len(draws)) < 4 * math.sqrt(0.09 * len(draws))
    bench = SurrogateBenchmark(TOY, options=SurrogateBenchmark.make_options({"table": str(folder)}))
    assert bench.version.endswith("/failures")
    answers = [(arch, seed, bench.evaluate(arch, seed)) for arch in archs[:20] for seed in range(10)]
    failed = [(arch, seed, a) for arch, seed, a in answers if not a.ok]
    assert failed and all(model.fails(arch, seed) for arch, seed, _ in failed)
    assert sum(model.fails(arch, seed) for arch, seed, _ in answers) == len(failed)
    assert "failed, as 14 of the table's 140 trainings did" in (failed[0][2].reason or "")
    assert failed[0][2].cost_seconds > 0 and bench.evaluate(failed[0][0], failed[0][1]) == failed[0][2]
    assert describe(Table.read(folder))["surrogate"]["failures"]["rate"] == 0.1
