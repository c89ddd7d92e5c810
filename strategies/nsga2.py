"""NSGA-II [NSGA2-02] from pymoo, over a space's decision vector, as in [EFTNAS24 §4].

Multi-objective search: the benchmark's objective (the task score) against one or more
cost metrics (``against``: ``params``, ``flops``, ``latency_ms``, … whatever the benchmark
reports). pymoo's NSGA-II (binary tournament on rank and crowding, rank-and-crowding
survival) runs through its ask/tell interface; the variation operators are the space's own
— sampling, uniform crossover of decision vectors and one-decision mutation — so every
space works, and each offspring's vector is normalised to the one of its card, so that
pymoo's duplicate elimination removes offspring that are the same arch.

An arch asked in an earlier generation is not asked again: its stored objectives are reused
when pymoo proposes it once more, and a generation made only of known archs is passed
straight back to pymoo. A failed evaluation counts as infeasible (pymoo ranks it below every
feasible one). With more parallel asks than a generation has open slots, the generation
grows by further offspring of the same parents. The result of a run is the Pareto set of
everything evaluated (``CellSummary.pareto``; ``nasbench-txf run`` prints it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.core.pareto import minimisation_matrix
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.space import Space
from nasbench_txf.core.strategy import Requirements, Strategy
from nasbench_txf.strategies.against import against_metrics
from nasbench_txf.strategies.unseen import draw_unseen

#: generations of only known archs tolerated before asking a random unseen arch instead
MAX_STALE_GENERATIONS = 20
#: the largest population: pymoo samples and keeps a whole generation at once
MAX_POPULATION = 10_000


@dataclass(frozen=True)
class NSGA2Options:
    against: str = option("auto", "cost metrics, comma-separated (auto: macs if reported, as EFTNAS "
                                  "searches, else params, else the benchmark's first other metric)")
    population: int = option(20, "population size (also the size of every generation)")
    crossover_prob: float = option(0.9, "probability that a pair of parents is crossed over")

    def __post_init__(self) -> None:
        if not 4 <= self.population <= MAX_POPULATION or not 0 <= self.crossover_prob <= 1:
            raise ValueError(f"population must be between 4 and {MAX_POPULATION:,} and crossover_prob in [0, 1]")


def _operators(space: Space) -> tuple[Any, Any, Any, Any]:
    """pymoo sampling, crossover, mutation and repair that delegate to ``space``."""
    from pymoo.core.crossover import Crossover
    from pymoo.core.mutation import Mutation
    from pymoo.core.repair import Repair
    from pymoo.core.sampling import Sampling

    def vector(arch: Arch) -> list[int]:
        return list(space.to_decisions(arch))

    class SpaceSampling(Sampling):
        def _do(self, problem: Any, n_samples: int, *args: Any, random_state: Any = None, **kwargs: Any) -> Any:
            return np.array([vector(space.sample(random_state)) for _ in range(n_samples)])

    class SpaceCrossover(Crossover):
        def __init__(self, prob: float) -> None:
            super().__init__(n_parents=2, n_offsprings=1, prob=prob)

        def _do(self, problem: Any, X: Any, *args: Any, random_state: Any = None, **kwargs: Any) -> Any:
            children = [vector(space.crossover(space.from_decisions(a), space.from_decisions(b), random_state))
                        for a, b in zip(X[0], X[1], strict=True)]
            return np.array(children)[None]

    class SpaceMutation(Mutation):
        def _do(self, problem: Any, X: Any, *args: Any, random_state: Any = None, **kwargs: Any) -> Any:
            return np.array([vector(space.mutate(space.from_decisions(x), random_state)) for x in X])

    class Canonical(Repair):
        def _do(self, problem: Any, X: Any, **kwargs: Any) -> Any:
            return np.array([vector(space.from_decisions(x)) for x in X])

    return SpaceSampling(), SpaceCrossover, SpaceMutation(), Canonical()


class NSGA2(Strategy):
    """pymoo's NSGA-II on the decision vector, never asking an arch twice."""

    name = "nsga2"
    Options = NSGA2Options
    requires = Requirements(multi_objective=True)

    def setup(self) -> None:
        from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
        from pymoo.core.problem import Problem
        from pymoo.termination.max_gen import MaximumGenerationTermination

        self.objectives = (self.objective, *self._against())
        sizes = [len(d.choices) for d in self.space.decisions()]
        problem = Problem(n_var=len(sizes), n_obj=len(self.objectives), n_ieq_constr=1,
                          xl=np.zeros(len(sizes)), xu=np.array(sizes) - 1, vtype=int)
        sampling, crossover, mutation, repair = _operators(self.space)
        self.algorithm = PymooNSGA2(pop_size=self.options.population, sampling=sampling,
                                    crossover=crossover(self.options.crossover_prob), mutation=mutation,
                                    repair=repair, eliminate_duplicates=True, seed=int(self.rng.integers(2**31)))
        self.algorithm.setup(problem, termination=MaximumGenerationTermination(10**9))
        self.known: dict[Arch, Result] = {}
        self.seen: set[Arch] = set()
        self.generation: list[Arch] = []
        self.infills: Any = None
        self.open: list[Arch] = []

    def _against(self) -> tuple[Metric, ...]:
        return against_metrics("nsga2", self.options.against, self.objective, self.metrics)

    # -- ask/tell ----------------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Arch]:
        out: list[Arch] = []
        stale = 0
        while len(out) < n:
            if self.open:
                out.append(self.open.pop(0))
            elif self.infills is not None and not self._generation_done():
                self._grow()  # parallel asks beyond the open slots of this generation
                if not self.open:
                    out.append(draw_unseen(self.space, self.seen, lambda: self.space.sample(self.rng)))
            elif stale >= MAX_STALE_GENERATIONS:
                out.append(draw_unseen(self.space, self.seen, lambda: self.space.sample(self.rng)))
            else:
                if self.infills is not None:
                    self._tell_generation()
                stale += self._next_generation() == 0
        return out

    def tell(self, arch: Arch, result: Result) -> None:
        self.seen.add(arch)
        self.known[arch] = result

    # -- generations ------------------------------------------------------------------------------
    def _next_generation(self) -> int:
        """Ask pymoo for the next generation; queue its unseen archs and return how many."""
        infills = self.algorithm.ask()
        if infills is None or len(infills) == 0:
            self.infills = None
            return 0
        self.infills = infills
        self.generation = [self.space.from_decisions(x) for x in infills.get("X")]
        self._queue(self.generation)
        return len(self.open)

    def _grow(self) -> None:
        from pymoo.core.population import Population

        extra = self.algorithm.mating.do(self.algorithm.problem, self.algorithm.pop, self.options.population,
                                         algorithm=self.algorithm, random_state=self.algorithm.random_state)
        archs = [self.space.from_decisions(x) for x in extra.get("X")]
        self.infills = Population.merge(self.infills, extra)
        self.generation += archs
        self._queue(archs)

    def _queue(self, archs: Sequence[Arch]) -> None:
        for arch in archs:
            if arch not in self.seen:
                self.seen.add(arch)
                self.open.append(arch)

    def _generation_done(self) -> bool:
        return all(arch in self.known for arch in self.generation)

    def _tell_generation(self) -> None:
        results = [self.known[arch] for arch in self.generation]
        points = minimisation_matrix(results, self.objectives)
        failed = ~np.isfinite(points).all(axis=1)
        points[failed] = 0.0
        self.infills.set("F", points, "G", np.where(failed, 1.0, -1.0)[:, None])
        self.algorithm.tell(infills=self.infills)
        self.infills = None
