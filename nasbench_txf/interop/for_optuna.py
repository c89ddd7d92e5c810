"""A benchmark of this suite as an Optuna objective, or as an optunahub benchmark problem.

Optuna users bring their own sampler, study and storage; what they need from a benchmark is
an objective ``objective(trial)`` and the study's directions. :func:`optuna_objective` gives
both; :func:`optunahub_problem` gives the same as an :class:`optunahub.benchmarks.BaseProblem`,
the form optunahub's benchmark packages take (``search_space``, ``directions``,
``evaluate(params)``). Parameters, seed and metrics are those of
:mod:`nasbench_txf.interop.problem`.

A failed evaluation (the surrogate fails at the rate the table's trainings failed) returns
NaN, which Optuna records as a failed trial and leaves out of its samplers' models; the
reason is the trial's user attribute ``failure_reason``.

Optuna is an optional dependency (``nasbench-txf[optuna]``; optunahub:
``nasbench-txf[optunahub]``); this module imports without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.optional import require
from nasbench_txf.interop.problem import BenchmarkProblem, open_problem

if TYPE_CHECKING:
    import optuna

    from nasbench_txf.interop._optunahub_problem import NASBenchProblem

__all__ = ["OptunaObjective", "optuna_objective", "optunahub_problem"]


def _optuna(needed_by: str) -> Any:
    return require("optuna", extra="optuna", needed_by=needed_by)


def _direction(maximize: bool) -> str:
    return "maximize" if maximize else "minimize"


class OptunaObjective:
    """``objective(trial)``: one arch of the benchmark's space per trial, its metric value(s).

    Each decision of the space is suggested with ``trial.suggest_categorical`` under its
    name; the trial's user attributes record the evaluated ``card``, ``arch_id``, every
    metric of the result (``metrics``) and its ``cost_seconds`` (what the training took or is
    predicted to take). Returns the objective's value, or a tuple (objective, then the
    ``against`` metrics) when multi-objective; NaN when the evaluation failed.
    """

    def __init__(self, problem: BenchmarkProblem) -> None:
        self.problem = problem

    @property
    def benchmark(self) -> Benchmark:
        return self.problem.benchmark

    @property
    def metric_names(self) -> list[str]:
        """The returned metrics, in order: the objective, then the ``against`` metrics."""
        return [m.name for m in self.problem.metrics]

    @property
    def directions(self) -> list[str]:
        """``"maximize"``/``"minimize"`` per returned metric, for ``optuna.create_study(directions=...)``."""
        return [_direction(m.maximize) for m in self.problem.metrics]

    @property
    def search_space(self) -> dict[str, optuna.distributions.CategoricalDistribution]:
        """Decision name → Optuna distribution (for ``enqueue_trial``, ``GridSampler``, ...)."""
        optuna_ = _optuna("OptunaObjective.search_space")
        return {p.name: optuna_.distributions.CategoricalDistribution(p.values) for p in self.problem.parameters}

    def arch(self, params: Mapping[str, Any]) -> Arch:
        """The arch of a trial's parameters, e.g. ``objective.arch(study.best_params).card``."""
        return self.problem.arch(params)

    def __call__(self, trial: optuna.trial.BaseTrial) -> float | tuple[float, ...]:
        params = {p.name: trial.suggest_categorical(p.name, p.values) for p in self.problem.parameters}
        arch, result = self.problem.evaluate(params)
        trial.set_user_attr("card", arch.card)
        trial.set_user_attr("arch_id", arch.id)
        trial.set_user_attr("cost_seconds", float(result.cost_seconds))
        trial.set_user_attr("metrics", {name: float(value) for name, value in result.metrics.items()})
        values = self.problem.values(result)
        if values is None:
            trial.set_user_attr("failure_reason", result.reason or "a metric is missing or not finite")
            values = (math.nan,) * len(self.problem.metrics)
        return values[0] if len(values) == 1 else values


def optuna_objective(space: str = "flexibert", benchmark: str | Benchmark | None = None, *,
                     task: str | None = None, space_options: Mapping[str, Any] | None = None,
                     benchmark_options: Mapping[str, Any] | None = None, seed: int = 0,
                     against: str | Sequence[str] = ()) -> OptunaObjective:
    """An Optuna objective over ``space`` evaluated by ``benchmark``.

    ``benchmark`` is a benchmark name (default: ``surrogate``, the built-in surrogate on the
    space's shipped table) opened with ``task`` and the options, or an already open
    :class:`~nasbench_txf.core.benchmark.Benchmark`. Every evaluation uses evaluation seed
    ``seed``: the same parameters always give the same values. ``against`` names cost metrics
    (``params``, ``flops``, ``macs``, ``latency_ms``, ...) to make it multi-objective.
    Use ``optuna.create_study(directions=objective.directions)``.

    Raises :class:`~nasbench_txf.core.errors.UserError` subclasses with one line for an
    unknown name, an option of the wrong type or value, or Optuna missing.
    """
    _optuna("optuna_objective")
    return OptunaObjective(open_problem(space, benchmark, task=task, space_options=space_options,
                                        benchmark_options=benchmark_options, seed=seed, against=against))


def optunahub_problem(space: str = "flexibert", benchmark: str | Benchmark | None = None, *,
                      task: str | None = None, space_options: Mapping[str, Any] | None = None,
                      benchmark_options: Mapping[str, Any] | None = None, seed: int = 0,
                      against: str | Sequence[str] = ()) -> NASBenchProblem:
    """The benchmark as an :class:`optunahub.benchmarks.BaseProblem` (arguments as
    :func:`optuna_objective`'s): ``search_space``, ``directions`` (``StudyDirection``),
    ``evaluate(params)``; the problem itself is the objective,
    ``study.optimize(problem, n_trials=...)``.

    Needs optunahub (``pip install 'nasbench-txf[optunahub]'``); without it this raises
    :class:`~nasbench_txf.core.errors.MissingDependencyError`.
    """
    _optuna("optunahub_problem")
    require("optunahub.benchmarks", extra="optunahub", needed_by="optunahub_problem")
    from nasbench_txf.interop._optunahub_problem import NASBenchProblem

    return NASBenchProblem(open_problem(space, benchmark, task=task, space_options=space_options,
                                        benchmark_options=benchmark_options, seed=seed, against=against))
