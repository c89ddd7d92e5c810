"""Simulated wall-clock for asynchronous workers (Syne Tune's simulator backend, JAHS-Bench-201's
protocol).

On a tabular or surrogate benchmark an evaluation returns at once with the cost it would
have taken; the clock turns those costs into the time line that ``n`` workers would have
followed. A free worker asks the strategy for an arch and starts it after the strategy's
compute time (its ask, plus the tell that freed the worker); the trial ends ``cost``
seconds later; the next event is always the earliest end (ties: lowest trial number), whose
result is told to the strategy before that worker asks again. With one worker this is the
plain sequential loop. Hand-written: the whole job is a heap of end times, which no
library offers without also owning the strategy loop.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Simulation:
    """How a cell's time line is simulated: ``workers`` asynchronous workers, and whether the
    strategy's measured compute time counts (``overhead``; without it the clock depends on
    the benchmark's costs only, so it is exactly reproducible)."""

    workers: int = 1
    overhead: bool = True

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("a simulation needs at least one worker")

    @property
    def is_default(self) -> bool:
        return self == Simulation()


@dataclass
class WorkerClock:
    """Free and busy workers on a simulated time line that starts at 0."""

    workers: int
    #: (time the worker became free, worker)
    free: list[tuple[float, int]] = field(default_factory=list)
    #: (end time, trial, worker) of running trials
    running: list[tuple[float, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("a simulation needs at least one worker")
        self.free = [(0.0, w) for w in range(self.workers)]

    @property
    def has_free_worker(self) -> bool:
        return bool(self.free)

    @property
    def next_start(self) -> float:
        """When the next trial would start, before the strategy's compute time."""
        return self.free[0][0]

    def start(self, trial: int, overhead: float, cost: float) -> tuple[float, float]:
        """Start ``trial`` on the earliest free worker; returns its (start, end) times."""
        became_free, worker = heapq.heappop(self.free)
        start = became_free + overhead
        end = start + cost
        heapq.heappush(self.running, (end, trial, worker))
        return start, end

    def finish_next(self) -> int:
        """End the earliest running trial, freeing its worker; returns the trial number."""
        end, trial, worker = heapq.heappop(self.running)
        heapq.heappush(self.free, (end, worker))
        return trial

    @property
    def busy(self) -> bool:
        return bool(self.running)
