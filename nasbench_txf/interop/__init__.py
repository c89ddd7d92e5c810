"""The suite's benchmarks for users of other optimisation libraries.

- :func:`optuna_objective`: an Optuna objective ``objective(trial)`` with its ``directions``;
- :func:`optunahub_problem`: the same as an ``optunahub.benchmarks.BaseProblem``;
- :func:`syne_tune_blackbox`: a Syne Tune blackbox for ``UserBlackboxBackend`` (simulated clock).

Each takes a space name, a benchmark (a name, default the built-in ``surrogate``, or an open
:class:`~nasbench_txf.core.benchmark.Benchmark`), an evaluation ``seed`` used for every
evaluation, and ``against`` cost metrics for multi-objective search. Bad input raises a
:class:`~nasbench_txf.core.errors.UserError` subclass with one line saying what is wrong.
The libraries are optional: this package imports without them, and a function whose library
is missing raises :class:`~nasbench_txf.core.errors.MissingDependencyError` with the install command.
"""

from __future__ import annotations

from nasbench_txf.interop.for_optuna import OptunaObjective, optuna_objective, optunahub_problem
from nasbench_txf.interop.for_syne_tune import syne_tune_blackbox
from nasbench_txf.interop.problem import DEFAULT_BENCHMARK, BenchmarkProblem

__all__ = [
    "DEFAULT_BENCHMARK",
    "BenchmarkProblem",
    "OptunaObjective",
    "optuna_objective",
    "optunahub_problem",
    "syne_tune_blackbox",
]
