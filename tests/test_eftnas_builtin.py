"""The shipped EFTNAS benchmark: MiniLM-L6's generated space on SST-2 (no weights) and the table
of its subnetworks scored once each with inherited weights, searched offline with no data,
network or weights; what needs the weights is refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nasbench_txf.cli import main
from nasbench_txf.core.registry import get_space
from nasbench_txf.tables.builtin import builtin_folders, resolve_table


@pytest.fixture(scope="module")
def space():  # type: ignore[no-untyped-def]
    cls = get_space("eftnas")
    return cls(cls.make_options())


def test_the_shipped_space_is_minilm_on_sst2_and_its_table_answers_for_it(space) -> None:
    build = space.build
    assert build.task == "sst2" and not build.has_weights
    assert (build.shape.layers, build.shape.hidden, build.shape.heads, build.shape.intermediate) == (6, 384, 12, 1536)
    assert "path" not in build.record["base"]  # no local path of the machine that built it
    assert space.presets()["largest"] == {"heads": [12] * 6, "ffn": [1536] * 6}
    assert space.cardinality() > 10_000
    table = resolve_table("", space, "sst2")
    assert table.folder.name == "eftnas-sst2" and table.meta.space == space.key()
    assert table.meta.source["benchmark"] == "supernet" and table.meta.source["options"]["bootstrap"] is False
    archs = table.by_arch()
    assert len(archs) >= 2500 and {row.seed for row in table.rows} == {0}  # one deterministic score per card
    for rows in list(archs.values())[:50]:
        assert space.supernet_costs(space.arch(rows[0].card))["macs"] == rows[0].metrics["macs"]
    largest = archs[space.resolve("largest").id][0].metrics
    assert largest["macs"] == 698_351_616 and 0.85 < largest["accuracy"] < 0.95
    assert (table.folder / "surrogate" / "surrogate.json").is_file()
    assert "eftnas-sst2" in [f.name for f in builtin_folders()]


def test_nsga2_searches_the_shipped_benchmark_offline(tmp_path: Path) -> None:
    """The command of the docs, in a fresh process outside the checkout, with no data folder."""
    done = subprocess.run([sys.executable, "-m", "nasbench_txf", "run", "--space", "eftnas", "--strategy",
                           "nsga2", "--budget", "40", "--store", str(tmp_path / "runs.sqlite"), "--json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    (cell,) = json.loads(done.stdout)["cells"]
    assert cell["trials"] == 40 and cell["failed"] == 0
    assert cell["pareto_objectives"] == ["accuracy", "macs"] and cell["pareto"]
    assert all(0.45 < member["accuracy"] < 1 for member in cell["pareto"])


def test_what_needs_the_weights_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--space", "eftnas", "--benchmark", "supernet", "--strategy", "rs", "--budget", "2",
                 "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "without its super-network weights" in err and "not for scoring subnetworks" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "s.sqlite").exists()


def test_bench_info_reports_the_shipped_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "info", "eftnas-sst2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["space"]["name"] == "eftnas" and info["task"] == "sst2"
    assert info["objective_std_across_archs"] > 0 and info["surrogate"]["validation"]
