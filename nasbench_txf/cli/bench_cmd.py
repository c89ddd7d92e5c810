"""``nasbench-txf bench build|import|export|info|surrogate|retime``: make and inspect tables."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from nasbench_txf.cli.common import add_plugin_options, emit, plugin_options
from nasbench_txf.core.errors import DataError, UserError
from nasbench_txf.core.registry import get_space
from nasbench_txf.core.result import Metric
from nasbench_txf.core.space import Space
from nasbench_txf.tables.builtin import builtin_folders
from nasbench_txf.tables.table import METADATA, Row, Table, contained, write_atomic


def register(sub: Any) -> None:
    parser = sub.add_parser("bench", help="build, import, export and inspect benchmark tables")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    b = actions.add_parser("build", help="measure a sample of archs (live training) into a table; resumable")
    b.add_argument("--space", required=True)
    b.add_argument("--task")
    b.add_argument("--benchmark", default="live", help="the benchmark that measures (default: live)")
    b.add_argument("--n", type=int, required=True, help="archs: the space's presets, then random cards")
    b.add_argument("--seeds", type=int, default=1, help="seeds per repeated arch (0..K-1)")
    b.add_argument("--repeated", type=int, help="archs that get every seed, spread over the plan (default all)")
    b.add_argument("--sample-seed", type=int, default=0, help="seed of the random cards")
    b.add_argument("--cards", metavar="FILE", help="JSON Lines of cards (or of {\"card\": …}) to measure besides, "
                                                   "after the presets: a search's Pareto set, say")
    b.add_argument("--workers", type=int, default=1, help="parallel measurements (local processes)")
    b.add_argument("--out", required=True, help="table folder; an existing one is resumed")
    add_plugin_options(b, ("space", "benchmark"))
    imp = actions.add_parser("import", help="a CSV or JSON Lines file of cards and metrics as a table")
    imp.add_argument("file")
    imp.add_argument("--space", required=True)
    imp.add_argument("--task", required=True)
    imp.add_argument("--metric", action="append", required=True, metavar="NAME",
                     help="metric column (repeatable; the first is the objective)")
    imp.add_argument("--minimize", action="append", default=[], metavar="NAME", help="a metric where lower is better")
    imp.add_argument("--out", required=True)
    add_plugin_options(imp, ("space",))
    exp = actions.add_parser("export", help="a table as CSV or JSON Lines (one row per evaluation)")
    exp.add_argument("table", help="table folder or built-in table name")
    exp.add_argument("--out", help="file (.csv or .jsonl); default: CSV on stdout")
    info = actions.add_parser("info", help="size, metrics, seeds, spread and surrogate fidelity of a table")
    info.add_argument("table", nargs="?", help="table folder or built-in table name (default: all built-in)")
    fit = actions.add_parser("surrogate", help="fit the table's surrogate and store it in TABLE/surrogate/")
    fit.add_argument("table")
    timing = actions.add_parser("retime", help="measure the timed metrics (latency) of every row again, "
                                               "on this machine")
    timing.add_argument("table", help="table folder or built-in table name")
    timing.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to time (default: cpu)")
    timing.add_argument("--threads", type=int, default=1, help="torch threads while timing (default: 1)")
    for action in (b, imp, info, fit, timing):
        action.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=handle)


def describe(table: Table) -> dict[str, Any]:
    """The table's summary (imported on use: it reads the surrogate's fidelity, through LightGBM)."""
    from nasbench_txf.tables.info import describe as table_summary

    return table_summary(table)


def open_space(name: str, options: dict[str, str]) -> Space:
    cls = get_space(name)
    return cls(cls.make_options(options))


def find_table(name: str) -> Table:
    """The built-in table called ``name``, or the table folder at ``name``, whose space (a
    name and options its metadata gives) must be one this installation knows."""
    for folder in builtin_folders():
        if folder.name == name:
            return Table.read(folder)
    table = Table.read(Path(name))
    table_space(table)
    return table


def table_space(table: Table) -> Space:
    """The space a table measured; a space that is not installed, or options it does not
    take, are the table's error (a table comes from elsewhere), said as such."""
    try:
        return open_space(table.meta.space["name"], table.meta.space.get("options", {}))
    except UserError as exc:
        raise DataError(f"{table.folder / METADATA}: the table's space cannot be opened here: {exc}") from None


def export_record(row: Row, metric_names: list[str]) -> dict[str, Any]:
    """A row with the status the table answers it with (a row that stayed at chance is
    ``failed``, with its reason) and the metrics it measured."""
    answer = row.result()
    return {"arch_id": row.arch_id, "card": json.dumps(row.card, sort_keys=True), "seed": row.seed,
            "status": answer.status, "reason": answer.reason or "", "cost_seconds": row.cost_seconds,
            **{m: row.metrics.get(m, "") for m in metric_names}}


def export(table: Table, out: str | None) -> None:
    """The table's rows as CSV on stdout, or to the file ``out`` (JSON Lines where it ends in
    ``.jsonl``), written whole or not at all; a folder or an unwritable path is refused."""
    metric_names = [m.name for m in table.meta.metrics]
    records = [export_record(r, metric_names) for r in table.rows]
    if not out:
        write_csv(sys.stdout, records, metric_names)
        return
    path = Path(out)
    if path.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name (.csv, or .jsonl for JSON Lines)")
    if out.endswith(".jsonl"):
        text = "".join(json.dumps(r) + "\n" for r in records)
    else:
        buffer = io.StringIO(newline="")
        write_csv(buffer, records, metric_names)
        text = buffer.getvalue()
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write it ({exc.strerror or exc}); nothing was written") from None


def write_csv(handle: TextIO, records: list[dict[str, Any]], metric_names: list[str]) -> None:
    """``records`` (of :func:`export_record`) as CSV with a header, to ``handle``."""
    writer = csv.DictWriter(handle, fieldnames=["arch_id", "card", "seed", "status", "reason",
                                                "cost_seconds", *metric_names])
    writer.writeheader()
    writer.writerows(records)


def handle(args: argparse.Namespace) -> int:
    # Each action imports its own modules, not all at the top: retime and build pull in torch,
    # info and surrogate LightGBM, seconds of start-up that the other actions (and every
    # message about a mistyped name or a bad file) would otherwise wait for.
    if args.action == "export":
        export(find_table(args.table), args.out)
        return 0
    if args.action == "build":
        from nasbench_txf.tables.build import BuildRequest, build, read_cards

        request = BuildRequest(args.space, plugin_options(args, "space"), args.benchmark, args.task,
                               plugin_options(args, "benchmark"), n=args.n, seeds=args.seeds,
                               repeated=args.repeated, sample_seed=args.sample_seed,
                               cards=read_cards(Path(args.cards)) if args.cards else ())
        summary = describe(build(request, args.out, workers=args.workers))
    elif args.action == "import":
        from nasbench_txf.tables.importing import import_table

        space = open_space(args.space, plugin_options(args, "space"))
        unknown = [m for m in args.minimize if m not in args.metric]
        if unknown:
            raise UserError(f"--minimize {', '.join(unknown)} is not one of the --metric columns")
        metrics = [Metric(m, maximize=m not in args.minimize) for m in args.metric]
        report = import_table(args.file, space, metrics, args.task, args.out)
        for problem in report.skipped:
            print(f"nasbench-txf: skipped {problem}", file=sys.stderr)
        summary = {**describe(Table.read(args.out)), "imported": report.imported, "skipped": len(report.skipped)}
    elif args.action == "surrogate":
        from nasbench_txf.surrogate.surrogate import Surrogate

        table = find_table(args.table)
        folder = contained(table.folder, "surrogate", "the surrogate's folder")  # refused before the fit
        Surrogate.fit(table, table_space(table)).save(folder)
        summary = describe(table)
    elif args.action == "retime":
        from nasbench_txf.tables.retime import retime

        if args.threads < 1:
            raise UserError(f"--threads must be at least 1, got {args.threads}")
        table = find_table(args.table)
        report = retime(table, table_space(table), device=args.device, threads=args.threads)
        summary = {"rows": report.rows, "metrics": list(report.metrics), "timed_on": report.timed_on,
                   "median_new_over_build": report.median_ratio}
    else:
        tables = [find_table(args.table)] if args.table else [Table.read(f) for f in builtin_folders()]
        summary = {"tables": [describe(t) for t in tables]} if not args.table else describe(tables[0])
    emit(summary, args.json)
    return 0
