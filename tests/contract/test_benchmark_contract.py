"""Every registered benchmark, on the first registered space it supports."""

from __future__ import annotations

import math

import pytest
from nbt_testing import loadable, sample_archs, space

from nasbench_txf.registry import get_benchmark

BENCHMARKS = loadable("benchmarks")


@pytest.mark.parametrize("name", BENCHMARKS)
def test_evaluates_deterministically_per_seed(name: str) -> None:
    cls = get_benchmark(name)
    spaces = [space(s) for s in loadable("spaces") if cls.unsupported(space(s)) is None]
    assert spaces, f"benchmark {name} supports no registered space"
    bench = cls(spaces[0], options=cls.make_options())
    assert bench.metrics and len({m.name for m in bench.metrics}) == len(bench.metrics)
    for arch in sample_archs(bench.search_space(), 3):
        result = bench.evaluate(arch, seed=5)
        assert result.ok and result.cost_seconds >= 0
        assert math.isfinite(result.metrics[bench.objective.name])
        assert result == bench.evaluate(arch, seed=5)
