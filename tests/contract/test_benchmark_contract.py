"""Every registered benchmark, on the first registered space it supports."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from nbt_testing import BENCHMARK_OPTIONS, TABLE_BENCHMARKS, loadable, sample_archs, space

from nasbench_txf.registry import get_benchmark

BENCHMARKS = loadable("benchmarks")


@pytest.mark.parametrize("name", BENCHMARKS)
def test_evaluates_deterministically_per_seed(name: str, toy_table: Path) -> None:
    cls = get_benchmark(name)
    if name in TABLE_BENCHMARKS:
        spaces, options = [space("toy-grid")], {"table": str(toy_table)}
    else:
        spaces = [space(s) for s in loadable("spaces") if cls.unsupported(space(s)) is None]
        options = BENCHMARK_OPTIONS.get(name, {})
    assert spaces, f"benchmark {name} supports no registered space"
    bench = cls(spaces[0], options=cls.make_options(options))
    assert bench.metrics and len({m.name for m in bench.metrics}) == len(bench.metrics)
    steady = [m.name for m in bench.metrics if not m.timed]
    # what it answers from the card alone (counted, or timed again by bench retime) it also reports
    counted = cls.card_metrics(bench.space, bench.task, options)
    timed = cls.timed_metrics(bench.space, bench.task, options)
    assert set(counted) <= set(steady) and set(timed) <= {m.name for m in bench.metrics if m.timed}
    # benchmarks that train (measures_time) are checked on one arch: each evaluation is a training run
    for arch in sample_archs(bench.search_space(), 1 if cls.measures_time else 3):
        first, again = bench.evaluate(arch, seed=5), bench.evaluate(arch, seed=5)
        assert first.ok and first.cost_seconds >= 0, first.reason
        assert math.isfinite(first.metrics[bench.objective.name])
        assert set(first.metrics) == {m.name for m in bench.metrics}
        assert {k: first.metrics[k] for k in steady} == {k: again.metrics[k] for k in steady}
        assert all(math.isfinite(f(arch)) for f in (*counted.values(), *timed.values()))
        if not cls.measures_time:
            assert first == again
