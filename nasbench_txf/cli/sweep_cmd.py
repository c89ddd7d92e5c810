"""``nasbench-txf sweep``: the grid of strategies × encodings × seeds on one benchmark."""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_txf.cli.common import add_plugin_options, command_line, plugin_options, print_json
from nasbench_txf.cli.run_cmd import DEFAULT_BENCHMARK
from nasbench_txf.core.errors import UserError
from nasbench_txf.run.executors import Executor
from nasbench_txf.run.problems import get_suite
from nasbench_txf.run.runner import CellSummary, run_cells
from nasbench_txf.run.simulation import Simulation
from nasbench_txf.run.sweep import SweepPlan, SweepRequest, check_store, claim_store, plan
from nasbench_txf.run.trials import Budget
from nasbench_txf.run.variants import variant_label


def register(sub: Any) -> None:
    parser = sub.add_parser("sweep", help="run every strategy × encoding × seed cell of a grid")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--space", help="design space")
    target.add_argument("--suite", metavar="NAME",
                        help="every problem of a suite instead (see `list problems`); --store is then a folder "
                             "with one store per problem")
    parser.add_argument("--benchmark", default=DEFAULT_BENCHMARK, help=f"benchmark (default: {DEFAULT_BENCHMARK})")
    parser.add_argument("--task", help="task of the benchmark (default: the benchmark's own)")
    parser.add_argument("--strategies", default="all",
                        help="comma-separated strategies, all (default), or variants with options: "
                             "'all,optuna(sampler=cmaes),es(population=20)'")
    parser.add_argument("--encodings", default=None,
                        help="comma-separated encodings, or all (default; with --suite, the suite's own, see "
                             "`list problems`); used by strategies that need one")
    parser.add_argument("--seeds", type=int, default=10, metavar="N", help="seeds 0..N-1 per combination (default 10)")
    parser.add_argument("--budget", type=int, default=None, metavar="N",
                        help="queries per cell (default 100 unless --budget-seconds; with --suite, each problem's)")
    parser.add_argument("--budget-seconds", type=float, default=None, metavar="S",
                        help="simulated seconds per cell")
    parser.add_argument("--sim-workers", type=int, default=1, metavar="N",
                        help="asynchronous workers each cell simulates (default 1)")
    parser.add_argument("--no-sim-overhead", action="store_true",
                        help="leave the strategies' compute time off the simulated clock (exactly reproducible)")
    parser.add_argument("--workers", type=int, default=2,
                        help="cells run in parallel: local processes, or the CPUs of a local Ray instance (default 2)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local process pool (default) or Ray tasks")
    parser.add_argument("--ray-address", default=None, metavar="auto|HOST:PORT",
                        help="Ray cluster to join (default: start a local Ray instance)")
    parser.add_argument("--ray-retries", type=int, default=1, metavar="N",
                        help="re-runs of a trial whose Ray worker died, before it is stored as failed (default 1)")
    parser.add_argument("--store", type=Path, required=True,
                        help="the sweep's SQLite store, or with --suite its folder (resumed if it exists)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_plugin_options(parser, ("space", "benchmark"))
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if min(args.seeds, args.workers, args.sim_workers) < 1 or args.ray_retries < 0:
        raise UserError("--seeds, --workers and --sim-workers must be at least 1, --ray-retries at least 0")
    simulation = Simulation(workers=args.sim_workers, overhead=not args.no_sim_overhead)
    if args.suite is not None:
        return _handle_suite(args, simulation)
    queries = args.budget if args.budget is not None or args.budget_seconds is not None else 100
    request = SweepRequest(
        space=args.space, benchmark=args.benchmark, task=args.task, strategies=args.strategies,
        encodings="all" if args.encodings is None else args.encodings, seeds=range(args.seeds),
        space_options=plugin_options(args, "space"), benchmark_options=plugin_options(args, "benchmark"),
        simulation=simulation,
    )
    budget = Budget(queries=queries, seconds=args.budget_seconds)
    grid = plan(request, asdict(budget))
    claim_store(args.store, grid.key, command_line())
    result = _sweep(args, grid, budget, args.store, _executor(args))
    if args.json:
        print_json(result)
    return 0


def _handle_suite(args: argparse.Namespace, simulation: Simulation) -> int:
    """Every problem of the suite, one store each in the ``--store`` folder."""
    given = [flag for flag, value in (("--benchmark", args.benchmark != DEFAULT_BENCHMARK), ("--task", args.task),
                                      ("--space-opt", args.space_opt), ("--benchmark-opt", args.benchmark_opt))
             if value]
    if given:
        raise UserError(f"{', '.join(given)}: a suite's problems name their own benchmark, task and options; "
                        "leave these out with --suite")
    suite, problems = get_suite(args.suite)
    if args.store.exists() and not args.store.is_dir():
        raise UserError(f"--store {args.store}: with --suite the store is a folder (one store per problem), "
                        "and this is a file")
    encodings = suite.encodings if args.encodings is None else args.encodings
    requests = [SweepRequest.of_problem(p, args.strategies, encodings, range(args.seeds), simulation)
                for p in problems]
    budgets = [Budget(queries=args.budget if args.budget is not None else p.budget, seconds=args.budget_seconds)
               for p in problems]
    grids = [plan(request, asdict(budget)) for request, budget in zip(requests, budgets, strict=True)]
    for problem, grid in zip(problems, grids, strict=True):  # refuse a folder of other sweeps before writing
        check_store(problem.store(args.store), grid.key)
    args.store.mkdir(parents=True, exist_ok=True)
    for problem, grid in zip(problems, grids, strict=True):
        claim_store(problem.store(args.store), grid.key, command_line())
    executor = _executor(args)
    results = {}
    for number, (problem, grid, budget) in enumerate(zip(problems, grids, budgets, strict=True), start=1):
        print(f"[{number}/{len(problems)}] suite {suite.name}: problem {problem.name} — {problem.description}",
              file=sys.stderr if args.json else sys.stdout)
        results[problem.name] = _sweep(args, grid, budget, problem.store(args.store), executor)
    if args.json:
        print_json({"suite": suite.name, "problems": results})
    return 0


def _executor(args: argparse.Namespace) -> Executor | None:
    if args.executor == "ray":
        from nasbench_txf.run.executors import RayTasks

        RayTasks.connect(args.ray_address, num_cpus=args.workers)
        return RayTasks()
    if args.ray_address is not None:
        raise UserError("--ray-address needs --executor ray")
    return None  # run_cells' own choice: this process, or a pool of --workers processes


def _sweep(args: argparse.Namespace, grid: SweepPlan, budget: Budget, store: Path,
           executor: Executor | None) -> dict[str, Any]:
    """Run the claimed sweep's cells; print its summary unless ``--json`` (then return it)."""
    for skip in grid.skipped:
        print(f"skipped {skip.label}: {skip.reason}", file=sys.stderr)
    started = time.perf_counter()
    summaries = run_cells(grid.cells, store, budget, resume="auto", executor=executor, workers=args.workers,
                          retries=args.ray_retries, command=command_line())
    return report(store, grid.cells, summaries, time.perf_counter() - started, args.json,
                  [asdict(s) for s in grid.skipped])


def report(store: Path, cells: list[Any], summaries: list[CellSummary], seconds: float, as_json: bool,
           skipped: list[dict[str, Any]]) -> dict[str, Any]:
    """The sweep's rows (best value per strategy × encoding over seeds); printed as a table unless ``as_json``."""
    groups: dict[tuple[str, str | None], list[CellSummary]] = defaultdict(list)
    for cell, summary in zip(cells, summaries, strict=True):
        groups[(variant_label(cell.strategy, cell.strategy_options), cell.encoding)].append(summary)
    rows = []
    for (strategy, encoding), found in groups.items():
        best = [s.best_value for s in found if s.best_value is not None]
        rows.append({"strategy": strategy, "encoding": encoding, "cells": len(found),
                     "best_mean": float(np.mean(best)) if best else None,
                     "best_std": float(np.std(best)) if best else None})
    result = {"store": str(store), "wall_seconds": seconds, "rows": rows, "skipped": skipped}
    if as_json:
        return result
    objective = summaries[0].objective if summaries else "score"
    width = max([18, *(len(row["strategy"]) for row in rows)])
    print(f"{'strategy':<{width}} {'encoding':<9} {'cells':>5}  best {objective} (mean ± std over seeds)")
    for row in rows:
        value = "no successful trial" if row["best_mean"] is None else f"{row['best_mean']:.4f} ± {row['best_std']:.4f}"
        print(f"{row['strategy']:<{width}} {row['encoding'] or '-':<9} {row['cells']:>5}  {value}")
    print(f"{len(summaries)} cells in {seconds:.1f} s; store: {store}")
    return result
