"""Helpers shared by the tests: small, compatible settings for plugins under test."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from nasbench_txf.core.plugin import Plugin
from nasbench_txf.core.registry import Kind, get_benchmark, get_space, registry
from nasbench_txf.core.space import Space
from nasbench_txf.testing import Subject, sample_archs

__all__ = ["sample_archs"]  # the test kit's, used by many tests from here

TESTS = Path(__file__).resolve().parent
#: GLUE TSVs: $NASBENCH_TXF_GLUE, or the project's shared/ folder beside the checkout
GLUE = Path(os.environ.get("NASBENCH_TXF_GLUE", TESTS.parents[1] / "shared" / "data" / "glue"))
TOY = ["--space", "toy-grid", "--benchmark", "toy-quadratic"]

#: the contract tests of strategies run on this space and benchmark (tests/plugins)
STRATEGY_SPACE = "toy-grid"
STRATEGY_BENCHMARK = "toy-quadratic"


#: a few seconds of live training: a small, real version of the built-in recipe
LIVE_SMALL = {"data_dir": str(GLUE), "train_size": "256", "holdout_size": "64", "epochs": "1",
              "max_len": "32", "batch_size": "32", "lr": "3e-4", "vocab_size": "1000", "threads": "1"}

#: options a benchmark needs in the contract tests (data it cannot find by itself)
BENCHMARK_OPTIONS = {"live": LIVE_SMALL}
#: small fits for the contract tests (the full-size fits are measured in benchmarks/)
ENCODING_OPTIONS = {
    "t2v": {"fit_archs": "60", "pairs": "1000", "held_out": "200", "epochs": "100", "anchors": "8"},
    "path": {"fit_archs": "300"},
    "wl": {"fit_archs": "300"},
}
#: benchmarks answering from a table run in the contract tests on a toy table (conftest.py)
TABLE_BENCHMARKS = ("tabular", "surrogate")


def build_toy_table(folder: Path) -> Path:
    """A table of 80 toy-grid archs measured by toy-quadratic with noise, 30 of them at 3 seeds."""
    from nasbench_txf.tables.build import BuildRequest, build

    request = BuildRequest("toy-grid", {}, "toy-quadratic", None, {"noise": "0.3"}, n=80, seeds=3, repeated=30)
    build(request, folder, progress=False)
    return folder


def space(name: str) -> Space:
    cls = get_space(name)
    return cls(cls.make_options())


def loadable(kind: str) -> list[str]:
    return [info.name for info in registry(kind).infos() if info.cls is not None]  # type: ignore[arg-type]


@functools.cache
def shared_toy_table() -> Path:
    """The toy table (:func:`build_toy_table`), built once per test process when first asked for."""
    folder = Path(tempfile.mkdtemp(prefix="nbt-toy-table-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return build_toy_table(folder / "toy")


def contract_plugins(kind: Kind) -> list[type[Plugin] | Subject]:
    """Every registered plugin of ``kind`` that loads, with the settings its contract checks need:
    spaces with their test options (SPACE_OPTIONS); encodings on every registered space, with
    small fits; table benchmarks on the toy table; benchmarks of a space that needs options on
    that space (BENCHMARK_SPACES); other benchmarks on the first registered space they
    evaluate, with their test options."""
    classes = {name: registry(kind).get(name) for name in loadable(kind)}
    if kind == "spaces":
        return [Subject(cls, options=SPACE_OPTIONS[name]) if name in SPACE_OPTIONS else cls
                for name, cls in classes.items()]
    if kind == "encodings":
        return [Subject(cls, options=ENCODING_OPTIONS.get(name, {}), space=configured_space(s))
                for name, cls in classes.items() for s in loadable("spaces")]
    if kind == "strategies":
        return [Subject(cls, options=ONE_SHOT[name], space=configured_space("composition"),
                        benchmark=get_benchmark("supernet"), id=name) if name in ONE_SHOT else cls
                for name, cls in classes.items()]
    if kind != "benchmarks":
        return list(classes.values())
    plugins: list[type[Plugin] | Subject] = []
    for name, cls in classes.items():
        if name in TABLE_BENCHMARKS:
            plugins.append(Subject(cls, options=_toy_table_options, space=get_space("toy-grid"), id=name))
            continue
        if name in BENCHMARK_SPACES:
            plugins.append(Subject(cls, options=BENCHMARK_OPTIONS.get(name, {}),
                                   space=configured_space(BENCHMARK_SPACES[name]), id=name))
            continue
        supported = [s for s in loadable("spaces")  # spaces that need options are made only when a check runs
                     if s not in SPACE_OPTIONS and cls.unsupported(space(s)) is None]  # type: ignore[attr-defined]
        first = get_space(supported[0]) if supported else None  # none: the check says so
        plugins.append(Subject(cls, options=BENCHMARK_OPTIONS.get(name, {}), space=first, id=name))
    return plugins


def _toy_table_options() -> dict[str, Any]:
    return {"table": str(shared_toy_table())}


def configured_space(name: str) -> type[Space]:
    """The registered space ``name``; for one in SPACE_OPTIONS, a subclass whose default options
    are its test options, fetched when the space is first made (not when tests are collected)."""
    cls = get_space(name)
    if name not in SPACE_OPTIONS:
        return cls
    settings = SPACE_OPTIONS[name]

    class Configured(cls):  # type: ignore[valid-type, misc]
        @classmethod
        def make_options(cls_, given: dict[str, Any] | None = None) -> Any:
            return cls.make_options({**settings(), **(given or {})})

    Configured.__name__ = Configured.__qualname__ = cls.__name__
    return Configured


#: the tiny EFTNAS build: a 2-layer BERT (4 heads, FFN 64) on a synthetic SST-2, a few steps per stage
EFTNAS_TINY = {"max_len": "24", "batch_size": "16", "finetune_steps": "60", "finetune_lr": "3e-3",
               "supernet_steps": "40", "supernet_lr": "3e-3", "random_subnets": "1", "seq_len": "16",
               "tolerance": "0.1", "checkpoint_every": "4", "threads": "1", "device": "cpu"}
_GOOD = ("good", "great", "fun", "charming", "moving", "best")
_BAD = ("bad", "dull", "boring", "worst", "flat", "awful")
_NEUTRAL = ("the", "film", "movie", "story", "is", "a", "and", "it", "plot", "acting", "this", "was")


def eftnas_base(folder: Path) -> Path:
    """A random tiny BERT saved as a Hugging Face folder, with a word-level vocab.txt of its own."""
    from nasbench_txf.spaces.eftnas.base import tiny_bert

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *_NEUTRAL, *_GOOD, *_BAD]
    tiny_bert(vocab=len(vocab)).save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return folder


def synthetic_sst2(folder: Path, train: int = 160, dev: int = 80) -> Path:
    """SST-2-format TSVs whose label is told by a sentiment word among neutral ones (and, in a
    quarter of the rows, one word of the other sentiment, so that models can differ)."""
    import numpy as np

    rng = np.random.default_rng(0)
    (folder / "SST-2").mkdir(parents=True)
    for split, rows in (("train", train), ("dev", dev)):
        lines = ["sentence\tlabel"]
        for _ in range(rows):
            label = int(rng.integers(2))
            words = [*rng.choice(_NEUTRAL, int(rng.integers(3, 8))), rng.choice(_GOOD if label else _BAD)]
            if rng.random() < 0.25:
                words.append(rng.choice(_BAD if label else _GOOD))
            lines.append(" ".join(str(w) for w in rng.permutation(words)) + f" .\t{label}")
        (folder / "SST-2" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return folder


def build_tiny_eftnas(folder: Path) -> Path:
    """The tiny EFTNAS build (EFTNAS_TINY) in ``folder/build``, with its base and data beside it."""
    from nasbench_txf.core.options import parse_options
    from nasbench_txf.spaces.eftnas.pipeline import build
    from nasbench_txf.spaces.eftnas.request import BuildOptions

    base, data = eftnas_base(folder / "base"), synthetic_sst2(folder / "glue")
    build(base, "sst2", str(data), folder / "build", parse_options("eftnas build", BuildOptions, EFTNAS_TINY),
          echo=lambda text: None)  # not the generated space on stdout, which a test reading a command's may capture
    return folder / "build"


@functools.cache
def shared_eftnas_build() -> Path:
    """The tiny EFTNAS build (:func:`build_tiny_eftnas`), made once per test process when first asked for."""
    folder = Path(tempfile.mkdtemp(prefix="nbt-eftnas-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return build_tiny_eftnas(folder)


def _eftnas_options() -> dict[str, Any]:
    return {"build": str(shared_eftnas_build())}


def _composition_options() -> dict[str, Any]:
    return {"base": str(shared_eftnas_build())}


#: options a space needs in the contract tests, as functions called when a check runs
SPACE_OPTIONS: dict[str, Any] = {"eftnas": _eftnas_options, "composition": _composition_options}
#: one-shot strategies: the space and benchmark their contract checks run on, and short trainings
ONE_SHOT = {"do": {"steps": "6", "checkpoint_every": "3", "lam": "1", "lr": "1e-3"},
            "sdo": {"steps": "6", "checkpoint_every": "3", "lam": "1", "lr": "1e-3"}}
#: benchmarks that evaluate only a space needing options: the space their contract checks run on
BENCHMARK_SPACES = {"supernet": "eftnas"}
