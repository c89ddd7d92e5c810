"""A base for strategies that learn from every score they are told."""

from __future__ import annotations

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.strategies.unseen import draw_unseen


class ObservingStrategy(Strategy):
    """Keeps the archs asked so far (:attr:`seen`) and the scores of successful ones
    (:attr:`observed`, as (arch, score to maximise) in the order told).

    Model-based strategies fit their models to :attr:`observed` and never ask an arch in
    :attr:`seen` again; subclasses that override :meth:`setup` or :meth:`tell` call these.
    """

    def setup(self) -> None:
        self.seen: set[Arch] = set()
        self.observed: list[tuple[Arch, float]] = []

    def tell(self, arch: Arch, result: Result) -> None:
        self.seen.add(arch)
        score = self.score(result)
        if score is not None:
            self.observed.append((arch, score))

    def random_unseen(self) -> Arch:
        """A random arch of the space not asked before (now marked as asked)."""
        return draw_unseen(self.space, self.seen, lambda: self.space.sample(self.rng))
