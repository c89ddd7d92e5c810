"""Executors: where the trials of cells are computed.

The driver (:func:`~nasbench_txf.run.runner.run_cells`) alone writes the store; an executor
runs :class:`Job`\\ s and hands back, as :data:`Event`\\ s, the trials each job finished, in
the order that job produced them. Three small implementations share one job body
(:func:`job_trials`): :class:`Sequential` in this process, :class:`LocalPool` on a local
process pool, :class:`RayTasks` as Ray tasks (placed by the resources each benchmark asks
for). A new executor implements :meth:`Executor.submit`, :meth:`Executor.events` and
:meth:`Executor.stop`.
"""

from __future__ import annotations

import multiprocessing
import socket
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.managers import SyncManager
from pathlib import Path
from queue import Empty
from typing import Any

from nasbench_txf.core.errors import UserError
from nasbench_txf.core.processes import pool_worker
from nasbench_txf.run.cell import CellSpec, open_cell
from nasbench_txf.run.store import TrialRow
from nasbench_txf.run.trials import Budget, cell_trials, prepare


@dataclass(frozen=True)
class Job:
    """One cell to run from where its store left it: ``stored`` is replayed, not evaluated."""

    index: int
    spec: CellSpec
    stored: list[TrialRow]
    budget: Budget
    store_path: str
    #: what the cell's benchmark asks of the machine (:meth:`Benchmark.resources`)
    resources: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finished:
    """A trial of job ``index``, finished (successfully or not) and ready to store."""

    index: int
    row: TrialRow


@dataclass(frozen=True)
class Done:
    """Job ``index`` has no more trials: its budget or its strategy ended it."""

    index: int


@dataclass(frozen=True)
class Lost:
    """The worker running job ``index`` died during its next trial (the driver decides whether
    to submit the job again or to store that trial as failed)."""

    index: int
    error: BaseException


Event = Finished | Done | Lost


def job_trials(job: Job) -> Iterator[TrialRow]:
    """The body of every job, wherever it runs: open the cell, replay, yield each new trial."""
    cell = open_cell(job.spec)
    prepare(cell, job.store_path)
    yield from cell_trials(cell, job.stored, job.budget)  # type: ignore[misc]


class Executor(ABC):
    """Runs jobs and reports their events; used as a context manager around a run."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @abstractmethod
    def submit(self, job: Job) -> None:
        """Start ``job`` (now or when a worker is free)."""

    @abstractmethod
    def events(self) -> Iterator[Event]:
        """Events of the submitted jobs until none is left; jobs submitted meanwhile included.
        A plugin's error in a job is raised here, as it would be in a sequential run."""

    @abstractmethod
    def stop(self) -> list[Event]:
        """End every job now (on Ctrl-C); return the trials already finished but not yet
        handed over, so that the driver stores them."""


class Sequential(Executor):
    """Jobs one after another in this process."""

    def __init__(self) -> None:
        self._queue: deque[Job] = deque()

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def events(self) -> Iterator[Event]:
        while self._queue:
            job = self._queue.popleft()
            for row in job_trials(job):
                yield Finished(job.index, row)
            yield Done(job.index)

    def stop(self) -> list[Event]:
        self._queue.clear()
        return []  # every finished trial was handed over as it finished


def _stream_job(job: Job, queue: Any) -> None:
    """A pool worker's task: run one job, sending each trial to the driver."""
    for row in job_trials(job):
        queue.put((job.index, row))


class LocalPool(Executor):
    """Jobs on ``workers`` local processes (spawned: forked torch and OpenMP thread pools can
    deadlock). Workers ignore Ctrl-C and end with the driver (:func:`~nasbench_txf.core.processes.pool_worker`)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._running: dict[Future[None], int] = {}

    def __enter__(self) -> LocalPool:
        context = multiprocessing.get_context("spawn")
        self._manager = SyncManager(ctx=context)
        self._manager.start(pool_worker)
        self._queue = self._manager.Queue()
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=pool_worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(cancel_futures=True)
        self._manager.shutdown()

    def submit(self, job: Job) -> None:
        self._running[self._pool.submit(_stream_job, job, self._queue)] = job.index

    def events(self) -> Iterator[Event]:
        while self._running:
            finished = [future for future in self._running if future.done()]
            for index, row in self._drain(block=not finished):
                yield Finished(index, row)
            for future in finished:  # all its trials were queued before it finished
                if (error := future.exception()) is not None:
                    self._pool.shutdown(cancel_futures=True)
                    raise error  # a worker's error is the run's
                yield Done(self._running.pop(future))

    def stop(self) -> list[Event]:
        pending: list[Event] = [Finished(index, row) for index, row in self._drain(block=False)]
        for process in list(getattr(self._pool, "_processes", {}).values()):  # no public way before 3.14
            process.terminate()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._running.clear()
        return pending

    def _drain(self, *, block: bool) -> list[tuple[int, TrialRow]]:
        """What is in the queue now; waits up to 0.2 s for a first item when ``block``."""
        items = []
        try:
            if block:
                items.append(self._queue.get(timeout=0.2))
            while True:
                items.append(self._queue.get_nowait())
        except Empty:
            return items


def _ray_job(job: Job) -> Iterator[TrialRow]:
    yield from job_trials(job)


class RayTasks(Executor):
    """Each job a Ray generator task, placed by the resources its benchmark asks for.

    A task runs at most one trial ahead of what the driver has read (generator backpressure
    of 1), so when its worker dies, the trial in flight is the one after the stored rows: the
    driver gets a :class:`Lost` event and resubmits the job from those rows.
    """

    def __init__(self) -> None:
        import ray

        self._ray = ray
        self._task = ray.remote(max_retries=0, _generator_backpressure_num_objects=1)(_ray_job)
        self._running: dict[Any, int] = {}

    def submit(self, job: Job) -> None:
        self._running[self._task.options(**job.resources).remote(job)] = job.index

    def events(self) -> Iterator[Event]:
        from ray.exceptions import RayError, RayTaskError

        while self._running:
            (generator,), _ = self._ray.wait(list(self._running), num_returns=1)
            index = self._running[generator]
            try:
                row = self._ray.get(next(generator))
            except StopIteration:
                del self._running[generator]
                yield Done(index)
                continue
            except RayTaskError as exc:  # a bug in a plugin: the error of the cell, as in a local run
                raise exc.as_instanceof_cause() from None
            except RayError as exc:  # the worker or its node died
                del self._running[generator]
                yield Lost(index, exc)
                continue
            yield Finished(index, row)

    def stop(self) -> list[Event]:
        for generator in self._running:
            self._ray.cancel(generator, force=True)
        self._running.clear()
        return []

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def connect(address: str | None, *, num_cpus: int | None = None, temp_dir: Path | None = None) -> None:
        """Join the Ray cluster at ``address`` (``auto``: the one running on this machine), or
        start a local instance when ``address`` is ``None``; an unreachable address is a
        :class:`UserError` at once (Ray itself would keep retrying for minutes)."""
        try:
            import ray
        except ImportError:
            raise UserError("--executor ray needs Ray: pip install 'nasbench-txf[ray]'") from None
        if ray.is_initialized():
            return
        if address not in (None, "auto"):
            _check_reachable(address)
        local = {"num_cpus": num_cpus, "_temp_dir": str(temp_dir) if temp_dir else None} if address is None else {}
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     **{k: v for k, v in local.items() if v is not None})
        except ConnectionError as exc:
            raise UserError(f"cannot reach a Ray cluster at {address}: {exc}") from None


def _check_reachable(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray-address must be auto or HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise UserError(f"cannot reach a Ray cluster at {address}: {exc}") from None
