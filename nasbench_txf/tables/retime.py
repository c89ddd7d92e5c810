"""``bench retime``: measure a table's timed metrics again, every row on this one machine.

A build that runs for days can move between machines, and latency moves with the machine:
rows of the same FLOPs and depth timed on two CPUs can differ by a large factor. A surrogate
fitted on such a table learns which machine measured an arch as much as what the arch costs.
The benchmark that measured the table times an untrained model of each card
(:meth:`~nasbench_txf.core.benchmark.Benchmark.timed_metrics`); the rows get the new values,
``info.timed_on`` names the machine, and ``info.build_timing`` keeps the values measured
while the table was built (from the first retime, when there are several). Nothing else in
a row changes, and all rows are replaced at once.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass

import torch
from tqdm import tqdm

from nasbench_txf.core.errors import UserError
from nasbench_txf.core.registry import get_benchmark
from nasbench_txf.core.space import Space
from nasbench_txf.surrogate.surrogate import COUNTING_ERRORS
from nasbench_txf.tables.machine import describe
from nasbench_txf.tables.table import Table


@dataclass(frozen=True)
class RetimeReport:
    rows: int
    metrics: tuple[str, ...]
    timed_on: str
    #: per metric, the median over rows of the new value divided by the build's
    median_ratio: dict[str, float]


def retime(table: Table, space: Space, *, device: str = "cpu", threads: int = 1,
           progress: bool | None = None) -> RetimeReport:
    """Time every successful row of ``table`` (archs of ``space``) again with ``device`` and ``threads``."""
    source = table.meta.source
    if "benchmark" not in source:
        raise UserError(f"{table.folder}: an imported table names no benchmark that could time its cards again")
    options = {**source.get("options", {}), "device": device, "threads": threads}
    name = str(source["benchmark"])
    try:
        functions = get_benchmark(name).timed_metrics(space, table.meta.task, options)
    except COUNTING_ERRORS as exc:
        raise UserError(f"{table.folder}: benchmark {name} cannot time this table's cards here: {exc}") from None
    timed = [m.name for m in table.meta.metrics if m.timed and m.name in functions]
    if not timed:
        raise UserError(f"{table.folder}: benchmark {name} times none of this table's metrics from the card alone")
    machine = describe(torch.device(device), threads)
    with table.writing():
        current = Table.read(table.folder)  # the rows as they are now that no other process writes
        rows, ratios = [], {metric: [] for metric in timed}
        for row in tqdm(current.rows, unit="row", desc="retime", disable=None if progress is None else not progress):
            if row.status != "ok":
                rows.append(row)
                continue
            arch = space.arch(row.card)
            new = {metric: functions[metric](arch) for metric in timed}
            build_timing = row.info.get("build_timing", {metric: row.metrics[metric] for metric in timed
                                                         if metric in row.metrics})
            for metric in timed:
                if build_timing.get(metric):
                    ratios[metric].append(new[metric] / build_timing[metric])
            rows.append(dataclasses.replace(row, metrics={**row.metrics, **new},
                                            info={**row.info, "timed_on": machine, "build_timing": build_timing}))
        current.rewrite(rows)
    table.rows = current.rows
    return RetimeReport(sum(r.status == "ok" for r in rows), tuple(timed), machine,
                        {metric: statistics.median(values) for metric, values in ratios.items() if values})
