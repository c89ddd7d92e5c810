"""``leaderboard publish`` never deletes or overwrites a file it did not write: refused targets
leave every file byte-identical, a republish replaces only its own earlier site, and names from
the store cannot become Markdown or HTML markup."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from nasbench_txf.cli import main
from nasbench_txf.leaderboard import plots
from nasbench_txf.leaderboard.aggregate import Settings, leaderboard
from nasbench_txf.leaderboard.collect import RunTable, read_tables
from nasbench_txf.leaderboard.publish import MARKER, publish
from nasbench_txf.leaderboard.render import Provenance, html_section, markdown, md_table, md_text
from nasbench_txf.run.store import Store, TrialRow, now

Cli = Callable[..., subprocess.CompletedProcess[str]]
#: a task name with Markdown and HTML specials and a line break, as a store may hold
TASK = "a*b_c [x](y) <i>#|\nz &amp; $1 ~~s~~"
#: a recorded command holding a code fence, which must not end the page's "Reproduce" block
COMMAND = "nasbench-txf sweep --note ```done```"
CARDS = [{"n": 4, "ops": ["c", "a", "d", "b"]}, {"n": 2, "ops": ["a", "a"]}, {"n": 3, "ops": ["c", "a", "d"]}]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seeds of rs, three trials each, on a toy-quadratic task named :data:`TASK`."""
    path = tmp_path_factory.mktemp("store") / "s.sqlite"
    with Store.open(path) as opened:
        for seed in (0, 1):
            key = {"space": {"name": "toy-grid", "options": {}}, "strategy": {"name": "rs", "options": {}},
                   "benchmark": {"name": "toy-quadratic", "task": TASK, "options": {}}, "encoding": None,
                   "seed": seed}
            opened.add_cell(f"rs-{seed}", key, "score", True, COMMAND)
            for i, card in enumerate(CARDS):
                opened.add_trial(f"rs-{seed}", TrialRow(
                    trial=i, arch_id=f"{seed}-{i}", card=card, eval_seed=i, status="ok", reason=None,
                    metrics={"score": float(i + seed)}, info={}, cost_seconds=1.0, strategy_seconds=0.01,
                    started_at=now(), finished_at=now(), sim_start=float(i), sim_end=float(i + 1)))
    return path


@pytest.fixture(scope="module")
def table(store: Path) -> RunTable:
    (only,) = read_tables(store)
    return only


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: a file's sha256, or ``folder``."""
    return {p.relative_to(root).as_posix(): "folder" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*")}


def fake_site(folder: Path, files: dict[str, str], listed: list[str]) -> None:
    """A folder as a previous publish left it: ``files`` with a marker listing ``listed``."""
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / MARKER).write_text(json.dumps({"files": listed}))


def normal_mode(kind: int) -> int:
    """``kind`` (0o777 for folders, 0o666 for files) less the process's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return kind & ~mask


REFUSED = {
    "out the store's folder": (["--out", "runs"], "--out runs holds the input store runs/s.sqlite"),
    "out the store": (["--out", "runs/s.sqlite"], "--out runs/s.sqlite is the input store"),
    "out the current folder": (["--out", "."], "--out . is the current folder or holds it"),
    "out a parent of the current folder": (["--out", ".."], "--out .. is the current folder or holds it"),
    "out a user's folder": (["--out", "mine"], "--out mine is not empty and was not written by `leaderboard "
                                               "publish`; choose an empty or new folder"),
    "out a site with a user's file": (["--out", "site"], "--out site holds 1 entries `leaderboard publish` did not "
                                                         "write ('notes.txt')"),
    "out a folder with a bad marker": (["--out", "bad"], f"--out bad: its {MARKER} is not one"),
    "out a file": (["--out", "notes.txt"], "--out notes.txt is a file, not a folder"),
    "out under a file": (["--out", "notes.txt/sub"], "--out notes.txt/sub: "),
    "markdown a folder": (["--out", "new", "--markdown", "mine"], "--markdown mine is a folder; give a file name"),
    "markdown under a file": (["--out", "new", "--markdown", "notes.txt/x.md"], "--markdown notes.txt/x.md: "),
    "markdown the store": (["--out", "new", "--markdown", "runs/s.sqlite"], "--markdown runs/s.sqlite is the input"),
    "markdown inside the site": (["--out", "new", "--markdown", "new/x.md"], "--markdown new/x.md overlaps --out"),
}


def user_tree(root: Path, store: Path) -> dict[str, str]:
    """Files a publish must not touch under ``root`` (the store among them, as runs/s.sqlite);
    returns their :func:`snapshot`."""
    (root / "runs").mkdir()
    shutil.copy(store, root / "runs" / "s.sqlite")
    (root / "notes.txt").write_text("mine")
    (root / "mine").mkdir()
    (root / "mine" / "notes.txt").write_text("mine too")
    fake_site(root / "site", {"index.html": "old", "notes.txt": "mine"}, ["index.html"])
    fake_site(root / "bad", {"index.html": "old"}, ["index.html"])
    (root / "bad" / MARKER).write_text("{not json")
    return snapshot(root)


def assert_refused(code: int, stderr: str, message: str) -> None:
    assert code == 2, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("nasbench-txf: error: ") and message in lines[0], lines[0]


@pytest.mark.parametrize("case", REFUSED)
def test_refused_targets_leave_every_file_untouched(store: Path, tmp_path: Path, case: str,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """In this process (the CLI's own main) for speed; the next test runs one case as users do."""
    args, message = REFUSED[case]
    before = user_tree(tmp_path, store)
    monkeypatch.chdir(tmp_path)
    code = main(["leaderboard", "publish", "runs/s.sqlite", *args])
    assert_refused(code, capsys.readouterr().err, message)
    assert snapshot(tmp_path) == before  # nothing removed, changed or added (no temporary folder left)


def test_publishing_into_the_current_folder_is_refused_in_a_real_process(cli: Cli, store: Path,
                                                                          tmp_path: Path) -> None:
    before = user_tree(tmp_path, store)
    done = cli("leaderboard", "publish", "runs/s.sqlite", "--out", ".")
    assert_refused(done.returncode, done.stderr, "--out . is the current folder or holds it")
    assert snapshot(tmp_path) == before


def test_publish_then_republish_replaces_only_its_own_files(cli: Cli, store: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "empty").mkdir()
    first = cli("leaderboard", "publish", str(store), "--out", "empty", "--markdown", "docs/board.md")
    assert first.returncode == 0, first.stderr
    site = tmp_path / "empty"
    files = sorted(p.name for p in site.iterdir())
    assert json.loads((site / MARKER).read_text())["files"] == [f for f in files if f != MARKER]
    assert site.stat().st_mode & 0o777 == normal_mode(0o777) != 0o700
    assert (tmp_path / "docs" / "board.md").stat().st_mode & 0o777 == normal_mode(0o666)
    # a file an older publish wrote and this one does not: listed in the marker, so replaceable
    marker = json.loads((site / MARKER).read_text())
    (site / MARKER).write_text(json.dumps({**marker, "files": [*marker["files"], "stale.png"]}))
    (site / "stale.png").write_text("old plot")
    outside = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(("empty", "docs"))}
    second = cli("leaderboard", "publish", str(store), "--out", "empty", "--markdown", "docs/board.md")
    assert second.returncode == 0, second.stderr
    assert sorted(p.name for p in site.iterdir()) == files  # stale.png gone, the rest written again
    assert site.stat().st_mode & 0o777 == normal_mode(0o777)
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(("empty", "docs"))} == outside
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == ["board.md"]  # no temporary file left
    assert "](../empty/" in (tmp_path / "docs" / "board.md").read_text()


def test_an_interrupted_publish_keeps_the_previous_site(table: RunTable, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    fake_site(site, {"index.html": "old"}, ["index.html"])
    before = snapshot(tmp_path)

    def fail(*args: object, **kwargs: object) -> Path:
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "by_queries", fail)
    with pytest.raises(KeyboardInterrupt):
        publish([table], site, Settings(), Provenance("test"))
    assert snapshot(tmp_path) == before


def test_names_from_the_store_are_escaped(table: RunTable) -> None:
    assert md_text("a*b\n# c|d") == r"a\*b \# c\|d"
    assert md_table(pd.DataFrame({"a|b": ["x|y"], "n": [1]})).splitlines()[::2] == [r"| a\|b   |   n |",
                                                                                 r"| x\|y   |   1 |"]
    frame = leaderboard(table, Settings(budgets=(2,)))
    alt = f"plot of {table.key.title}"
    page = markdown(table, frame, Settings(budgets=(2,)), Provenance("p"), [(alt, "x.png")])
    lines = page.splitlines()
    assert lines[0] == r"## toy-grid · toy-quadratic · a\*b\_c \[x\](y) \<i>\#\| z \&amp; \$1 \~\~s\~\~"
    fence = lines.index("````")  # the "Reproduce" block: literal text, the title's line break included
    assert not any(line.startswith("z ") for line in lines[:fence])  # the line break did not end the heading
    assert rf"![plot of {lines[0][3:]}](x.png)" in lines
    assert lines[fence + 1:].index("````") > lines[fence + 1:].index(f"runs: {COMMAND}")
    section = html_section(table, frame, Settings(budgets=(2,)), Provenance("p"), [(alt, "x.png")])
    assert "<i>" not in section and "&lt;i&gt;#|" in section and "&amp;amp;" in section
