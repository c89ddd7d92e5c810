"""The contract of a benchmark: what every registered benchmark must pass on a space it supports."""

from __future__ import annotations

import math
from typing import Any

from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.plugin import Plugin
from nasbench_txf.testing.subject import Subject, as_subject, sample_archs


def _benchmark(plugin: type[Plugin] | Subject, settings: dict[str, Any]) -> tuple[Subject, Benchmark, dict[str, Any]]:
    subject = as_subject(plugin, **settings)
    cls = subject.plugin
    if not issubclass(cls, Benchmark):
        raise TypeError(f"{cls.__name__} is not a Benchmark")
    space = subject.make_space()
    if reason := cls.unsupported(space):
        hint = "pass Subject(..., space=...) with a space it evaluates" if subject.space is None else ""
        message = f"benchmark {subject.name} cannot evaluate space {space.name}: {reason}; {hint}"
        raise AssertionError(message.rstrip("; "))
    given = subject.given_options()
    return subject, cls(space, options=cls.make_options(given)), given


def check_metrics_are_declared(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """``metrics`` is not empty and names each metric once; what the benchmark answers from
    the card alone (``card_metrics``, ``timed_metrics``) are metrics it reports, steady and
    timed respectively, finite for sampled archs (one where the benchmark ``measures_time``)."""
    subject, bench, given = _benchmark(plugin, settings)
    names = [m.name for m in bench.metrics]
    assert names, f"benchmark {subject.name} reports no metrics; metrics[0] is the objective strategies optimise"
    assert len(set(names)) == len(names), f"benchmark {subject.name} names a metric twice: {names}"
    steady = {m.name for m in bench.metrics if not m.timed}
    timed_names = {m.name for m in bench.metrics if m.timed}
    counted = type(bench).card_metrics(bench.space, bench.task, given)
    timed = type(bench).timed_metrics(bench.space, bench.task, given)
    assert set(counted) <= steady, (
        f"benchmark {subject.name}: card_metrics gives {sorted(set(counted) - steady)}, which are not among "
        f"its metrics without timed=True ({sorted(steady)})"
    )
    assert set(timed) <= timed_names, (
        f"benchmark {subject.name}: timed_metrics gives {sorted(set(timed) - timed_names)}, which are not among "
        f"its metrics with timed=True ({sorted(timed_names)})"
    )
    for arch in sample_archs(bench.search_space(), 1 if bench.measures_time else 3):
        for name, metric in {**counted, **timed}.items():
            value = metric(arch)
            assert math.isfinite(value), (
                f"benchmark {subject.name}: the card metric {name} is {value} for {arch.canonical}"
            )


def check_evaluates_deterministically_per_seed(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """``evaluate(arch, seed)`` succeeds on sampled archs of its search space with a finite
    objective, every metric and a cost, and gives the same metrics (all but the timed ones)
    again for the same seed; the whole result is the same unless the benchmark
    ``measures_time`` (then one arch is evaluated: each evaluation is a training run)."""
    subject, bench, _ = _benchmark(plugin, settings)
    names = {m.name for m in bench.metrics}
    steady = [m.name for m in bench.metrics if not m.timed]
    for arch in sample_archs(bench.search_space(), 1 if bench.measures_time else 3):
        first, again = bench.evaluate(arch, seed=5), bench.evaluate(arch, seed=5)
        where = f"benchmark {subject.name}, {arch.canonical} at seed 5"
        assert first.ok, f"{where}: the evaluation failed: {first.reason}"
        assert first.cost_seconds >= 0, f"{where}: cost_seconds is {first.cost_seconds}"
        objective = first.metrics.get(bench.objective.name)
        assert objective is not None and math.isfinite(objective), f"{where}: the objective is {objective}"
        assert set(first.metrics) == names, (
            f"{where}: the result has metrics {sorted(first.metrics)}, the benchmark declares {sorted(names)}"
        )
        changed = {k: (first.metrics[k], again.metrics.get(k))
                   for k in steady if first.metrics[k] != again.metrics.get(k)}
        assert not changed, (
            f"{where}: evaluating again with the same seed changed {changed}; seed every random draw of "
            "evaluate from (arch, seed), and mark wall-clock metrics Metric(..., timed=True)"
        )
        if not bench.measures_time:
            assert first == again, (
                f"{where}: evaluating again with the same seed gave another result ({first} then {again}); "
                "only a benchmark that measures_time may differ in cost"
            )


CHECKS = (check_metrics_are_declared, check_evaluates_deterministically_per_seed)
