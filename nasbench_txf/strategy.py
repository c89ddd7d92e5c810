"""Search strategies: an ask/tell interface, as in Optuna's samplers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nasbench_txf.arch import Arch
from nasbench_txf.encoding import Encoding
from nasbench_txf.plugin import Plugin
from nasbench_txf.result import Metric, Result
from nasbench_txf.space import Space


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
        """The next ``n`` archs to evaluate (a batch for parallel workers)."""

    @abstractmethod
    def tell(self, arch: Arch, result: Result) -> None:
        """Feed back the result of an arch this strategy asked for."""

    @property
    def finished(self) -> bool:
        """True once the strategy has converged by its own criterion; the run then stops early."""
        return False

    def score(self, result: Result) -> float | None:
        """The objective as a quantity to maximise, ``None`` for a failed result."""
        value = result.value(self.objective.name)
        if value is None:
            return None
        return value if self.objective.maximize else -value
