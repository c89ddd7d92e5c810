"""The optunahub problem class; imported only where optunahub is installed (it subclasses
:class:`optunahub.benchmarks.BaseProblem`, so it cannot be defined without it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from optunahub.benchmarks import BaseProblem

from nasbench_txf.core.arch import Arch
from nasbench_txf.interop.for_optuna import OptunaObjective
from nasbench_txf.interop.problem import BenchmarkProblem


class NASBenchProblem(BaseProblem):
    """A benchmark of this suite as an optunahub problem.

    Calling it with a trial (``study.optimize(problem)``) suggests every decision and records
    the trial's user attributes as :class:`~nasbench_txf.interop.for_optuna.OptunaObjective`
    does; :meth:`evaluate` answers a parameter dict alone.
    """

    def __init__(self, problem: BenchmarkProblem) -> None:
        self.problem = problem
        self.objective = OptunaObjective(problem)

    @property
    def search_space(self) -> dict[str, optuna.distributions.BaseDistribution]:
        return dict(self.objective.search_space)

    @property
    def directions(self) -> list[optuna.study.StudyDirection]:
        return [optuna.study.StudyDirection.MAXIMIZE if m.maximize else optuna.study.StudyDirection.MINIMIZE
                for m in self.problem.metrics]

    @property
    def metric_names(self) -> list[str]:
        """The returned metrics, in order: the objective, then the ``against`` metrics."""
        return self.objective.metric_names

    def arch(self, params: Mapping[str, Any]) -> Arch:
        """The arch of a trial's parameters, e.g. ``problem.arch(study.best_params).card``."""
        return self.problem.arch(params)

    def evaluate(self, params: dict[str, Any]) -> float | tuple[float, ...]:
        """The metric value(s) of the arch ``params`` stand for; NaN where the evaluation failed."""
        _, result = self.problem.evaluate(params)
        values = self.problem.values(result)
        if values is None:
            values = (float("nan"),) * len(self.problem.metrics)
        return values[0] if len(values) == 1 else values

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        return self.objective(trial)
