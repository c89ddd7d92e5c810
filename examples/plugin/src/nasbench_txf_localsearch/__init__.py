"""First-improvement local search, as an example of a third-party nasbench-txf strategy."""

from __future__ import annotations

from dataclasses import dataclass, field

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import Strategy


@dataclass(frozen=True)
class LocalSearchOptions:
    restart_after: int = field(
        default=0,
        metadata={"help": "restart from a random arch after this many non-improving "
                          "evaluations (0: only when the neighbourhood is exhausted)"},
    )

    def __post_init__(self) -> None:
        if self.restart_after < 0:
            raise ValueError(f"restart_after must be >= 0, got {self.restart_after}")


class LocalSearch(Strategy):
    """First-improvement local search with random restarts [LOCALSEARCH20]."""

    name = "local-search"
    Options = LocalSearchOptions

    def setup(self) -> None:
        self._seen: set[Arch] = set()
        self._incumbent: Arch | None = None
        self._incumbent_score = float("-inf")
        self._queue: list[Arch] = []
        self._stale = 0

    def _random_unseen(self) -> Arch:
        for _ in range(1000):
            arch = self.space.sample(self.rng)
            if arch not in self._seen:
                return arch
        raise RuntimeError("no unseen arch left to sample")

    def _next(self) -> Arch:
        patience = self.options.restart_after
        if self._incumbent is not None and patience and self._stale >= patience:
            self._incumbent, self._queue, self._stale = None, [], 0
        while self._queue:
            arch = self._queue.pop()
            if arch not in self._seen:
                return arch
        if self._incumbent is not None:
            self._incumbent = None  # neighbourhood exhausted: restart
        return self._random_unseen()

    def ask(self, n: int = 1) -> list[Arch]:
        batch = []
        for _ in range(n):
            arch = self._next()
            self._seen.add(arch)
            batch.append(arch)
        return batch

    def tell(self, arch: Arch, result: Result) -> None:
        score = self.score(result)
        if score is not None and score > self._incumbent_score:
            self._incumbent, self._incumbent_score, self._stale = arch, score, 0
            neighbours = self.space.neighbours(arch)
            order = self.rng.permutation(len(neighbours))
            self._queue = [neighbours[i] for i in order]
        else:
            self._stale += 1
