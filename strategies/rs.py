"""Random search."""

from __future__ import annotations

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.strategies.unseen import draw_unseen


class RandomSearch(Strategy):
    """Random search: uniform samples of the space, never the same arch twice.

    The baseline every NAS comparison needs ([RS19]; [FLEXIBERT23 §4.3]). Sampling is
    the space's own (uniform over cards where the space provides that).
    """

    name = "rs"

    def setup(self) -> None:
        self._seen: set[Arch] = set()

    def ask(self, n: int = 1) -> list[Arch]:
        return [draw_unseen(self.space, self._seen, lambda: self.space.sample(self.rng))
                for _ in range(n)]

    def tell(self, arch: Arch, result: Result) -> None:
        """Random search does not learn from results."""
