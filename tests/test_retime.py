"""``bench retime``: a table's latency measured again on one machine, the rest of each row kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from nbt_testing import LIVE_SMALL, space

from nasbench_txf.core.errors import DataError, UserError
from nasbench_txf.core.result import Metric
from nasbench_txf.tables.build import BuildRequest, build
from nasbench_txf.tables.importing import import_table
from nasbench_txf.tables.info import timed_on
from nasbench_txf.tables.machine import describe
from nasbench_txf.tables.retime import retime
from nasbench_txf.tables.table import ROWS, Table

HERE = describe(torch.device("cpu"), 1)
FLEXIBERT = space("flexibert")
REQUEST = BuildRequest("flexibert", {}, "live", "sst2", LIVE_SMALL, n=1, seeds=2)


@pytest.fixture(scope="module")
def live_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two live rows (one arch at seeds 0 and 1), built once."""
    folder = tmp_path_factory.mktemp("retime") / "live"
    build(REQUEST, folder, progress=False)
    return folder


def as_if_timed_elsewhere(folder: Path) -> list[dict]:
    """Rewrite the rows as if another, 1000 times slower machine had timed them."""
    rows = [json.loads(line) for line in (folder / ROWS).read_text().splitlines()]
    for row in rows:
        row["metrics"]["latency_ms"] *= 1000
        row["info"]["timed_on"] = "Slow CPU (cpu, 1 thread)"
    (folder / ROWS).write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rows


def test_retime_replaces_the_timed_metric_and_keeps_the_build_values(cli, live_table: Path,
                                                                     tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "t"
    shutil.copytree(live_table, folder)
    before = as_if_timed_elsewhere(folder)
    measured = [{"latency_ms": r["metrics"]["latency_ms"]} for r in before]
    assert timed_on(Table.read(folder)) == {"Slow CPU (cpu, 1 thread)": 2}

    done = cli("bench", "retime", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows"] == 2 and summary["metrics"] == ["latency_ms"] and summary["timed_on"] == HERE
    assert summary["median_new_over_build"]["latency_ms"] < 0.01  # 1000 times faster than "measured"
    after = [json.loads(line) for line in (folder / ROWS).read_text().splitlines()]
    assert [(r["arch_id"], r["seed"]) for r in after] == [(r["arch_id"], r["seed"]) for r in before]
    for old, new in zip(before, after, strict=True):
        assert new["info"].pop("build_timing") == {"latency_ms": old["metrics"]["latency_ms"]}
        assert new["info"].pop("timed_on") == HERE and old["info"].pop("timed_on")
        assert new["info"] == old["info"] and new["cost_seconds"] == old["cost_seconds"]
        assert 0 < new["metrics"].pop("latency_ms") < old["metrics"].pop("latency_ms") / 10
        assert new["metrics"] == old["metrics"]  # score, loss, params, FLOPs untouched

    threads = torch.get_num_threads()
    again = retime(Table.read(folder), FLEXIBERT, progress=False)  # the build's values survive a second retime
    assert torch.get_num_threads() == threads  # timed on one thread, then given back
    assert again.median_ratio["latency_ms"] < 0.01
    kept = [json.loads(line)["info"]["build_timing"] for line in (folder / ROWS).read_text().splitlines()]
    assert kept == measured
    info = json.loads(cli("bench", "info", str(folder), "--json", check=True).stdout)
    assert info["timed_on"] == {HERE: 2}


def test_one_writer_at_a_time(live_table: Path, tmp_path: Path) -> None:
    """A retime while a build appends (or two builds of one folder) would lose or double rows."""
    folder = tmp_path / "t"
    shutil.copytree(live_table, folder)
    rows = (folder / ROWS).read_bytes()
    with Table.read(folder).writing():
        with pytest.raises(DataError, match="another nasbench-txf process is writing this table"):
            retime(Table.read(folder), FLEXIBERT, progress=False)
        with pytest.raises(DataError, match="another nasbench-txf process is writing this table"):
            build(REQUEST, folder, progress=False)
    assert (folder / ROWS).read_bytes() == rows
    with Table.read(folder).writing():  # released when its holder is done
        pass


def test_a_table_that_cannot_be_written_is_left_as_it_was(live_table: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "t"
    shutil.copytree(live_table, folder)
    rows = (folder / ROWS).read_bytes()

    def refuse(self: Path, target: Path) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "replace", refuse)  # e.g. the read-only copy inside an installed package
    with pytest.raises(DataError, match="cannot write the table's rows \\(Permission denied\\); nothing was changed"):
        retime(Table.read(folder), FLEXIBERT, progress=False)
    assert (folder / ROWS).read_bytes() == rows and sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for p in live_table.iterdir())  # no temporary file left


def test_tables_that_cannot_be_retimed(cli, toy_table: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "rows.csv").write_text('card,acc\n"{""l"": 2, ""a"": [2, 2], ""h"": [128, 128], '
                                       '""f"": [512, 512], ""s"": [""sdp"", ""sdp""]}",0.5\n')
    import_table(tmp_path / "rows.csv", space("flexibert-2021"), [Metric("acc", maximize=True)], "glue",
                 tmp_path / "imported")
    with pytest.raises(UserError, match="an imported table names no benchmark"):
        retime(Table.read(tmp_path / "imported"), space("flexibert-2021"))
    with pytest.raises(UserError, match="benchmark toy-quadratic times none of this table's metrics"):
        retime(Table.read(toy_table), space("toy-grid"))
    done = cli("bench", "retime", str(tmp_path))
    assert done.returncode == 2 and "not a table folder" in done.stderr and "Traceback" not in done.stderr
    done = cli("bench", "retime", str(toy_table), "--threads", "0")
    assert done.returncode == 2 and "--threads must be at least 1" in done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has a CUDA device")
def test_retime_on_cuda_without_one_is_refused(live_table: Path) -> None:
    rows = (live_table / ROWS).read_bytes()
    with pytest.raises(UserError, match="device=cuda but torch sees no CUDA device"):
        retime(Table.read(live_table), FLEXIBERT, device="cuda")
    assert (live_table / ROWS).read_bytes() == rows
