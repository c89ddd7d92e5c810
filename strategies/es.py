"""Regularized evolution [REA19] (the ES baseline of [FLEXIBERT23 §4.3]).

After ``initial`` random archs, each new arch mutates the best of a random ``sample_size``
of the population (tournament); the population is the ``population`` most recently measured
archs, so the oldest member leaves when a new one joins (ageing). The defaults are those of
the authors' evolution baseline in naszilla (``evolution_search``: 10 initial archs,
population 30, tournaments of 10), which evolve within a 50- or 100-query budget; [REA19]
itself used a population of 100 and samples of 25 over thousands of queries, and a first
random sample as large as the budget makes the search random search. A mutation that gives an arch
asked before is redrawn, so no arch is asked twice; when every neighbour of the parent has
been asked, a random unseen arch is taken instead.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.strategies.unseen import draw_unseen

#: the largest population (the members are kept in memory)
MAX_POPULATION = 1_000_000


@dataclass(frozen=True)
class EvolutionOptions:
    initial: int = option(10, "random archs before the first mutation (naszilla num_init)")
    population: int = option(30, "archs kept alive, the most recent ones (naszilla population_size)")
    sample_size: int = option(10, "tournament size: parents are the best of this many members")

    def __post_init__(self) -> None:
        if self.initial < 1:
            raise ValueError("initial must be >= 1")
        if self.population > MAX_POPULATION:
            raise ValueError(f"population must be at most {MAX_POPULATION:,}")
        if not 1 <= self.sample_size <= self.population:
            raise ValueError("sample_size must be between 1 and population")


class RegularizedEvolution(Strategy):
    """Ageing evolution with tournament selection and the space's mutation."""

    name = "es"
    Options = EvolutionOptions

    def setup(self) -> None:
        self.seen: set[Arch] = set()
        self.alive: deque[tuple[Arch, float]] = deque(maxlen=self.options.population)
        self.asked = 0

    def ask(self, n: int = 1) -> list[Arch]:
        out = []
        for _ in range(n):
            self.asked += 1
            if self.asked <= self.options.initial or not self.alive:
                out.append(draw_unseen(self.space, self.seen, lambda: self.space.sample(self.rng)))
                continue
            members = list(self.alive)
            picks = self.rng.choice(len(members), size=min(self.options.sample_size, len(members)), replace=False)
            parent = max((members[i] for i in picks), key=lambda m: m[1])[0]
            fresh = [a for a in self.space.neighbours(parent) if a not in self.seen]
            if fresh:
                child = fresh[int(self.rng.integers(len(fresh)))]
                self.seen.add(child)
            else:
                child = draw_unseen(self.space, self.seen, lambda: self.space.sample(self.rng))
            out.append(child)
        return out

    def tell(self, arch: Arch, result: Result) -> None:
        score = self.score(result)
        if score is not None:
            self.alive.append((arch, score))
