"""The Syne Tune blackbox class; imported only where Syne Tune is installed (it subclasses
:class:`syne_tune.blackbox_repository.Blackbox`, so it cannot be defined without it)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Number
from typing import Any

import numpy as np
from syne_tune.blackbox_repository.blackbox import Blackbox
from syne_tune.config_space import choice, randint

from nasbench_txf.core.arch import Arch
from nasbench_txf.interop.problem import BenchmarkProblem

#: the result key holding an evaluation's cost: Syne Tune's simulator advances its clock by it
ELAPSED_TIME_ATTR = "cost_seconds"
#: the blackbox's one fidelity: the whole evaluation (a benchmark answers for a trained card,
#: not per epoch); Syne Tune's blackbox backend needs exactly one fidelity to exist
FIDELITY = "evaluation"
#: the prefix of a metric reported negated, so that every optimised metric has one direction
NEGATED = "neg_"


class NASBenchBlackbox(Blackbox):
    """A benchmark of this suite as a Syne Tune blackbox, for ``UserBlackboxBackend``.

    ``configuration_space``: one ``choice`` per decision of the search space. The result
    holds every metric of the benchmark, ``cost_seconds`` (:attr:`elapsed_time_attr`) and
    ``neg_<name>`` for an optimised metric whose direction is not the objective's;
    :attr:`metrics` and :attr:`do_minimize` are what a scheduler is given. A failed
    evaluation reports NaN for every metric and its cost as the time.
    """

    elapsed_time_attr = ELAPSED_TIME_ATTR

    def __init__(self, problem: BenchmarkProblem) -> None:
        self.problem = problem
        objective = problem.metrics[0]
        #: minimise (``True``) or maximise the optimised metrics: the objective's direction
        self.do_minimize = not objective.maximize
        #: the optimised metrics as reported: the objective, then each ``against`` metric (negated
        #: where its direction is the other one)
        self.metrics = [m.name if m.maximize == objective.maximize else NEGATED + m.name for m in problem.metrics]
        self._negated = [name[len(NEGATED):] for name in self.metrics if name.startswith(NEGATED)]
        names = [m.name for m in problem.benchmark.metrics]
        super().__init__(
            configuration_space={p.name: choice(list(p.values)) for p in problem.parameters},
            fidelity_space={FIDELITY: randint(1, 1)},
            objectives_names=[*names, *(NEGATED + name for name in self._negated), ELAPSED_TIME_ATTR],
        )

    @property
    def fidelity_values(self) -> np.ndarray:
        return np.array([1])

    @property
    def mode(self) -> str:
        """``"min"`` or ``"max"``, as :attr:`do_minimize` (for schedulers that take a mode)."""
        return "min" if self.do_minimize else "max"

    def arch(self, config: Mapping[str, Any]) -> Arch:
        """The arch of a configuration, e.g. of the best one in ``tuner``'s results."""
        return self.problem.arch({k: v for k, v in config.items() if k in self.configuration_space})

    def _objective_function(self, configuration: dict[str, Any], fidelity: dict | Number | None = None,
                            seed: int | None = None) -> dict[str, float] | np.ndarray:
        """The result of ``configuration`` at ``seed`` (default: the blackbox's own seed), as a
        dict when a fidelity is given, else as Syne Tune's array of one row per fidelity."""
        _, result = self.problem.evaluate(configuration, seed)
        ok = self.problem.values(result) is not None
        row = {name: float(result.metrics[name]) if ok and name in result.metrics else math.nan
               for name in self.objectives_names[:-1 - len(self._negated)]}
        for name in self._negated:
            row[NEGATED + name] = -row[name]
        row[ELAPSED_TIME_ATTR] = max(0.0, float(result.cost_seconds))
        if fidelity is not None:
            return row
        return np.array([[row[name] for name in self.objectives_names]])
