"""``nasbench-txf run``: search a space with a strategy against a benchmark."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from nasbench_txf.cli.common import add_plugin_options, command_line, plugin_options, print_json
from nasbench_txf.core.arch import canonical_json
from nasbench_txf.core.errors import UserError
from nasbench_txf.run.cell import MAX_SEED, CellSpec
from nasbench_txf.run.runner import CellSummary, run_cells
from nasbench_txf.run.trials import Budget

DEFAULT_BENCHMARK = "surrogate"


def register(sub: Any) -> None:
    parser = sub.add_parser("run", help="run a search strategy on a design space")
    parser.add_argument("--space", required=True, help="design space (see `list spaces`)")
    parser.add_argument("--strategy", required=True, help="search strategy (see `list strategies`)")
    parser.add_argument("--encoding", help="architecture encoding, for strategies that model performance")
    parser.add_argument("--benchmark", default=DEFAULT_BENCHMARK,
                        help=f"benchmark (default: {DEFAULT_BENCHMARK}, the built-in one)")
    parser.add_argument("--task", help="task of the benchmark (default: the benchmark's own)")
    parser.add_argument("--budget", type=int, default=None, metavar="N",
                        help="number of queries per seed (default 100 unless --budget-seconds)")
    parser.add_argument("--budget-seconds", type=float, default=None, metavar="S",
                        help="simulated seconds per seed (sum of the benchmark's costs)")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, action="append", metavar="S",
                       help="seed of the run (repeatable; default 0)")
    seeds.add_argument("--seeds", type=int, metavar="N", help="run seeds 0..N-1")
    parser.add_argument("--workers", type=int, default=1, help="cells run in parallel (local processes)")
    parser.add_argument("--store", type=Path,
                        help="SQLite run store (default: a new file under runs/)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --store where it stopped")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_plugin_options(parser)
    parser.set_defaults(handler=handle)


#: the most seeds one command runs
MAX_SEEDS = 10_000


def seeds_of(args: argparse.Namespace) -> list[int]:
    if args.seeds is not None:
        if not 1 <= args.seeds <= MAX_SEEDS:
            raise UserError(f"--seeds must be from 1 to {MAX_SEEDS:,}, got {args.seeds}")
        return list(range(args.seeds))
    seeds = args.seed or [0]
    if len(set(seeds)) != len(seeds):
        raise UserError("--seed given twice with the same value")
    if bad := [s for s in seeds if not 0 <= s <= MAX_SEED]:
        raise UserError(f"--seed must be a whole number from 0 to {MAX_SEED:,}, got {bad[0]}")
    return seeds


def default_store(args: argparse.Namespace) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    parts = [args.space, args.strategy, *([args.encoding] if args.encoding else []), stamp]
    return Path("runs") / ("-".join(parts) + ".sqlite")


def handle(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    if args.resume and args.store is None:
        raise UserError("--resume needs --store, the run store of the run to continue")
    if args.store is not None and args.resume and not args.store.exists():
        raise UserError(f"--resume: {args.store} does not exist, so there is nothing to resume; "
                        "run without --resume to start")
    queries = args.budget if args.budget is not None or args.budget_seconds is not None else 100
    budget = Budget(queries=queries, seconds=args.budget_seconds)
    options = {kind: plugin_options(args, kind) for kind in ("space", "strategy", "encoding", "benchmark")}
    specs = [
        CellSpec(
            space=args.space, strategy=args.strategy, benchmark=args.benchmark, seed=seed,
            encoding=args.encoding, task=args.task,
            space_options=options["space"], strategy_options=options["strategy"],
            encoding_options=options["encoding"], benchmark_options=options["benchmark"],
        )
        for seed in seeds_of(args)
    ]
    store = args.store or default_store(args)
    summaries = run_cells(specs, store, budget, resume=args.resume, workers=args.workers,
                          command=command_line())
    report(store, summaries, as_json=args.json)
    return 0


def best_of(summaries: list[CellSummary]) -> CellSummary | None:
    found = [s for s in summaries if s.best_value is not None]
    if not found:
        return None
    sign = 1.0 if found[0].maximize else -1.0
    return max(found, key=lambda s: sign * float(s.best_value))  # type: ignore[arg-type]


def report(store: Path, summaries: list[CellSummary], *, as_json: bool) -> None:
    best = best_of(summaries)
    if as_json:
        print_json({
            "store": str(store),
            "objective": summaries[0].objective,
            "maximize": summaries[0].maximize,
            "best": asdict(best) if best else None,
            "cells": [asdict(s) for s in summaries],
        })
        return
    for s in summaries:
        value = "no successful trial" if s.best_value is None else f"best {s.objective} {s.best_value:.4f}"
        failed = f", {s.failed} failed" if s.failed else ""
        print(f"seed {s.seed}: {s.trials} trials{failed}, {value}")
    if best is not None:
        print(f"best card (seed {best.seed}): {best.best_card}")
    for s in summaries:
        if s.pareto:
            names = s.pareto_objectives
            print(f"Pareto set of seed {s.seed} ({', '.join(names)}): {len(s.pareto)} archs")
            for member in sorted(s.pareto, key=lambda m: m[names[0]]):
                values = ", ".join(f"{n} {member[n]:.4g}" for n in names)
                print(f"  {values}  {canonical_json(member['card'])}")
    print(f"store: {store}")
