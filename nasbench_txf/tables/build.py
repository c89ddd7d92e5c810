"""``bench build``: measure a sample of archs with a benchmark (live training) into a table.

The plan is deterministic: the space's presets that are cards of it, then random cards
(seeded) until ``n`` archs; ``repeated`` of them, evenly spread over the plan, get every
seed in ``0..seeds-1`` and the others seed 0. Cards given besides (``cards``: the Pareto set of
a search, say, so that a table covers the front that random cards rarely reach) are measured
with seed 0 after the presets; they leave the random part and its repeated seeds as they were,
so a table built from random cards first takes them on a resume. Jobs run in plan order, so a table cut short
at any point already has repeated seeds in proportion. Each finished evaluation is appended
to the table at once; a restart skips every (arch, seed) already there.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.errors import InvalidCardError, UserError
from nasbench_txf.core.files import read_text
from nasbench_txf.core.options import option_fields, options_dict
from nasbench_txf.core.processes import die_with_parent
from nasbench_txf.core.registry import get_benchmark, open_benchmark
from nasbench_txf.core.safe_json import parse, shown
from nasbench_txf.core.space import Space
from nasbench_txf.tables.table import Row, Table, TableMeta

#: options that change where the data are or how fast a measurement runs, not what it measures
NOT_RECIPE = ("data_dir", "threads", "device")


@dataclass(frozen=True)
class BuildRequest:
    space: str
    space_options: Mapping[str, Any]
    benchmark: str
    task: str | None
    benchmark_options: Mapping[str, Any]
    n: int
    seeds: int = 1
    repeated: int | None = None
    sample_seed: int = 0
    cards: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.n < 1 or self.seeds < 1:
            raise UserError(f"--n and --seeds must be at least 1, got {self.n} and {self.seeds}")
        if self.repeated is not None and not 0 <= self.repeated <= self.n:
            raise UserError(f"--repeated must be between 0 and --n ({self.n}), got {self.repeated}")


def plan(space: Space, n: int, seeds: int, repeated: int | None, sample_seed: int,
         cards: Sequence[Mapping[str, Any]] = ()) -> list[tuple[Arch, int]]:
    """(arch, seed) jobs in the order they run (see the module docstring)."""
    archs: dict[Arch, None] = {}
    for card in space.presets().values():
        try:
            archs[space.arch(card)] = None
        except InvalidCardError:
            continue
    presets = len(archs)
    given: dict[Arch, None] = {}
    for number, card in enumerate(cards, start=1):
        try:
            given[space.arch(card)] = None
        except InvalidCardError as exc:
            raise UserError(f"--cards: card {number}: {exc}") from None
    if space.enumerable and n > space.cardinality():
        raise UserError(f"--n {n} exceeds the {space.cardinality():,} cards of space {space.name}")
    rng = np.random.default_rng(sample_seed)
    while len(archs) < n:
        archs[space.sample(rng)] = None
    chosen = list(archs)[:n]
    count = n if repeated is None else repeated
    spread = {j * n // count for j in range(count)} if count else set()
    jobs = [(i, arch, seed) for i, arch in enumerate(chosen) for seed in (range(seeds) if i in spread else [0])]
    planned = set(chosen)
    extra = [(arch, 0) for arch in given if arch not in planned]
    cut = sum(1 for i, _, _ in jobs if i < presets)
    return [(arch, seed) for _, arch, seed in jobs[:cut]] + extra + [(arch, seed) for _, arch, seed in jobs[cut:]]


def read_cards(path: Path) -> tuple[dict[str, Any], ...]:
    """The cards of a JSON Lines file: one card per line, or one object per line with the card
    under ``"card"`` (a table's ``bench export --out F.jsonl``, or the ``pareto`` entries of a
    ``run --json`` report). Blank lines are skipped."""
    cards = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        value = parse(line, f"{path}: line {number}", UserError)
        if isinstance(value, dict) and isinstance(value.get("card"), dict):
            value = value["card"]
        if not isinstance(value, dict):
            raise UserError(f"{path}: line {number}: not a card (a JSON object), got {shown(value)}")
        cards.append(value)
    return tuple(cards)


def table_meta(bench: Benchmark) -> TableMeta:
    options = {k: v for k, v in options_dict(bench.options).items() if k not in NOT_RECIPE}
    return TableMeta(space=bench.space.key(), task=str(bench.task), source={"benchmark": bench.name,
                     "options": options}, metrics=tuple(bench.metrics))


_WORKER: Benchmark | None = None


def _start_worker(args: tuple[Any, ...]) -> None:
    global _WORKER
    die_with_parent()
    _WORKER = open_benchmark(*args)


def _measure(card: dict[str, Any], seed: int) -> Row:
    assert _WORKER is not None
    arch = _WORKER.space.arch(card)
    return Row.of(arch, seed, _WORKER.evaluate(arch, seed))


def duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def changed_conditions(bench: Benchmark, table: Table) -> list[str]:
    """Where this machine would measure otherwise than most of the table's rows did (a table
    trained in bf16 resumed on a CPU without it, say: fp32, slower, and scores moved a little)."""
    notes = []
    for key, value in bench.conditions().items():
        seen = Counter(str(row.info[key]) for row in table.rows if key in row.info)
        if seen and (usual := seen.most_common(1)[0])[0] != value:
            notes.append(f"note: this machine measures with {key} = {value}, but {usual[1]} of the table's "
                         f"{len(table.rows)} rows were measured with {key} = {usual[0]}; the new rows record theirs")
    return notes


def build(request: BuildRequest, out: str | Path, *, workers: int = 1, progress: bool | None = None,
          on_row: Callable[[Row], None] | None = None) -> Table:
    """Measure every planned (arch, seed) not yet in the table at ``out``; returns the table."""
    options = dict(request.benchmark_options)
    if "threads" in option_fields(get_benchmark(request.benchmark).Options):  # share the cores among workers
        options.setdefault("threads", str(max(1, (os.cpu_count() or 1) // max(1, workers))))
    bench = open_benchmark(request.space, request.space_options, request.benchmark, request.task, options)
    created = Table.create(out, table_meta(bench))
    with created.writing():
        table = Table.read(created.folder)  # the rows as they are now that no other process writes
        return _measure_missing(request, bench, options, table, workers, progress, on_row)


def _measure_missing(request: BuildRequest, bench: Benchmark, options: dict[str, Any], table: Table, workers: int,
                     progress: bool | None, on_row: Callable[[Row], None] | None) -> Table:
    done = table.done()
    jobs = [(a, s) for a, s in plan(bench.space, request.n, request.seeds, request.repeated, request.sample_seed,
                                    request.cards) if (a.id, s) not in done]
    if jobs:
        for note in changed_conditions(bench, table):
            print(note, file=sys.stderr, flush=True)
    if hasattr(bench, "tokenized"):
        bench.tokenized  # noqa: B018 - train and cache the tokenizer once, before the workers start
    bar = tqdm(total=len(jobs), unit="eval", desc="build", disable=None if progress is None else not progress)
    # a build runs for days in the background: with no terminal for the bar, a line per evaluation
    log_lines = progress is None and not sys.stderr.isatty()
    objective = bench.objective.name
    recorded, started = 0, time.monotonic()

    def record(row: Row) -> None:
        nonlocal recorded
        table.append([row])
        bar.update(1)
        recorded += 1
        if log_lines:
            value = f"{objective} {row.metrics[objective]:.4g}" if row.measured else f"failed: {row.result().reason}"
            left = len(jobs) - recorded
            eta = (time.monotonic() - started) / recorded * left
            print(f"build {recorded}/{len(jobs)}: {row.arch_id} seed {row.seed}, {value}, {row.cost_seconds:.0f} s; "
                  f"{left} left, about {duration(eta)} at this pace", file=sys.stderr, flush=True)
        if on_row is not None:
            on_row(row)

    try:
        if workers <= 1:
            for arch, seed in jobs:
                record(Row.of(arch, seed, bench.evaluate(arch, seed)))
            return table
        args = (request.space, dict(request.space_options), request.benchmark, request.task, options)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                 initargs=(args,)) as pool:
            queue = iter(jobs)
            running: set[Future[Row]] = set()
            try:
                while True:
                    while len(running) < 2 * workers and (job := next(queue, None)) is not None:
                        running.add(pool.submit(_measure, job[0].card, job[1]))
                    if not running:
                        break
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        record(future.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        return table
    finally:
        bar.close()
