"""Helpers shared by the tests: small, compatible settings for plugins under test."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nasbench_txf.arch import Arch
from nasbench_txf.registry import get_space, registry
from nasbench_txf.space import Space

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
    from nasbench_txf.bench_build import BuildRequest, build

    request = BuildRequest("toy-grid", {}, "toy-quadratic", None, {"noise": "0.3"}, n=80, seeds=3, repeated=30)
    build(request, folder, progress=False)
    return folder


def space(name: str) -> Space:
    cls = get_space(name)
    return cls(cls.make_options())


def sample_archs(space: Space, n: int, seed: int = 0) -> list[Arch]:
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def loadable(kind: str) -> list[str]:
    return [info.name for info in registry(kind).infos() if info.cls is not None]  # type: ignore[arg-type]
