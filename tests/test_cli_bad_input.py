"""Bad input: one clear line on stderr, exit code 2, no traceback, stored results untouched."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from nbt_testing import TOY


def assert_refused(done, message: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert message in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--space", "toy-gird", "--benchmark", "toy-quadratic", "--strategy", "rs"],
         "unknown space 'toy-gird'; did you mean 'toy-grid'? (known: "),
        ([*TOY, "--strategy", "random"], "unknown strategy 'random'"),
        ([*TOY, "--strategy", "rs", "--benchmark", "tabluar"], "unknown benchmark 'tabluar'"),
        ([*TOY, "--strategy", "rs", "--encoding", "one-hot"], "unknown encoding 'one-hot'; did you mean 'onehot'?"),
        ([*TOY, "--strategy", "rs", "--task", "sst2"], "benchmark toy-quadratic has no task 'sst2'; tasks: match"),
        ([*TOY, "--strategy", "rs", "--benchmark-opt", "nosie=1"],
         "toy-quadratic: unknown option 'nosie' (did you mean noise?); known options: bad_runs, crash_once, "
         "crash_op, delay, fail_op, log, noise"),
        ([*TOY, "--strategy", "rs", "--benchmark-opt", "noise=loud"], "option noise='loud' is not a valid float"),
        ([*TOY, "--strategy", "rs", "--benchmark-opt", "noise"], "--benchmark-opt takes KEY=VALUE, got 'noise'"),
        ([*TOY, "--strategy", "rs", "--space-opt", "level=2"], "toy-grid: unknown option 'level'; known options: none"),
        ([*TOY, "--strategy", "rs", "--budget", "0"], "--budget must be at least 1 query"),
        ([*TOY, "--strategy", "rs", "--resume"], "--resume needs --store"),
        ([*TOY, "--strategy", "rs", "--resume", "--store", "nothing.sqlite"],
         "--resume: nothing.sqlite does not exist, so there is nothing to resume"),
    ],
)
def test_bad_requests(cli, args: list[str], message: str) -> None:
    assert_refused(cli("run", *args), message)


def test_unknown_kind_in_list(cli) -> None:
    assert_refused(cli("list", "optimizers"), "unknown plugin kind 'optimizers'")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_that_is_not_a_store_is_refused_untouched(cli, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("my precious results\n")
    before = digest(text)
    assert_refused(cli("run", *TOY, "--strategy", "rs", "--store", str(text)),
                   "is not a nasbench-txf run store (not an SQLite file)")
    assert digest(text) == before

    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE results (x)")
    before = digest(other)
    assert_refused(cli("run", *TOY, "--strategy", "rs", "--store", str(other)),
                   "is an SQLite file but not a nasbench-txf run store")
    assert digest(other) == before


def test_a_store_of_another_run_is_not_resumed_or_changed(cli, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    cli("run", *TOY, "--strategy", "rs", "--budget", "4", "--seed", "1", "--store", str(store), check=True)
    before = sqlite3.connect(store).execute("SELECT * FROM trials ORDER BY trial").fetchall()
    assert_refused(
        cli("run", *TOY, "--strategy", "rs", "--budget", "4", "--seed", "2", "--store", str(store), "--resume"),
        "holds no run with this command's keys (seed: command has 2, store has 1)",
    )
    assert_refused(
        cli("run", *TOY, "--strategy", "rs", "--budget", "4", "--seed", "1", "--store", str(store)),
        "already has 4 trials of this run; add --resume to continue it",
    )
    assert sqlite3.connect(store).execute("SELECT * FROM trials ORDER BY trial").fetchall() == before


def test_json_output_has_the_best_card(cli, tmp_path: Path) -> None:
    import json

    done = cli("run", *TOY, "--strategy", "rs", "--budget", "30", "--seeds", "2", "--json",
               "--store", str(tmp_path / "s.sqlite"), check=True)
    out = json.loads(done.stdout)
    assert out["store"].endswith("s.sqlite") and out["objective"] == "score"
    assert [c["trials"] for c in out["cells"]] == [30, 30]
    assert out["best"]["best_value"] == max(c["best_value"] for c in out["cells"])
    assert set(out["best"]["best_card"]) == {"n", "ops"}


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--space", "toy-gird", "--benchmark", "toy-quadratic", "--strategy", "rs"], "unknown space 'toy-gird'"),
    (["bench", "import", "{empty}", "--space", "flexibert", "--task", "sst2", "--metric", "accuracy",
      "--out", "{out}"], "no rows"),
    (["bench", "import", "{empty}", "--space", "flexibert-2021", "--task", "sst2", "--metric", "accuracy",
      "--out", "{out}"], "no rows"),
], ids=["mistyped-space", "import-flexibert", "import-flexibert-2021"])
def test_a_mistake_is_answered_without_loading_torch_or_lightgbm(argv: list[str], message: str,
                                                                 tmp_path: Path) -> None:
    """Start-up cost: a message about a typo or a bad file must not wait seconds for libraries
    it never uses (the FlexiBERT spaces validate cards without torch; ``bench`` imports per action)."""
    empty = tmp_path / "empty.csv"
    empty.write_text("card,accuracy\n", encoding="utf-8")
    argv = [a.format(empty=empty, out=tmp_path / "out") for a in argv]
    probe = (f"import sys; from nasbench_txf.cli import main; code = main({argv!r}); "
             "print(code, sorted(m for m in ('torch', 'lightgbm', 'sklearn') if m in sys.modules))")
    # cwd: ``-c`` puts the working directory first on sys.path, and the source tree's
    # nasbench_txf/ (whose spaces/ lives beside it) would shadow the installed package.
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert message in done.stderr, done.stderr
    assert done.stdout.strip() == "2 []", done.stdout
    assert not (tmp_path / "out").exists()


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """``nasbench-txf bench export flexibert-sst2 | head -1``: the export stops quietly."""
    export = subprocess.Popen([sys.executable, "-m", "nasbench_txf", "bench", "export", "flexibert-sst2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert export.stdout is not None and export.stdout.readline().startswith(b"arch_id,card,seed")
    export.stdout.close()  # more than a pipe's buffer is still to come
    _, err = export.communicate(timeout=120)
    assert export.returncode == 141 and b"Traceback" not in err, err.decode()
