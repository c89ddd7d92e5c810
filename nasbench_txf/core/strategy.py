"""Search strategies: an ask/tell interface, as in Optuna's samplers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.plugin import Plugin
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.space import Space


@dataclass(frozen=True)
class Requirements:
    """What a strategy needs from the rest of a run; checked before anything runs."""

    #: models performance on encoded archs (so it needs ``--encoding``; others refuse one)
    encoding: bool = False
    #: snaps to, or scores, the whole space (needs an enumerable space)
    enumerable_space: bool = False
    #: trains a weight-sharing super-network (needs a super-network space)
    supernet: bool = False
    #: optimises several objectives at once (needs a benchmark with several metrics)
    multi_objective: bool = False
    #: trains models itself (a one-shot search): it needs a benchmark that lends it a training
    #: context (:class:`~nasbench_txf.core.benchmark.LendsTraining`) and implements
    #: :class:`TrainsModels`
    trains: bool = False
    #: trains the relaxed architecture parameters of a super-network with its weights and scores
    #: its card with those weights (needs a :class:`~nasbench_txf.core.space.RelaxedSupernet` space
    #: and a :class:`~nasbench_txf.core.benchmark.ScoresTrainedWeights` benchmark; implements
    #: :class:`SharesWeights`)
    relaxes: bool = False


class Strategy(Plugin, ABC):
    """Proposes archs (:meth:`ask`) and learns from their results (:meth:`tell`).

    A strategy gets its space, the objective to maximise or minimise (``objective``; a
    multi-objective strategy also reads ``metrics``), an encoding when it declares it needs
    one, and a seed. Everything random must come from :attr:`rng` so that the same seed and
    the same results give the same trials: the runner resumes a killed run by replaying the
    stored results through a fresh strategy.
    """

    requires: ClassVar[Requirements] = Requirements()
    #: the encoding used when a strategy that needs one is run without ``--encoding``
    #: (``None``: the user must choose)
    default_encoding: ClassVar[str | None] = None

    def __init__(
        self,
        space: Space,
        *,
        objective: Metric,
        seed: int,
        metrics: Sequence[Metric] = (),
        encoding: Encoding | None = None,
        options: Any = None,
    ) -> None:
        self.space = space
        self.objective = objective
        self.metrics = tuple(metrics) or (objective,)
        #: what the strategy optimises: the objective, or several metrics (set in ``setup``)
        self.objectives: tuple[Metric, ...] = (objective,)
        self.encoding = encoding
        self.seed = seed
        self.options = options if options is not None else self.make_options()
        self.rng = np.random.default_rng(seed)
        self.setup()

    def setup(self) -> None:
        """Build the strategy's state from its options (called at the end of ``__init__``)."""

    @abstractmethod
    def ask(self, n: int = 1) -> list[Arch]:
        """The next ``n`` archs to evaluate (a batch for parallel workers).

        Never an arch this strategy asked before: each query of the budget measures a new
        arch (:func:`nasbench_txf.testing.check_never_asks_twice` says where one is asked again).
        """

    @abstractmethod
    def tell(self, arch: Arch, result: Result) -> None:
        """Feed back the result of an arch this strategy asked for."""

    @property
    def finished(self) -> bool:
        """True once the strategy has converged by its own criterion; the run then stops early."""
        return False

    def resources(self) -> dict[str, float]:
        """What the strategy's own work needs of a machine, as Ray resource counts (``num_cpus``,
        ``num_gpus``); a cell asks for the most its benchmark or its strategy needs. A strategy
        that trains asks for what its training needs; the others need nothing extra."""
        return {}

    def score(self, result: Result) -> float | None:
        """The objective as a quantity to maximise, ``None`` for a failed result."""
        value = result.value(self.objective.name)
        if value is None:
            return None
        return value if self.objective.maximize else -value


@runtime_checkable
class TrainsModels(Protocol):
    """A strategy that trains (a one-shot search) before or while it asks.

    Before its first ask it receives the training context of the cell's benchmark (the task
    data, tokenizer, recipe, device and threads that the benchmark itself trains with) and a
    folder of its own beside the run store. It keeps its checkpoints there
    (:mod:`nasbench_txf.core.checkpoints`), so a run killed at any moment loses only the
    training since the last checkpoint: the resumed strategy continues from it instead of
    training again.
    """

    def attach_training(self, context: Any, folder: Path) -> None: ...


@runtime_checkable
class ReportsCost(Protocol):
    """A strategy whose asks cost compute that runs must be charged for, such as the training of
    a one-shot search. Each ask is charged what the total grew by since the last charge, and
    the simulated clock counts it before the ask's trial even when it leaves the strategies'
    own time out (``--no-sim-overhead``), so that a one-shot search and a black-box search are
    compared on one clock. The total must survive a resume (keep it in the checkpoint), so
    that training done before a kill is charged once, no more, no less."""

    def cost_seconds(self) -> float:
        """Seconds of work done since the run began, across resumes."""
        ...


@runtime_checkable
class SharesWeights(Protocol):
    """A one-shot strategy whose cards are subnetworks of the super-network it trained: their
    trials are scored with its weights (a safetensors file in its folder), not the space's, so
    that what it trained is what is measured."""

    def trained_weights(self) -> Path | None:
        """The trained super-network's weights; ``None`` before training has finished."""
        ...


@runtime_checkable
class PredictsScores(Protocol):
    """A model-based strategy whose asks rest on a predictor of the score from the encoding.

    :meth:`predict` is that predictor alone, without the acquisition: fitted with the
    strategy's options, the way its asks fit it, to encoded archs and their scores (to
    maximise), it returns its predicted scores of other encoded archs. Comparing predictors
    and encodings by how well these rank unseen archs (``nasbench-txf study encodings``)
    then measures the very models the searches use. It draws from the strategy's generator
    (and may keep what a fit learned, as GP-BO keeps hyperparameters to warm-start the next
    fit), so call it on a strategy made for the purpose, not on one in the middle of a search.
    """

    def predict(self, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
        """Predicted scores of the rows of ``test_x`` after fitting on ``train_x``, ``train_y``."""
        ...


@runtime_checkable
class ObjectivesByOptions(Protocol):
    """A strategy that optimises one objective or several depending on its options (Optuna's
    samplers with ``against``; a one-shot search's λ, which scalarises them), so that
    leaderboards show its runs' Pareto fronts only when they have one;
    :attr:`Requirements.multi_objective` is for strategies that always do. The Pareto view
    takes its objectives from a strategy whose ``objectives`` names several."""

    @classmethod
    def several_objectives(cls, options: Any) -> bool:
        """Whether a run with these (made) options optimises more than one objective."""
        ...


def optimises_several(strategy: type[Strategy], options: Any) -> bool:
    """Whether ``strategy`` with ``options`` optimises several objectives."""
    if strategy.requires.multi_objective:
        return True
    return isinstance(strategy, ObjectivesByOptions) and strategy.several_objectives(options)
