"""A benchmark of this suite as a Syne Tune blackbox, run on Syne Tune's simulated clock.

Syne Tune's way to run a benchmark whose evaluations are looked up or predicted rather than
trained is a blackbox (``configuration_space``, ``objective_function(configuration,
fidelity, seed)``, ``objectives_names``) driven by ``UserBlackboxBackend``: the simulator
advances its clock by each evaluation's reported time instead of waiting, so a run of any
scheduler over hours of simulated training takes seconds. :func:`syne_tune_blackbox` gives
that blackbox; ``cost_seconds`` (what the table's training took, or the surrogate predicts
it takes) is the elapsed time. Parameters, seed and metrics are those of
:mod:`nasbench_txf.interop.problem`; a seed given to ``UserBlackboxBackend(seed=...)``
replaces the blackbox's own.

Syne Tune writes each tuning's results under ``$SYNETUNE_FOLDER`` (default
``~/syne-tune``). It is an optional dependency (``nasbench-txf[syne-tune]``); this module
imports without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.optional import require
from nasbench_txf.interop.problem import open_problem

if TYPE_CHECKING:
    from nasbench_txf.interop._syne_tune_blackbox import NASBenchBlackbox

__all__ = ["syne_tune_blackbox"]


def syne_tune_blackbox(space: str = "flexibert", benchmark: str | Benchmark | None = None, *,
                       task: str | None = None, space_options: Mapping[str, Any] | None = None,
                       benchmark_options: Mapping[str, Any] | None = None, seed: int = 0,
                       against: str | Sequence[str] = ()) -> NASBenchBlackbox:
    """A Syne Tune blackbox over ``space`` evaluated by ``benchmark``.

    Arguments as :func:`~nasbench_txf.interop.for_optuna.optuna_objective`'s: a benchmark name
    (default ``surrogate``) or an open benchmark, evaluation seed ``seed`` for every
    evaluation, ``against`` cost metrics for a multi-objective scheduler. Give a scheduler
    ``blackbox.configuration_space``, ``metrics=blackbox.metrics`` and
    ``do_minimize=blackbox.do_minimize``, and ``UserBlackboxBackend`` the blackbox and
    ``elapsed_time_attr=blackbox.elapsed_time_attr``.

    Raises :class:`~nasbench_txf.core.errors.UserError` subclasses with one line for an
    unknown name, an option of the wrong type or value, or Syne Tune missing.
    """
    require("syne_tune.blackbox_repository", extra="syne-tune", needed_by="syne_tune_blackbox", package="syne-tune")
    from nasbench_txf.interop._syne_tune_blackbox import NASBenchBlackbox

    return NASBenchBlackbox(open_problem(space, benchmark, task=task, space_options=space_options,
                                         benchmark_options=benchmark_options, seed=seed, against=against))
