"""Bad run requests and damaged stores: one line, exit code 2, and every stored byte kept."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from nbt_testing import TOY
from test_cli_bad_input import assert_refused

RS = [*TOY, "--strategy", "rs", "--budget", "4"]


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by its relative path, with its content's SHA-256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def good_store(cli, tmp_path: Path) -> Path:
    path = tmp_path / "good.sqlite"
    cli("run", *RS, "--seed", "1", "--store", str(path), check=True)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-3"], "--seed must be a whole number from 0 to 4,294,967,295, got -3"),
        (["--seed", str(2**64)], "--seed must be a whole number from 0 to 4,294,967,295"),
        (["--seeds", "100000000"], "--seeds must be from 1 to 10,000"),
        (["--budget-seconds", "nan"], "--budget-seconds must be a positive, finite number, got nan"),
        (["--budget-seconds", "inf"], "--budget-seconds must be a positive, finite number, got inf"),
        (["--budget", str(10**23)], "--budget must be at most 10,000,000 queries"),
        (["--budget", "1e23"], "argument --budget: invalid int value: '1e23'"),
        (["--strategy-opt", "population=nan"], "option population='nan' is not a valid int"),
    ],
)
def test_out_of_range_requests_are_refused_before_a_store_exists(cli, tmp_path: Path, args: list[str],
                                                                  message: str) -> None:
    strategy = "es" if args[0] == "--strategy-opt" else "rs"  # es has an int option to get wrong
    assert_refused(cli("run", *TOY, "--strategy", strategy, "--budget", "4", *args, "--store", "s.sqlite"), message)
    assert not list(tmp_path.glob("s.sqlite*"))


def test_a_float_option_that_is_not_finite_is_refused(cli, tmp_path: Path) -> None:
    assert_refused(cli("run", *TOY, "--strategy", "reinforce", "--strategy-opt", "lr=nan", "--store", "r.sqlite"),
                   "option lr='nan' is not a valid float")
    assert not (tmp_path / "r.sqlite").exists()


def test_strategy_options_are_refused_before_the_benchmark_loads(cli, tmp_path: Path) -> None:
    """The strategy's typo is reported even though the benchmark could not have been opened."""
    done = cli("run", *TOY, "--strategy", "reinforce", "--strategy-opt", "lr=nan",
               "--benchmark-opt", "noise=loud")
    assert_refused(done, "reinforce: option lr='nan' is not a valid float")


def test_a_damaged_store_is_refused_untouched(cli, tmp_path: Path, good_store: Path) -> None:
    data = bytearray(good_store.read_bytes())
    for offset in range(4096, len(data), 997):  # keep the header: SQLite must find the damage itself
        data[offset] ^= 0x5A
    good_store.write_bytes(bytes(data))
    before = tree_digest(tmp_path)
    for args in (["run", *RS, "--seed", "1", "--store", str(good_store), "--resume"],
                 ["leaderboard", "show", str(good_store)]):
        done = cli(*args)
        assert_refused(done, str(good_store))
        assert "damaged" in done.stderr or "not a nasbench-txf run store" in done.stderr
    assert tree_digest(tmp_path) == before


def test_an_edited_schema_version_is_refused_untouched(cli, tmp_path: Path, good_store: Path) -> None:
    conn = sqlite3.connect(good_store)
    conn.execute("UPDATE meta SET value = 'three' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()  # the last connection folds the write-ahead log into the file
    before = tree_digest(tmp_path)
    assert_refused(cli("run", *RS, "--seed", "1", "--store", str(good_store), "--resume"),
                   "its schema version 'three' is not a number")
    assert_refused(cli("leaderboard", "show", str(good_store)), "its schema version 'three' is not a number")
    assert tree_digest(tmp_path) == before


def test_an_empty_file_is_named_as_such(cli, tmp_path: Path) -> None:
    (tmp_path / "empty.sqlite").touch()
    assert_refused(cli("leaderboard", "show", "empty.sqlite"), "empty.sqlite is an empty file, not a nasbench-txf")


def test_a_store_under_a_file_is_refused(cli, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    assert_refused(cli("run", *RS, "--store", "notes.txt/s.sqlite"), "cannot use notes.txt/s.sqlite")
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def as_unprivileged(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI without the power to override file permissions (root keeps its uid but loses
    CAP_DAC_OVERRIDE through ``setpriv``), so read-only files and folders are read-only."""
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, sys.executable, "-m", "nasbench_txf", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


needs_setpriv = pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None,
                                   reason="root without setpriv writes to read-only files and folders")


@needs_setpriv
def test_a_read_only_store_is_refused_for_a_run_but_shown(tmp_path: Path, good_store: Path) -> None:
    good_store.chmod(0o444)
    before = tree_digest(tmp_path)
    assert_refused(as_unprivileged(tmp_path, "run", *RS, "--seed", "1", "--store", str(good_store), "--resume"),
                   "good.sqlite is read-only; a run cannot add trials to it")
    shown = as_unprivileged(tmp_path, "leaderboard", "show", str(good_store))
    assert shown.returncode == 0, shown.stderr
    assert tree_digest(tmp_path) == before


@needs_setpriv
def test_a_store_in_a_read_only_folder_is_shown_not_called_a_non_store(tmp_path: Path, good_store: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        before = tree_digest(tmp_path)
        shown = as_unprivileged(tmp_path, "leaderboard", "show", str(good_store))
        assert shown.returncode == 0, shown.stderr
        assert "seed" in shown.stdout
        assert_refused(as_unprivileged(tmp_path, "run", *RS, "--store", "new.sqlite"),
                       "cannot use new.sqlite: Permission denied")
        assert tree_digest(tmp_path) == before
    finally:
        tmp_path.chmod(0o755)
