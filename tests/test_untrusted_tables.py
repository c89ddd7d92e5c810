"""Tables are downloaded and shared: every way a table folder, its surrogate or an imported file
can be wrong is one line on stderr and exit code 2, never a traceback or an abort, and never a
change to a file that was there before or a file written outside what the command names.

Most requests run the CLI in this process (``main``: the same one-line handling, without a
second's start-up each); what could abort the process (LightGBM on a damaged model) runs in a
subprocess. The properties at the end feed malformed metadata, rows, surrogates and import
files to the functions behind the commands and accept no error but a :class:`UserError`.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbt_testing import space

from nasbench_txf.benchmarks import surrogate as surrogate_benchmark
from nasbench_txf.benchmarks.tabular import Tabular
from nasbench_txf.cli import main
from nasbench_txf.cli.bench_cmd import find_table
from nasbench_txf.cli.space_cmd import sample_cards
from nasbench_txf.core.errors import DataError, UserError
from nasbench_txf.core.result import Metric
from nasbench_txf.surrogate.models import checksum
from nasbench_txf.surrogate.surrogate import FORMAT_VERSION, META_FILE, Surrogate
from nasbench_txf.tables.builtin import builtin_folders
from nasbench_txf.tables.importing import CARD_ENTRY, MAX_CARD_CHARS, import_table
from nasbench_txf.tables.info import describe, surrogate_summary
from nasbench_txf.tables.table import METADATA, ROWS, Table

TOY = space("toy-grid")
#: the toy table's metrics, for imports into a toy-grid table
SCORE = [Metric("score", maximize=True)]
#: enough examples per property to meet each kind of damage several times, in seconds
FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


# ---------------------------------------------------------------- helpers


def digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` by its path: the sha256 of its bytes (a link: where it points)."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            out[key] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[key] = "folder" if path.is_dir() else "special"  # a named pipe is never read
    return out


@contextmanager
def untouched(*roots: Path) -> Iterator[None]:
    """Assert that nothing under ``roots`` is created, changed or removed in the block."""
    before = [digest(root) for root in roots]
    yield
    assert [digest(root) for root in roots] == before


def cli_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``nasbench-txf ARGV`` in this process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The line ``nasbench-txf ARGV`` (in this process) refuses with, checked by :func:`assert_refused`."""
    code, _, err = cli_main(capsys, *argv)
    assert_refused(code, err)
    return err


def assert_refused(code: int, err: str, message: str = "") -> None:
    """Exit code 2 and exactly one line on stderr, which holds ``message``."""
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and message in err, err


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    """Rewrite the JSON file at ``path`` as ``change`` returns its value."""
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def set_path(data: Any, keys: tuple[Any, ...], value: Any) -> Any:
    """``data`` (a JSON value, changed in place) with the value at ``keys`` replaced, or
    removed where ``value`` is :data:`REMOVE`."""
    target = data
    for key in keys[:-1]:
        target = target[key]
    if value is REMOVE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


REMOVE = object()


def changed(data: Any, changes: list[tuple[tuple[Any, ...], Any]]) -> Any:
    """``data`` with each of ``changes`` made by :func:`set_path`, but for a change below a
    value that an earlier one removed or replaced (or that is not there)."""
    for key, value in changes:
        with suppress(KeyError, IndexError, TypeError):
            set_path(data, key, value)
    return data


@pytest.fixture
def table(toy_table: Path, tmp_path: Path) -> Path:
    """A copy of the toy table, beside an empty folder nothing may be written to."""
    shutil.copytree(toy_table, tmp_path / "table")
    (tmp_path / "sentinel").mkdir()
    return tmp_path / "table"


@pytest.fixture(scope="module")
def fitted(toy_table: Path, tmp_path_factory: pytest.TempPathFactory) -> Surrogate:
    """The toy table's surrogate, fitted once: robust-linear for the score, trees for the cost."""
    return Surrogate.fit(Table.read(toy_table), TOY)


@pytest.fixture
def with_surrogate(table: Path, fitted: Surrogate) -> Path:
    """The table copy with its surrogate stored in ``table/surrogate``."""
    fitted.save(table / "surrogate")
    return table


# ------------------------------------------------ 1. names that become paths


@pytest.mark.parametrize("name", ["../../../../x/PWNED", "/tmp/PWNED", "a/b", "..", "a..b", ".hidden", "-x", "",
                                  "x" * 101, "cost_seconds", "a\0b", 7, None])
def test_a_metric_name_that_is_no_plain_name_is_refused_where_the_metadata_is_read(table: Path, name: Any) -> None:
    edit_json(table / METADATA, lambda meta: set_path(meta, ("metrics", 1, "name"), name))
    with untouched(table), pytest.raises(DataError, match=r"metadata.json: malformed table metadata \(metrics\[1\]"):
        Table.read(table)


def test_run_and_info_on_a_table_whose_metric_name_is_a_path_write_nothing(cli, table: Path,  # type: ignore[no-untyped-def]
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A metric name must not become a path such as ``<cache>/surrogates/<id>/../../../../x/PWNED.lgb.txt``."""
    edit_json(table / METADATA, lambda meta: set_path(meta, ("metrics", 1, "name"), "../../../../x/PWNED"))
    root, cache = table.parent, table.parent / "a" / "b" / "cache"
    with untouched(root):
        done = cli("run", "--space", "toy-grid", "--strategy", "rs", "--benchmark", "surrogate", "--budget", "3",
                   "--benchmark-opt", f"table={table}", "--store", str(root / "s.sqlite"),
                   env={"NASBENCH_TXF_CACHE": str(cache)})
        assert_refused(done.returncode, done.stderr, "metric name '../../../../x/PWNED' is not a plain name")
        assert "metrics[1]" in refusal(capsys, "bench", "info", str(table))
    assert not list(root.rglob("*PWNED*")) and not any((root / "sentinel").iterdir())


def test_import_refuses_a_metric_name_that_is_a_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rows.jsonl").write_text(json.dumps({"card": {"n": 2, "ops": ["a", "a"]}, "../x": 1.0}) + "\n")
    with untouched(tmp_path):
        err = refusal(capsys, "bench", "import", str(tmp_path / "rows.jsonl"), "--space", "toy-grid", "--task", "t",
                      "--metric", "../x", "--out", str(tmp_path / "out"))
    assert "--metric: metrics[0]: metric name '../x' is not a plain name" in err


@pytest.mark.parametrize("file", ["../../outside_model.lgb.txt", "/etc/shadow", "sub/../../x.lgb.txt", "link.lgb.txt",
                                  "", ".", 5])
def test_every_file_a_surrogate_names_lies_inside_its_folder(with_surrogate: Path, file: Any) -> None:
    """Even a valid model with its right checksum is refused when it lies outside the folder."""
    folder, outside = with_surrogate / "surrogate", with_surrogate.parent / "outside_model.lgb.txt"
    shutil.copy(folder / "cost_seconds.lgb.txt", outside)
    (folder / "link.lgb.txt").symlink_to(outside)
    right = checksum(outside.read_bytes())
    edit_json(folder / META_FILE, lambda meta: set_path(meta, ("models", "cost_seconds"),
                                                        {"kind": "trees", "file": file, "sha256": right, "offset": 0}))
    refused = r"(does not lie inside the folder|is not a file name)"
    with untouched(with_surrogate.parent), pytest.raises(DataError, match=refused):
        Surrogate.load(folder, TOY)


def test_table_files_that_link_out_of_the_table_are_refused(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ``rows.jsonl`` that links elsewhere is neither read nor appended to (by an import)."""
    outside = table.parent / "sentinel" / "elsewhere.jsonl"
    shutil.move(table / ROWS, outside)
    (table / ROWS).symlink_to(outside)
    with untouched(table.parent):
        with pytest.raises(DataError, match=r"the table's rows 'rows\.jsonl' does not lie inside the folder"):
            Table.read(table)
        source = table.parent / "more.jsonl"
        source.write_text(json.dumps({"card": {"n": 2, "ops": ["a", "a"]}, "score": 1.0}) + "\n")
        try:
            err = refusal(capsys, "bench", "import", str(source), "--space", "toy-grid", "--task", "t",
                          "--metric", "score", "--out", str(table))
        finally:
            source.unlink()
    assert "does not lie inside the folder" in err


def test_a_surrogate_folder_that_links_out_of_the_table_is_not_written(table: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (table / "surrogate").symlink_to(table.parent / "sentinel")
    with untouched(table.parent):
        err = refusal(capsys, "bench", "surrogate", str(table))
    assert "the surrogate's folder 'surrogate' does not lie inside the folder" in err


# ------------------------------------------------ 2. damaged surrogate models


def test_a_model_file_that_is_a_named_pipe_is_refused_not_read(with_surrogate: Path) -> None:
    """A shared folder can hold a named pipe, whose read would wait forever."""
    trees = with_surrogate / "surrogate" / "cost_seconds.lgb.txt"
    trees.unlink()
    os.mkfifo(trees)
    with untouched(with_surrogate), pytest.raises(DataError, match=r"cost_seconds\.lgb\.txt is missing or not a file"):
        Surrogate.load(with_surrogate / "surrogate", TOY)


def test_a_damaged_model_file_is_a_message_not_an_abort(cli, with_surrogate: Path) -> None:  # type: ignore[no-untyped-def]
    """LightGBM reads a model cut short past its end and aborts the process (exit 134): it is refused first."""
    trees = with_surrogate / "surrogate" / "cost_seconds.lgb.txt"
    trees.write_bytes(trees.read_bytes()[: trees.stat().st_size // 2])
    with untouched(with_surrogate.parent):
        done = cli("run", "--space", "toy-grid", "--strategy", "rs", "--benchmark", "surrogate", "--budget", "3",
                   "--benchmark-opt", f"table={with_surrogate}", "--store", str(with_surrogate.parent / "s.sqlite"))
    assert_refused(done.returncode, done.stderr, "cost_seconds.lgb.txt does not match its checksum")
    assert "nasbench-txf bench surrogate TABLE" in done.stderr


def test_a_surrogate_stored_without_checksums_is_refused_with_how_to_refit(with_surrogate: Path) -> None:
    folder = with_surrogate / "surrogate"
    edit_json(folder / META_FILE, lambda meta: set_path(meta, ("models", "cost_seconds", "sha256"), REMOVE))
    with untouched(with_surrogate), pytest.raises(DataError, match=r"no checksum.*refit it with `nasbench-txf bench"):
        Surrogate.load(folder, TOY)


def test_a_damaged_cached_surrogate_is_fitted_again(table: Path, fitted: Surrogate,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache is this package's own: a damaged entry is refitted, as the encodings' is."""
    fits: list[Table] = []

    def fit(table: Table, space: Any) -> Surrogate:
        fits.append(table)
        return fitted

    monkeypatch.setattr(Surrogate, "fit", staticmethod(fit))
    monkeypatch.setenv("NASBENCH_TXF_CACHE", str(table.parent / "cache"))
    first = surrogate_benchmark.load_or_fit(Table.read(table), TOY)
    (cached,) = (table.parent / "cache").glob(f"surrogates/*/{META_FILE}")
    assert surrogate_benchmark.load_or_fit(Table.read(table), TOY) is not first and len(fits) == 1  # loaded
    trees = cached.parent / "cost_seconds.lgb.txt"
    trees.write_text(trees.read_text()[:100])
    again = surrogate_benchmark.load_or_fit(Table.read(table), TOY)
    assert len(fits) == 2 and again is fitted  # refitted, and stored whole again
    assert Surrogate.load(cached.parent, TOY).meta["models"]["cost_seconds"]["sha256"] == checksum(trees.read_bytes())


def test_the_shipped_surrogate_has_the_checksum_of_every_tree_file() -> None:
    (folder,) = [f / "surrogate" for f in builtin_folders() if f.name == "flexibert-sst2"]
    meta = json.loads((folder / META_FILE).read_text())
    trees = [entry for entry in meta["models"].values() if entry["kind"] == "trees"]
    assert meta["format_version"] == FORMAT_VERSION and trees
    for entry in trees:
        assert checksum((folder / entry["file"]).read_bytes()) == entry["sha256"]


# ------------------------------------------------ 3. import: long cards


def test_a_long_card_is_refused_at_once_and_quoted_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An 80 KB card that is not JSON is refused at once, and the message quotes only an excerpt of it."""
    with (tmp_path / "rows.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["card", "score"], ["a" * 80_000, "1.0"]])
    (tmp_path / "huge.jsonl").write_text(json.dumps({"card": "a" * 12_000_000, "score": 1.0}) + "\n")
    (tmp_path / "short.jsonl").write_text(json.dumps({"card": "{" + "x" * 500, "score": 1.0}) + "\n")
    cases = {"rows.csv": "the card is 80,000 characters long, more than the 4,096",
             "huge.jsonl": "line 1: 12,000,026 characters, more than the 10,000,000 accepted",
             "short.jsonl": "card '{xxxx"}
    for name, message in cases.items():
        start = time.perf_counter()
        with untouched(tmp_path):
            err = refusal(capsys, "bench", "import", str(tmp_path / name), "--space", "toy-grid", "--task", "t",
                          "--metric", "score", "--out", str(tmp_path / "out"))
        assert time.perf_counter() - start < 5
        assert message in err and len(err) < 400


@pytest.mark.parametrize("unit", ["a", "a:[,", "a:[ ,", "ab: [x, ", " :", "[a:", "a: b "])
def test_the_card_pattern_takes_time_linear_in_the_card(unit: str) -> None:
    """Unbounded text through the pattern (the import bounds it besides): 400 KB in well under
    a second, where a backtracking pattern would take minutes."""
    text = unit * (400_000 // len(unit))
    start = time.perf_counter()
    CARD_ENTRY.findall(text)
    assert time.perf_counter() - start < 1.0


def test_the_papers_notation_still_reads() -> None:
    from nasbench_txf.tables.importing import _card

    card = _card({"card": "{l: 4, h: [256, 128], s: [SDP, 'FFT'], x: sdp}"}, [])
    assert card == {"l": 4, "h": [256, 128], "s": ["SDP", "FFT"], "x": "sdp"}
    assert _card({"card": json.dumps(card)}, []) == card and len(json.dumps(card)) < MAX_CARD_CHARS


# ------------------------------------------------ 4. import rows, outputs, spaces, nesting


def toy_record(ops: list[str], seed: Any, score: float = 1.0) -> str:
    """A JSON Lines row of a toy-grid card for ``bench import``."""
    return json.dumps({"card": {"n": len(ops), "ops": ops}, "seed": seed, "score": score}) + "\n"


def test_import_skips_a_repeated_card_and_seed_and_a_seed_that_is_no_count(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Copies of one row are one measurement, not an arch with as many seeds."""
    lines = [toy_record(["a", "b"], 0), toy_record(["a", "b"], 0, 2.0), toy_record(["a", "b"], -1),
             toy_record(["a", "b"], 1.5), toy_record(["a", "b"], "2"), toy_record(["b", "b"], 0)]
    (tmp_path / "rows.jsonl").write_text("".join(lines))
    code, out, err = cli_main(capsys, "bench", "import", str(tmp_path / "rows.jsonl"), "--space", "toy-grid", "--task",
                              "t", "--metric", "score", "--out", str(tmp_path / "out"), "--json")
    assert code == 0, err
    assert err.splitlines() == ["nasbench-txf: skipped line 2: the same card and seed 0 as line 1",
                                "nasbench-txf: skipped line 3: the seed is not negative, got -1",
                                "nasbench-txf: skipped line 4: the seed is a whole number, got 1.5"]
    summary = json.loads(out)
    assert summary["imported"] == 3 and summary["archs_by_seed_count"] == {"1": 1, "2": 1}
    (tmp_path / "bad.jsonl").write_text(toy_record(["a", "b"], -3) * 30)
    with untouched(tmp_path):
        err = refusal(capsys, "bench", "import", str(tmp_path / "bad.jsonl"), "--space", "toy-grid", "--task", "t",
                      "--metric", "score", "--out", str(tmp_path / "new"))
    assert "no valid row; first problems: line 1: the seed is not negative, got -3" in err


def test_outputs_that_are_not_what_a_command_writes_are_refused(table: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = table.parent
    (root / "rows.jsonl").write_text(toy_record(["a", "b"], 0))
    (root / "notes.txt").write_text("mine")
    (root / "folder").mkdir()
    (root / "folder" / "rows.jsonl").write_text("someone else's\n")
    imports = {"notes.txt": "exists and is not a folder", "folder": "holds files but no table"}
    exports = {"folder": "--out", "notes.txt/x.csv": "cannot write it"}
    with untouched(root):
        for out, message in imports.items():
            assert message in refusal(capsys, "bench", "import", str(root / "rows.jsonl"), "--space", "toy-grid",
                                      "--task", "t", "--metric", "score", "--out", str(root / out))
        for out, message in exports.items():
            assert message in refusal(capsys, "bench", "export", str(table), "--out", str(root / out))


@pytest.mark.parametrize("space_key", [{"name": "no-such-space", "options": {}},
                                       {"name": "flexibert", "options": {"level": 7}},
                                       {"name": "toy-grid", "options": {"x": 1}}])
def test_info_refuses_a_table_of_a_space_that_cannot_be_opened(table: Path, space_key: dict[str, Any],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    edit_json(table / METADATA, lambda meta: set_path(meta, ("space",), space_key))
    with untouched(table):
        assert "the table's space cannot be opened here" in refusal(capsys, "bench", "info", str(table))


NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("where", ["metadata", "row", "import", "surrogate"])
def test_json_nested_100000_deep_is_one_line(with_surrogate: Path, where: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    table, root = with_surrogate, with_surrogate.parent
    files = {"metadata": table / METADATA, "row": table / ROWS, "import": root / "rows.jsonl",
             "surrogate": table / "surrogate" / META_FILE}
    files["import"].write_text(toy_record(["a", "b"], 0))
    files[where].write_text(NESTED + "\n")
    argv = (["import", str(files["import"]), "--space", "toy-grid", "--task", "t", "--metric", "score", "--out",
             str(root / "out")] if where == "import" else ["info", str(table)])
    with untouched(root):
        assert "nested too deeply" in refusal(capsys, "bench", *argv)


# ------------------------------------------------ 5. space sample


def test_space_sample_draws_as_it_prints_and_checks_before_drawing(capsys: pytest.CaptureFixture[str]) -> None:
    """``--n 100000000`` draws cards as they are printed, never a list of them all."""
    first = list(itertools.islice(sample_cards(TOY, 100_000_000, 0), 3))
    assert first == list(sample_cards(TOY, 3, 0))
    assert "--n must be at least 1" in refusal(capsys, "space", "sample", "toy-grid", "--n", "0")
    assert "--seed must be 0 or more" in refusal(capsys, "space", "sample", "toy-grid", "--seed", "-1")
    code, out, _ = cli_main(capsys, "space", "sample", "toy-grid", "--n", "4", "--json")
    assert code == 0 and json.loads(out) == list(sample_cards(TOY, 4, 0))


def test_space_sample_of_a_hundred_million_streams() -> None:
    """The first cards come at once, and a reader that stops early stops it (exit 141)."""
    reader = subprocess.Popen([sys.executable, "-m", "nasbench_txf", "space", "sample", "toy-grid", "--n", "100000000"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert reader.stdout is not None and reader.stderr is not None
    try:
        lines = [reader.stdout.readline() for _ in range(3)]
        reader.stdout.close()  # the reader goes away, as `| head -3` does
        assert reader.wait(timeout=60) == 141 and "Traceback" not in reader.stderr.read()
    finally:
        reader.kill()
        reader.wait()
    assert all(line.startswith("{") for line in lines)


# ------------------------------------------------ 6. malformed table folders


def rewrite_rows(change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    """Damage that rewrites a table's ``rows.jsonl`` lines with ``change``."""
    def apply(table: Path) -> None:
        lines = (table / ROWS).read_text().splitlines(keepends=True)
        (table / ROWS).write_text("".join(change(lines)))
    return apply


def row_field(key: tuple[Any, ...], value: Any) -> Callable[[Path], None]:
    """A change of the third row's field at ``key``."""
    def change(lines: list[str]) -> list[str]:
        lines[2] = json.dumps(set_path(json.loads(lines[2]), key, value)) + "\n"
        return lines
    return rewrite_rows(change)


def meta_field(key: tuple[Any, ...], value: Any) -> Callable[[Path], None]:
    """Damage that sets (or removes) the metadata's field at ``key``."""
    return lambda table: edit_json(table / METADATA, lambda meta: set_path(meta, key, value))


def replace_with_folder(name: str) -> Callable[[Path], None]:
    """Damage that puts an empty folder where the table's file ``name`` was."""
    def apply(table: Path) -> None:
        (table / name).unlink()
        (table / name).mkdir()
    return apply


MALFORMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "no metadata": (lambda t: (t / METADATA).unlink(), "not a table folder"),
    "metadata a folder": (replace_with_folder(METADATA), "not a table folder"),
    "rows a folder": (replace_with_folder(ROWS), "rows.jsonl: not a file"),
    "rows a named pipe": (lambda t: ((t / ROWS).unlink(), os.mkfifo(t / ROWS)), "rows.jsonl: not a file"),
    "metadata not UTF-8": (lambda t: (t / METADATA).write_bytes(b"{\xff}"), "not UTF-8 text"),
    "rows not UTF-8": (lambda t: (t / ROWS).write_bytes(b'{"a": "\xff"}\n'), "not UTF-8 text"),
    "metadata a list": (lambda t: (t / METADATA).write_text("[]"), "not a nasbench-txf table"),
    "metrics a dict": (meta_field(("metrics",), {"name": "score"}), "malformed table metadata"),
    "metrics empty": (meta_field(("metrics",), []), "names no metric"),
    "metric twice": (meta_field(("metrics", 1, "name"), "score"), "names a metric twice"),
    "maximize a string": (meta_field(("metrics", 0, "maximize"), "no"), "are true or false"),
    "unknown metric field": (meta_field(("metrics", 0, "colour"), "red"), "malformed table metadata"),
    "space a string": (meta_field(("space",), "toy-grid"), "malformed table metadata"),
    "space options a list": (meta_field(("space", "options"), []), '"space" is {"name": NAME'),
    "no task": (meta_field(("task",), REMOVE), "no field 'task'"),
    "format version a string": (meta_field(("format_version",), "1"), "format version '1' is newer"),
    "row a list": (rewrite_rows(lambda lines: [*lines[:2], "[1, 2]\n", *lines[2:]]), "line 3: not a table row"),
    "row truncated in the middle": (rewrite_rows(lambda lines: [*lines[:2], lines[2][:40] + "\n", *lines[3:]]),
                                    "line 3 is not valid JSON"),
    "row a number": (rewrite_rows(lambda lines: ["7\n", *lines]), "a row is a JSON object, got int"),
    "card a list": (row_field(("card",), [1, 2]), '"card" is a dict, got list'),
    "seed a string": (row_field(("seed",), "zero"), "the seed is a whole number, got 'zero'"),
    "seed negative": (row_field(("seed",), -1), "the seed is not negative"),
    "seed infinite": (rewrite_rows(lambda lines: [lines[0].replace('"seed": 0', '"seed": Infinity'), *lines[1:]]),
                      "the seed is a whole number, got inf"),
    "status unknown": (row_field(("status",), "maybe"), '"status" is one of ok, failed'),
    "metric a string": (row_field(("metrics", "score"), "high"), "metric 'score' is a number, got str"),
    "metric huge": (rewrite_rows(lambda lines: [lines[0].replace('"size": 10.0', '"size": ' + "9" * 400), *lines[1:]]),
                    "metric 'size' is too large"),
    "metric not a number": (row_field(("metrics", "score"), float("nan")), "metric 'score' is nan, not a finite"),
    "metric near float64's limit": (row_field(("metrics", "score"), 1e300), "not a finite number of at most 1e+100"),
    "info a list": (row_field(("info",), []), '"info" is a dict, got list'),
    "chance loss a string": (row_field(("info", "chance_loss"), "0.69"), "info.chance_loss is a number"),
    "splits a list": (row_field(("info", "splits"), [1]), '"info.splits" is {split: {metric: value}}'),
    "split value a string": (row_field(("info", "splits"), {"dev": {"score": "x"}}), "info.splits.'dev'.'score'"),
    "reason a number": (row_field(("reason",), 3), '"reason" is a string or null'),
    "no cost": (row_field(("cost_seconds",), REMOVE), "no field 'cost_seconds'"),
}
#: JSON the parser reads but Python cannot convert (an integer longer than int()'s digit limit)
UNCONVERTIBLE: dict[str, tuple[Callable[[Path], None], str]] = {
    "a number of 5000 digits": (lambda t: (t / METADATA).write_text('{"format": ' + "1" * 5000 + "}"), "metadata"),
}


@pytest.mark.parametrize("case", [*MALFORMED, *UNCONVERTIBLE])
def test_a_malformed_table_folder_is_one_line(table: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    damage, message = {**MALFORMED, **UNCONVERTIBLE}[case]
    damage(table)
    with untouched(table.parent):
        assert message in refusal(capsys, "bench", "info", str(table))


SURROGATE_DAMAGE: dict[str, tuple[Callable[[Any], Any], str]] = {
    "a list": (lambda meta: [], "not a nasbench-txf surrogate"),
    "no validation": (lambda meta: set_path(meta, ("validation",), REMOVE),
                      "damaged surrogate description (no field 'validation')"),
    "validation a list": (lambda meta: set_path(meta, ("validation",), [1]), "damaged surrogate description"),
    "tau a string": (lambda meta: set_path(meta, ("validation", "kendall_tau"), "high"), "damaged surrogate"),
    "noise a list": (lambda meta: set_path(meta, ("noise",), [1]), "damaged surrogate description"),
    "metric name a path": (lambda meta: set_path(meta, ("table", "metrics", 1, "name"), "../x"),
                           "metric name '../x' is not a plain name"),
    "newer": (lambda meta: set_path(meta, ("format_version",), 99), "surrogate format version 99 is newer"),
}


@pytest.mark.parametrize("case", list(SURROGATE_DAMAGE))
def test_a_malformed_surrogate_description_is_one_line(with_surrogate: Path, case: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    change, message = SURROGATE_DAMAGE[case]
    edit_json(with_surrogate / "surrogate" / META_FILE, change)
    with untouched(with_surrogate.parent):
        assert message in refusal(capsys, "bench", "info", str(with_surrogate))


# ------------------------------------------------ properties: only UserError


def only_user_errors(*calls: Callable[[], Any]) -> None:
    """Run ``calls`` in turn until one refuses with a UserError; any other error fails the test."""
    try:
        for call in calls:
            call()
    except UserError:
        pass


def use_table(folder: Path) -> Callable[[], None]:
    """Everything ``bench info`` and the tabular benchmark do with a table folder."""
    def use() -> None:
        table = find_table(str(folder))
        describe(table)
        bench = Tabular(TOY, options=Tabular.make_options({"table": str(folder)}))
        archs = bench.reference_archs()[:3]
        bench.expected(archs)
        for arch in archs:
            bench.evaluate(arch, seed=5)
        bench.best_known()
    return use


META_KEYS = [("format",), ("format_version",), ("space",), ("space", "name"), ("space", "options"), ("task",),
             ("source",), ("metrics",), ("metrics", 0), ("metrics", 0, "name"), ("metrics", 0, "maximize"),
             ("metrics", 1, "unit"), ("metrics", 1, "timed"), ("package_version",), ("created",)]


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(META_KEYS), JSON | st.just(REMOVE)), min_size=1, max_size=3))
def test_malformed_metadata_is_only_ever_a_user_error(toy_table: Path, tmp_path_factory: pytest.TempPathFactory,
                                                       changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    folder = tmp_path_factory.mktemp("meta")
    shutil.copy(toy_table / ROWS, folder / ROWS)
    (folder / METADATA).write_text(json.dumps(changed(json.loads((toy_table / METADATA).read_text()), changes)))
    only_user_errors(use_table(folder))


ROW_KEYS = [("arch_id",), ("card",), ("card", "n"), ("card", "ops"), ("seed",), ("status",), ("reason",),
            ("metrics",), ("metrics", "score"), ("cost_seconds",), ("info",), ("info", "chance_loss"),
            ("info", "splits"), ("info", "device"), ("info", "precision"), ("info", "timed_on")]


@FUZZ
@given(row=st.integers(0, 5), key=st.sampled_from(ROW_KEYS), value=JSON | st.just(REMOVE),
       line=st.none() | st.text(max_size=30) | st.integers(1, 200))
def test_malformed_rows_are_only_ever_a_user_error(toy_table: Path, tmp_path_factory: pytest.TempPathFactory,
                                                   row: int, key: tuple[Any, ...], value: Any,
                                                   line: str | int | None) -> None:
    """One row's field changed, and where ``line`` is given, one more line: text, or a row cut
    after that many characters."""
    folder = tmp_path_factory.mktemp("rows")
    shutil.copy(toy_table / METADATA, folder / METADATA)
    lines = (toy_table / ROWS).read_text().splitlines()
    data = json.loads(lines[row])
    if key[0] == "info" and len(key) > 1 and value is not REMOVE and key[1] != "splits":
        data["info"] = {"device": "cpu", "splits": {"dev": {"score": 1.0}}}
    lines[row] = json.dumps(changed(data, [(key, value)]))
    if line is not None:
        lines.insert(row + 1, line.replace("\n", " ") if isinstance(line, str) else lines[row + 1][:line])
    (folder / ROWS).write_text("\n".join(lines) + "\n")
    only_user_errors(use_table(folder))


CARD_TEXT = st.text(alphabet="{}[],: ln0124abopsSDP\"'x", max_size=40)
CELL = JSON | CARD_TEXT


@FUZZ
@given(records=st.lists(st.fixed_dictionaries({"card": CELL | st.fixed_dictionaries({"n": CELL, "ops": CELL}),
                                               "seed": CELL, "score": CELL, "status": st.none() | CELL,
                                               "cost_seconds": CELL}), min_size=1, max_size=4),
       as_csv=st.booleans(), raw=st.none() | st.text(max_size=60))
def test_malformed_imports_are_only_ever_a_user_error(tmp_path_factory: pytest.TempPathFactory,
                                                      records: list[dict[str, Any]], as_csv: bool,
                                                      raw: str | None) -> None:
    folder = tmp_path_factory.mktemp("import")
    path = folder / ("rows.csv" if as_csv else "rows.jsonl")
    if raw is not None:
        path.write_text(raw)
    elif as_csv:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows({k: v if isinstance(v, str) else json.dumps(v) for k, v in r.items()} for r in records)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    only_user_errors(lambda: import_table(path, TOY, SCORE, "t", folder / "out"), lambda: use_table(folder / "out")())


SURROGATE_KEYS = [("models",), ("models", "cost_seconds"), ("models", "cost_seconds", "file"),
                  ("models", "cost_seconds", "sha256"), ("models", "cost_seconds", "offset"), ("models", "score"),
                  ("models", "score", "coef"), ("models", "score", "kind"), ("models", "score", "intercept"),
                  ("noise",), ("noise", "score"), ("noise", "score", "model"), ("noise", "score", "std"),
                  ("objective",), ("failures",), ("failures", "rate"), ("counted",), ("table",),
                  ("table", "metrics"), ("validation",), ("validation", "kendall_tau"), ("noise_std",),
                  ("format_version",), ("configs",), ("score_std_across_archs",)]


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(SURROGATE_KEYS), JSON | st.just(REMOVE)), min_size=1, max_size=2))
def test_malformed_surrogates_are_only_ever_a_user_error(fitted: Surrogate, tmp_path_factory: pytest.TempPathFactory,
                                                         changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    folder = tmp_path_factory.mktemp("surrogate")
    fitted.save(folder)
    edit_json(folder / META_FILE, lambda meta: changed(meta, changes))
    archs = list(TOY.enumerate())[:3]

    def use() -> None:
        surrogate_summary(folder)
        loaded = Surrogate.load(folder, TOY)
        loaded.predict(archs)
        for arch in archs:
            loaded.noise(arch, 3)
            loaded.fails(arch, 3)
            np.asarray(loaded.noise_std(archs))

    only_user_errors(use)
