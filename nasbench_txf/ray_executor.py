"""Running cells on Ray: each cell a Ray task, the driver alone writing the store.

A cell task streams its trials back (a Ray generator task); the driver stores each row as
it arrives, so a killed driver loses nothing that was reported. Each task asks Ray
for its benchmark's :meth:`~.benchmark.Benchmark.resources` (a table: one CPU; live
training: its threads, and a GPU with ``device=cuda``).

When a worker dies mid-trial (the task fails with a Ray system error), the driver resubmits
the cell from the rows stored so far, so the trial in flight is evaluated again; after
``retries`` such failures of the same trial the driver finds which arch it was (replaying
the strategy up to that ask, without evaluating), stores it as a failed trial naming the
error, and the cell goes on. Nothing is lost silently: every trial ends stored as finished or failed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nasbench_txf.cell import CellSpec, open_cell
from nasbench_txf.errors import UserError
from nasbench_txf.runner import (
    Asked,
    Budget,
    CellSummary,
    cell_trials,
    done_by_budget,
    open_in_store,
    run_dir,
    summarise,
)
from nasbench_txf.store import Store, TrialRow


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


def _cell_rows(spec: CellSpec, stored: list[TrialRow], budget: Budget, store_path: str) -> Iterator[TrialRow]:
    """The body of a cell task: replay ``stored``, then yield each new trial."""
    cell = open_cell(spec)
    cell.benchmark.attach_run_dir(run_dir(store_path))
    yield from cell_trials(cell, stored, budget)  # type: ignore[misc]


def _next_ask(spec: CellSpec, stored: list[TrialRow], budget: Budget) -> Asked | None:
    """The trial that follows ``stored``, found by replaying the strategy here without
    evaluating it (the generator is closed at its announcement); ``None`` when the budget
    or the strategy has ended the cell."""
    for event in cell_trials(open_cell(spec), stored, budget, announce=True):
        if isinstance(event, Asked):
            return event
    return None


def run_cells_on_ray(specs: Sequence[CellSpec], store_path: str | Path, budget: Budget, *,
                     retries: int = 1, command: str | None = None,
                     progress: bool | None = None) -> list[CellSummary]:
    """Run ``specs`` as Ray tasks (call :func:`connect` first); resume what the store has."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    # a task runs at most one trial ahead of what the driver has read (Ray's generator
    # backpressure of 1), so when its worker dies, the trial in flight is the one after the
    # stored rows; retries are the driver's, from those rows
    task = ray.remote(max_retries=0, _generator_backpressure_num_objects=1)(_cell_rows)
    cells = [open_cell(spec) for spec in specs]
    summaries: list[CellSummary | None] = [None] * len(specs)
    total = budget.queries * len(specs) if budget.queries is not None else None
    bar = tqdm(total=total, unit="trial", desc="trials", dynamic_ncols=True, leave=False,
               disable=None if progress is None else not progress)
    with Store.open(store_path) as store:
        rows = [open_in_store(store, cell, "auto", command) for cell in cells]
        bar.update(sum(map(len, rows)))
        running: dict[Any, int] = {}
        failures: dict[tuple[int, int], int] = {}

        def submit(i: int) -> None:
            if done_by_budget(rows[i], budget):
                summaries[i] = summarise(cells[i], rows[i])
                return
            options = cells[i].benchmark.resources()
            running[task.options(**options).remote(specs[i], rows[i], budget, str(store_path))] = i

        for i in range(len(specs)):
            submit(i)
        try:
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                generator = ready[0]
                i = running[generator]
                try:
                    event = ray.get(next(generator))
                except StopIteration:
                    del running[generator]
                    summaries[i] = summarise(cells[i], rows[i])
                    continue
                except RayTaskError as exc:  # a bug in a plugin: the error of the cell, as in a local run
                    raise exc.as_instanceof_cause() from None
                except RayError as exc:  # the worker or its node died during trial len(rows[i])
                    del running[generator]
                    key = (i, len(rows[i]))
                    failures[key] = failures.get(key, 0) + 1
                    if failures[key] > retries:
                        asked = _next_ask(specs[i], rows[i], budget)
                        if asked is None:
                            raise UserError(f"cell {cells[i].id}: its Ray worker died {failures[key]} times "
                                            f"({type(exc).__name__}: {exc})") from None
                        row = asked.failed(f"worker died {failures[key]} times: {type(exc).__name__}")
                        store.add_trial(cells[i].id, row)
                        rows[i].append(row)
                        bar.update(1)
                    submit(i)
                    continue
                store.add_trial(cells[i].id, event)
                rows[i].append(event)
                bar.update(1)
        finally:
            for generator in running:
                ray.cancel(generator, force=True)
            bar.close()
    return [s for s in summaries if s is not None]
