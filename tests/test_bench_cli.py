"""``nasbench-txf bench``: import (a 2021-space table in the paper's notation), export, info."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from nbt_testing import space

from nasbench_txf.tables.info import condition_effects, describe, measured_with, noise_by_split, seed_effect
from nasbench_txf.tables.table import ROWS, Table

SPACE_2021 = space("flexibert-2021")


def paper_card(card: dict) -> str:
    """A card as [FLEXIBERT21] prints it: {l: 4, h: [256, ...], s: [SDP, ...]}."""
    parts = []
    for key in ("l", "h", "a", "f", "s"):
        value = card[key]
        text = f"[{', '.join(str(v).upper() for v in value)}]" if isinstance(value, list) else str(value)
        parts.append(f"{key}: {text}")
    return "{" + ", ".join(parts) + "}"


def test_import_a_2021_table_in_the_papers_notation(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archs = list(SPACE_2021.enumerate())[:40]
    lines = ["card,glue,params"]
    lines += [f'"{paper_card(a.card)}",{0.6 + i / 1000},{1000 + i}' for i, a in enumerate(archs)]
    lines.insert(5, '"{l: 3, h: [128, 128, 128]}",0.5,1')  # l=3 is not in the 2021 space
    lines.insert(9, f'"{paper_card(archs[0].card)}",high,1')  # not a number
    (tmp_path / "paper.csv").write_text("\n".join(lines) + "\n")
    done = cli("bench", "import", "paper.csv", "--space", "flexibert-2021", "--task", "glue", "--metric", "glue",
               "--metric", "params", "--minimize", "params", "--out", "t2021", "--json")
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stderr.splitlines()] == ["nasbench-txf"] * 2
    assert "line 6" in done.stderr and "line 10" in done.stderr
    summary = json.loads(done.stdout)
    assert summary["imported"] == 40 and summary["skipped"] == 2 and summary["archs"] == 40
    table = Table.read(tmp_path / "t2021")
    assert {r.arch_id for r in table.rows} == {a.id for a in archs}
    assert [m.maximize for m in table.meta.metrics] == [True, False]

    exported = cli("bench", "export", "t2021", "--out", "back.csv")
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "back.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40 and float(rows[0]["glue"]) == table.rows[0].metrics["glue"]
    again = cli("bench", "import", "back.csv", "--space", "flexibert-2021", "--task", "glue", "--metric", "glue",
                "--metric", "params", "--minimize", "params", "--out", "copy")
    assert again.returncode == 0, again.stderr
    strip = lambda rows: [(r.arch_id, r.card, r.seed, r.metrics) for r in rows]  # noqa: E731
    assert strip(Table.read(tmp_path / "copy").rows) == strip(table.rows)


def test_build_with_workers_logs_each_evaluation_and_matches_one_worker(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = ("bench", "build", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--n", "12", "--seeds", "2",
            "--repeated", "4", "--benchmark-opt", "noise=0.1")
    done = cli(*args, "--workers", "2", "--out", "two")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("build ")]
    assert len(lines) == 16 and lines[-1].startswith("build 16/16: ") and ", score " in lines[0]
    assert "; 15 left, about " in lines[0] and lines[-1].endswith("; 0 left, about 0 min at this pace")
    assert cli(*args, "--out", "one").returncode == 0
    measured = lambda folder: sorted((r.arch_id, r.seed, r.metrics["score"]) for r in Table.read(folder).rows)  # noqa: E731
    assert measured(tmp_path / "two") == measured(tmp_path / "one")
    again = cli(*args, "--workers", "2", "--out", "two")  # nothing left to measure
    assert again.returncode == 0 and "build 1/" not in again.stderr
    bad = cli(*args[:-2], "--benchmark-opt", "noise=-", "--out", "three")
    assert bad.returncode == 2 and "noise" in bad.stderr and "Traceback" not in bad.stderr


def test_info_and_surrogate_of_a_built_table(cli, toy_table: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = cli("bench", "info", str(toy_table), "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["rows"] == 140 and info["archs"] == 80 and info["archs_by_seed_count"] == {"1": 50, "3": 30}
    assert info["objective"] == "score" and info["objective_std_across_archs"] > 0
    assert "surrogate" not in info and info["measured_with"] == {}  # toy rows name no device
    assert set(info["signal_to_noise"]) == {"score"}  # size is the same at every seed
    score = info["signal_to_noise"]["score"]
    assert score["seed_noise_std"] == info["objective_seed_noise_std"] == pytest.approx(0.3, abs=0.1)
    assert score["ratio"] == pytest.approx(score["arch_signal_std"] / score["seed_noise_std"]) and score["ratio"] > 2
    assert score["typical_seed_noise_std"] == info["objective_typical_seed_noise_std"] == pytest.approx(0.3, abs=0.1)
    assert score["typical_ratio"] == pytest.approx(score["typical_arch_signal_std"] / score["typical_seed_noise_std"])

    fitted = tmp_path / "fitted"  # the shared toy table stays as it is
    shutil.copytree(toy_table, fitted)
    assert cli("bench", "surrogate", str(fitted)).returncode == 0
    info = json.loads(cli("bench", "info", str(fitted), "--json", check=True).stdout)
    surrogate = info["surrogate"]
    validation, fidelity = surrogate["validation"], surrogate["fidelity"]
    tau_ratio = validation["kendall_tau"] / validation["noise_ceiling_tau"]
    assert fidelity["tau_over_noise_ceiling"] == pytest.approx(tau_ratio)
    assert fidelity["spread_over_noise"] == pytest.approx(surrogate["score_std_across_archs"] / surrogate["noise_std"])
    assert info["objective_seed_noise_std"] == pytest.approx(surrogate["noise_std"])
    assert fidelity["spread_over_typical_noise"] == pytest.approx(
        surrogate["score_std_across_archs"] / info["objective_typical_seed_noise_std"])
    assert surrogate["noise_model"] == "constant"  # toy-quadratic's noise is the same for every arch
    assert surrogate["noise_parameters"] == {}
    assert surrogate["configs"]["score"] == surrogate["config"] and set(surrogate["configs"]) == {
        "score", "size", "cost_seconds"}
    assert 0 <= info["objective_arch_signal_std"] < info["objective_std_across_archs"]
    assert fidelity["met"] == (fidelity["tau_over_noise_ceiling"] >= 0.9 and fidelity["spread_over_noise"] >= 2)


def test_info_measures_how_far_the_objective_moves_between_conditions(toy_table: Path, tmp_path: Path) -> None:
    """As if seed 0 had been trained in bf16 and seeds 1 and 2 elsewhere in fp32, 0.5 higher."""
    folder = tmp_path / "mixed"
    shutil.copytree(toy_table, folder)
    rows = [json.loads(line) for line in (folder / ROWS).read_text().splitlines()]
    for row in rows:
        row["info"] = {"device": "cpu", "precision": "bf16" if row["seed"] == 0 else "fp32"}
        row["metrics"]["score"] += 0.5 * (row["seed"] > 0)
    (folder / ROWS).write_text("".join(json.dumps(row) + "\n" for row in rows))
    table = Table.read(folder)
    assert measured_with(table) == {"cpu/bf16": 80, "cpu/fp32": 60}
    effects = condition_effects(table)
    assert list(effects) == ["cpu/fp32 - cpu/bf16"]  # only the 30 archs at 3 seeds have both
    effect = effects["cpu/fp32 - cpu/bf16"]
    assert effect["archs"] == 30 and abs(effect["mean"] - 0.5) < 3 * effect["std_error"] < 0.3


def test_info_gives_the_objectives_seed_noise_on_each_evaluation_split(toy_table: Path, tmp_path: Path) -> None:
    """As if each row had been scored on a small split with its own sampling noise (0.5) and
    on a large one with little (0.05): the small split's noise comes out larger, the large
    one's near the toy benchmark's own seed noise (0.3)."""
    assert noise_by_split(Table.read(toy_table)) == {}  # toy rows record no splits
    folder = tmp_path / "splits"
    shutil.copytree(toy_table, folder)
    rng = np.random.default_rng(0)
    rows = [json.loads(line) for line in (folder / ROWS).read_text().splitlines()]
    for row in rows:
        score = row["metrics"]["score"]
        row["info"] = {"splits": {"small": {"score": score + rng.normal(0, 0.5)},
                                  "large": {"score": score + rng.normal(0, 0.05)}}}
    (folder / ROWS).write_text("".join(json.dumps(row) + "\n" for row in rows))
    table = Table.read(folder)
    by_split, info = noise_by_split(table), describe(table)
    assert list(by_split) == ["large", "small"] and {s["repeated_archs"] for s in by_split.values()} == {30}
    assert by_split["large"]["seed_noise_std"] == pytest.approx(info["objective_seed_noise_std"], rel=0.1)
    assert by_split["small"]["seed_noise_std"] > 1.5 * by_split["large"]["seed_noise_std"]
    assert by_split["small"]["typical_seed_noise_std"] > 1.5 * by_split["large"]["typical_seed_noise_std"]
    assert info["objective_noise_by_split"] == by_split


def test_info_separates_a_seed_effect_shared_by_all_archs_from_the_residual(toy_table: Path,
                                                                            tmp_path: Path) -> None:
    """The toy rows' noise (0.3) is independent per arch: little seed effect, a residual near
    0.3. Add a shift per seed that every arch shares (as one bootstrap resample of dev shares
    with every card): the seed noise grows, the residual stays, the seed effect shows it."""
    table = Table.read(toy_table)
    plain = seed_effect(table)
    assert plain is not None and plain["archs"] == 30 and plain["seeds"] == 3
    assert 0.2 < plain["residual_noise_std"] < 0.4 and plain["seed_effect_std"] < 0.2
    folder = tmp_path / "shared"
    shutil.copytree(toy_table, folder)
    shift = {0: -1.0, 1: 0.0, 2: 1.0}
    rows = [json.loads(line) for line in (folder / ROWS).read_text().splitlines()]
    for row in rows:
        row["metrics"]["score"] += shift[row["seed"]]
    (folder / ROWS).write_text("".join(json.dumps(row) + "\n" for row in rows))
    shared = describe(Table.read(folder))
    effect = shared["objective_seed_effect"]
    assert effect["residual_noise_std"] == pytest.approx(plain["residual_noise_std"], rel=1e-6)
    assert effect["seed_effect_std"] == pytest.approx(1.0, abs=0.15)
    assert shared["objective_seed_noise_std"] > 2 * effect["residual_noise_std"]


def test_bad_imports_write_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "rows.csv").write_text("card,acc\n" + '"{l: 2, h: [128, 128]}",0.5\n')
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00card\n")
    (tmp_path / "lines.jsonl").write_text('{"card": {"l": 2}, "acc": 1}\nnot json\n')
    base = ["--space", "flexibert-2021", "--task", "t", "--out", "out"]
    cases = {
        ("rows.csv", "--metric", "glue"): "no column(s) glue",
        ("rows.csv", "--metric", "acc"): "no valid row",
        ("binary.csv", "--metric", "acc"): "not a UTF-8 text file",
        ("lines.jsonl", "--metric", "acc"): "line 2 is not valid JSON",
        ("missing.csv", "--metric", "acc"): "no such file",
        ("rows.csv", "--metric", "acc", "--minimize", "loss"): "--minimize loss is not one of the --metric",
    }
    for args, message in cases.items():
        done = cli("bench", "import", *args, *base)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert not (tmp_path / "out").exists()
    for bad in ("nowhere", "rows.csv"):
        done = cli("bench", "info", bad)
        assert done.returncode == 2 and "not a table folder" in done.stderr
