"""Fuzzing the command line: whatever a user types, the answer is a result or one line.

Each property feeds a command malformed cards, plugin options, budgets, seeds or stores
(Hypothesis draws them; the runs are derandomised so CI sees the same examples) and asserts
the contract of every refusal: exit code 2, exactly one line on stderr, no traceback, and
every file that existed before byte-identical. The commands run in this process through
:func:`nasbench_txf.cli.main`, so a few hundred examples take seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbt_testing import TOY

from nasbench_txf.cli import main
from nasbench_txf.core.registry import get_strategy

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)
FLEXIBERT_FIELDS = ["l", "o", "h", "n", "f", "p"]
BERT_TINY = {"l": 2, "o": ["SA", "SA"], "h": [128, 128], "n": [2, 2], "f": [[512], [512]], "p": ["SDP", "SDP"]}


@dataclasses.dataclass
class Answer:
    code: int
    out: str
    err: str


def cli(*args: str, cwd: Path) -> Answer:
    """``nasbench-txf ARGS`` in this process, in ``cwd``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own refusals
            code = int(exc.code or 0)
    return Answer(code, out.getvalue(), err.getvalue())


def assert_clean(answer: Answer) -> None:
    """A result (exit 0), or a refusal that keeps the contract."""
    assert answer.code in (0, 2), answer
    assert "Traceback" not in answer.err
    if answer.code == 2:
        assert len(answer.err.strip().splitlines()) == 1, answer.err
        assert answer.err.startswith("nasbench-txf"), answer.err


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A fresh folder per example (pytest's ``tmp_path`` is one per test, not per example)."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def mutated_cards() -> st.SearchStrategy[dict[str, object]]:
    """BERT-Tiny with some fields replaced by arbitrary JSON, dropped, or joined by others."""
    return st.fixed_dictionaries({}, optional={name: json_values for name in [*FLEXIBERT_FIELDS, "x"]}).map(
        lambda changes: {**BERT_TINY, **changes})


@FUZZ
@given(card=mutated_cards() | st.dictionaries(st.sampled_from(FLEXIBERT_FIELDS), json_values) | json_values)
def test_any_card_is_shown_or_refused_in_one_line(card: object) -> None:
    with workdir() as folder:
        for space in ("flexibert", "flexibert-2021"):
            assert_clean(cli("space", "show", space, "--card", json.dumps(card), cwd=folder))


@FUZZ
@given(text=st.text(max_size=40) | st.just("{" * 5000) | st.just("[" * 100_000 + "]" * 100_000))
def test_any_card_text_is_shown_or_refused_in_one_line(text: str) -> None:
    with workdir() as folder:
        answer = cli("space", "show", "flexibert", "--card", text, cwd=folder)
        assert_clean(answer)
        assert len(answer.err) < 1000  # a long input is quoted, not echoed whole


def option_names(strategy: str) -> list[str]:
    return [f.name for f in dataclasses.fields(get_strategy(strategy).Options)] or ["x"]


option_values = (st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e400", "true", "", "=", "ü", "1" * 400])
                 | st.integers(-10**30, 10**30).map(str) | st.floats(allow_nan=True).map(str) | st.text(max_size=6))


@FUZZ
@given(data=st.data(), strategy=st.sampled_from(["rs", "es", "reinforce", "nsga2"]))
def test_any_strategy_option_runs_or_is_refused_in_one_line(data: st.DataObject, strategy: str) -> None:
    names = option_names(strategy)
    options = data.draw(st.dictionaries(st.sampled_from(names) | st.text(min_size=1, max_size=5), option_values,
                                        max_size=3))
    args = [arg for key, value in options.items() for arg in ("--strategy-opt", f"{key}={value}")]
    with workdir() as folder:
        answer = cli("run", *TOY, "--strategy", strategy, "--budget", "3", "--store", "s.sqlite", *args, cwd=folder)
        assert_clean(answer)
        if answer.code == 2:
            assert not (folder / "s.sqlite").exists()  # refused before a store was made


def short(budget: str) -> str:
    """A valid query budget cut to 3 (a long run proves nothing here); anything else as drawn."""
    try:
        queries = int(budget)
    except ValueError:
        return budget
    return str(min(queries, 3)) if 1 <= queries <= 10**7 else budget


@FUZZ
@given(budget=st.integers(-5, 10**25).map(str) | option_values,
       seconds=st.none() | st.floats(allow_nan=True).map(str) | option_values,
       seed=st.integers(-10**25, 10**25).map(str) | option_values,
       workers=st.integers(-3, 3).map(str))
def test_any_budget_seed_and_worker_count_runs_or_is_refused(budget: str, seconds: str | None, seed: str,
                                                            workers: str) -> None:
    extra = [] if seconds is None else [f"--budget-seconds={seconds}"]
    with workdir() as folder:
        answer = cli("run", *TOY, "--strategy", "rs", f"--budget={short(budget)}", *extra, f"--seed={seed}",
                     f"--workers={workers}", "--store", "s.sqlite", cwd=folder)
        assert_clean(answer)
        if answer.code == 2:
            assert not (folder / "s.sqlite").exists()  # refused before a store was made


@pytest.fixture(scope="module")
def store_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("store")
    assert cli("run", *TOY, "--strategy", "rs", "--budget", "6", "--seed", "1", "--store", "s.sqlite",
               cwd=folder).code == 0
    return (folder / "s.sqlite").read_bytes()


@FUZZ
@given(data=st.data())
def test_a_damaged_store_is_read_or_refused_and_never_changed_by_a_refusal(store_bytes: bytes,
                                                                          data: st.DataObject) -> None:
    damage = data.draw(st.lists(st.tuples(st.integers(0, len(store_bytes) - 1), st.integers(1, 255)),
                                min_size=1, max_size=20))
    cut = data.draw(st.none() | st.integers(0, len(store_bytes)))
    damaged = bytearray(store_bytes)
    for offset, flip in damage:
        damaged[offset] ^= flip
    damaged = damaged[:cut] if cut is not None else damaged
    with workdir() as folder:
        (folder / "s.sqlite").write_bytes(bytes(damaged))
        before = digest(folder)
        for args in (["leaderboard", "show", "s.sqlite"],
                     ["run", *TOY, "--strategy", "rs", "--budget", "8", "--seed", "1", "--store", "s.sqlite",
                      "--resume"]):
            answer = cli(*args, cwd=folder)
            assert_clean(answer)
            if answer.code == 2:
                assert digest(folder) == before, answer.err
