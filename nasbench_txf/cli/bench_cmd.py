"""``nasbench-txf bench build|import|export|info|surrogate|retime``: make and inspect tables."""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_txf.bench_build import BuildRequest, build
from nasbench_txf.builtin_tables import builtin_folders
from nasbench_txf.cli.common import add_plugin_options, emit, plugin_options
from nasbench_txf.errors import UserError
from nasbench_txf.registry import get_space
from nasbench_txf.result import Metric
from nasbench_txf.retime import retime
from nasbench_txf.seed_noise import noise_level, signal_level, typical_noise_level
from nasbench_txf.space import Space
from nasbench_txf.surrogate import Surrogate, fidelity
from nasbench_txf.table_import import import_table
from nasbench_txf.tabular import Row, Table


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


def open_space(name: str, options: dict[str, str]) -> Space:
    cls = get_space(name)
    return cls(cls.make_options(options))


def find_table(name: str) -> Table:
    for folder in builtin_folders():
        if folder.name == name:
            return Table.read(folder)
    return Table.read(Path(name))


def table_space(table: Table) -> Space:
    return open_space(table.meta.space["name"], table.meta.space.get("options", {}))


def seed_values(table: Table, metric: str) -> list[np.ndarray]:
    """Each arch's successful measurements of ``metric``, one array per arch."""
    values = ([r.metrics[metric] for r in rows if r.status == "ok" and metric in r.metrics]
              for rows in table.by_arch().values())
    return [np.array(x) for x in values if x]


def signal_to_noise(table: Table) -> dict[str, dict[str, float | None]]:
    """Arch signal against seed noise for every metric that varies between seeds.

    Says which metric of a table separates archs best: a metric whose signal is well under its
    noise ranks archs mostly by luck, whatever the surrogate does. Given twice: with the
    pooled seed noise, and with the typical arch's (``typical_*``), which a few unstable archs
    cannot swamp.
    """
    out: dict[str, dict[str, float | None]] = {}
    for metric in (m for m in table.meta.metrics if not m.timed):
        by_seed = seed_values(table, metric.name)
        noise, typical = noise_level(by_seed), typical_noise_level(by_seed)
        if noise > 0:
            signal, typical_signal = signal_level(by_seed, noise), signal_level(by_seed, typical)
            out[metric.name] = {
                "seed_noise_std": noise, "arch_signal_std": signal,
                "ratio": None if signal is None else signal / noise,
                "typical_seed_noise_std": typical, "typical_arch_signal_std": typical_signal,
                "typical_ratio": None if typical_signal is None else typical_signal / typical,
            }
    return out


def measured_with(table: Table) -> dict[str, int]:
    """Rows by the device and precision their training ran in, e.g. ``{"cpu/bf16": 472}``
    (rows of a live table; ``unrecorded`` before the precision was recorded).

    bf16 is a speed option, not part of the recipe: whether it is used depends on the
    machine (CUDA, or a CPU with native bf16), and it moves scores a little, so a table
    built on several machines says what it mixes.
    """
    counts = Counter(condition(row) for row in table.rows if "device" in row.info)
    return dict(sorted(counts.items()))


def condition(row: Row) -> str:
    return f"{row.info['device']}/{row.info.get('precision', 'unrecorded')}"


def condition_effects(table: Table) -> dict[str, dict[str, float | int | None]]:
    """How far the objective moves between two conditions of :func:`measured_with`
    (``"cpu/fp32 - cpu/bf16"``), from the archs measured under both: the mean over those
    archs of the difference of their means, with its standard error.

    Seed noise averages out of the difference, and the arch is the same on both sides, so
    what is left is the condition's effect: whether a table built on several machines can
    pool their rows.
    """
    objective = table.meta.metrics[0].name
    by_arch: dict[str, dict[str, list[float]]] = {}
    for row in table.rows:
        if row.status == "ok" and "device" in row.info:
            by_arch.setdefault(row.arch_id, {}).setdefault(condition(row), []).append(row.metrics[objective])
    differences: dict[str, list[float]] = {}
    for groups in by_arch.values():
        for first, second in itertools.combinations(sorted(groups), 2):
            differences.setdefault(f"{second} - {first}", []).append(
                float(np.mean(groups[second]) - np.mean(groups[first])))
    return {pair: {"archs": len(d), "mean": float(np.mean(d)),
                   "std_error": float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None}
            for pair, d in sorted(differences.items())}


def timed_on(table: Table) -> dict[str, int]:
    """Rows by the machine that measured their timed metrics (``unrecorded`` for rows that do
    not say); empty for a table with no timed metric."""
    if not any(m.timed for m in table.meta.metrics):
        return {}
    counts = Counter(str(row.info.get("timed_on", "unrecorded")) for row in table.rows if row.status == "ok")
    return dict(sorted(counts.items()))


def describe(table: Table) -> dict[str, Any]:
    by_arch = table.by_arch()
    objective = table.meta.metrics[0].name
    ok = [r for r in table.rows if r.status == "ok"]
    by_seed = seed_values(table, objective)
    means = [x.mean() for x in by_seed]
    seeds = {}
    for rows in by_arch.values():
        seeds[len(rows)] = seeds.get(len(rows), 0) + 1
    out: dict[str, Any] = {
        "folder": str(table.folder), "space": table.meta.space, "task": table.meta.task,
        "source": table.meta.source, "metrics": [m.name for m in table.meta.metrics],
        "rows": len(table.rows), "failed_rows": len(table.rows) - len(ok), "archs": len(by_arch),
        "archs_by_seed_count": {str(k): v for k, v in sorted(seeds.items())},
        "objective": objective,
        "objective_mean": float(np.mean(means)) if means else None,
        "objective_std_across_archs": float(np.std(means, ddof=1)) if len(means) > 1 else None,
        "objective_seed_noise_std": noise_level(by_seed),
        "objective_typical_seed_noise_std": typical_noise_level(by_seed),
        "objective_arch_signal_std": signal_level(by_seed),
        "signal_to_noise": signal_to_noise(table),
        "measured_seconds": float(sum(r.cost_seconds for r in table.rows)),
        "measured_with": measured_with(table),
        "condition_effects": condition_effects(table),
        "timed_on": timed_on(table),
    }
    stored = table.folder / "surrogate" / "surrogate.json"
    if stored.is_file():
        meta = json.loads(stored.read_text(encoding="utf-8"))
        out["surrogate"] = {k: meta[k] for k in ("archs", "config", "noise_std", "score_std_across_archs",
                                                 "validation")}
        out["surrogate"]["configs"] = meta.get("configs", {})  # format 4: each metric's chosen model
        objective_noise = meta.get("noise", {}).get(meta["objective"], {"model": "constant"})  # format 1: one level
        out["surrogate"]["noise_model"] = objective_noise["model"]
        out["surrogate"]["noise_parameters"] = {k: v for k, v in objective_noise.items()
                                                if k not in ("model", "log_likelihood", "std", "typical_std")}
        out["surrogate"]["fidelity"] = fidelity(meta)
    return out


def export(table: Table, out: str | None) -> None:
    metric_names = [m.name for m in table.meta.metrics]
    records = [{"arch_id": r.arch_id, "card": json.dumps(r.card, sort_keys=True), "seed": r.seed,
                "status": r.status, "reason": r.reason or "", "cost_seconds": r.cost_seconds,
                **{m: r.metrics.get(m, "") for m in metric_names}} for r in table.rows]
    if out and out.endswith(".jsonl"):
        Path(out).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        return
    handle = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout  # noqa: SIM115
    try:
        writer = csv.DictWriter(handle, fieldnames=["arch_id", "card", "seed", "status", "reason",
                                                    "cost_seconds", *metric_names])
        writer.writeheader()
        writer.writerows(records)
    finally:
        if out:
            handle.close()


def handle(args: argparse.Namespace) -> int:
    if args.action == "build":
        request = BuildRequest(args.space, plugin_options(args, "space"), args.benchmark, args.task,
                               plugin_options(args, "benchmark"), n=args.n, seeds=args.seeds,
                               repeated=args.repeated, sample_seed=args.sample_seed)
        table = build(request, args.out, workers=args.workers)
        summary = describe(table)
    elif args.action == "import":
        space = open_space(args.space, plugin_options(args, "space"))
        unknown = [m for m in args.minimize if m not in args.metric]
        if unknown:
            raise UserError(f"--minimize {', '.join(unknown)} is not one of the --metric columns")
        metrics = [Metric(m, maximize=m not in args.minimize) for m in args.metric]
        report = import_table(args.file, space, metrics, args.task, args.out)
        for problem in report.skipped:
            print(f"nasbench-txf: skipped {problem}", file=sys.stderr)
        summary = {**describe(Table.read(args.out)), "imported": report.imported, "skipped": len(report.skipped)}
    elif args.action == "export":
        export(find_table(args.table), args.out)
        return 0
    elif args.action == "surrogate":
        table = find_table(args.table)
        Surrogate.fit(table, table_space(table)).save(table.folder / "surrogate")
        summary = describe(table)
    elif args.action == "retime":
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
