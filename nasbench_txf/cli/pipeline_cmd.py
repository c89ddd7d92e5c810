"""``nasbench-txf pipeline``: a hierarchical search across a space's levels, coarse to fine."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nasbench_txf.cli.common import add_plugin_options, command_line, plugin_options, print_json
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.files import atomic_path
from nasbench_txf.run.cell import CellSpec
from nasbench_txf.run.pipeline import PipelineSpec, run_pipeline
from nasbench_txf.run.pipeline_report import pipeline_report, to_markdown
from nasbench_txf.run.store import Store


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "pipeline", help="search a hierarchical space level by level (FlexiBERT's pipeline)",
        description="Search level 1, take its best archs and their neighbours, search the finer space "
                    "they span, and so on; every level's trials go to one store, and the run resumes.")
    parser.add_argument("space", help="a hierarchical space (flexibert); its options set the first level")
    parser.add_argument("--strategy", default="boshnas", help="search strategy of every level (default boshnas)")
    parser.add_argument("--encoding", help="architecture encoding (default: the strategy's)")
    parser.add_argument("--benchmark", default="live", help="benchmark (default live: trains each card)")
    parser.add_argument("--task", help="task of the benchmark (default: the benchmark's own)")
    parser.add_argument("--budgets", default="20,10,10", metavar="N1,N2,...",
                        help="queries of each level; their count is the number of levels (default 20,10,10)")
    parser.add_argument("--top-k", type=int, default=3, help="best archs of a level that span the next (default 3)")
    parser.add_argument("--neighbours", type=int, default=2,
                        help="nearest trained archs of each best one that join them (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every level's search (default 0)")
    parser.add_argument("--store", type=Path, required=True, help="SQLite run store of every level")
    parser.add_argument("--resume", action="store_true", help="continue the pipeline in --store")
    parser.add_argument("--out", type=Path, help="also write report.md and report.json into this folder")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_plugin_options(parser)
    parser.set_defaults(handler=handle)


def budgets_of(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"--budgets must be whole numbers separated by commas (one per level), got {text!r}") from None


def handle(args: argparse.Namespace) -> int:
    if args.resume and not args.store.exists():
        raise UserError(f"--resume: {args.store} does not exist, so there is nothing to resume; run without --resume")
    if args.out is not None:  # made first: a folder that cannot be written is refused before the search
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--out {args.out}: cannot make the folder ({exc.strerror or exc})") from None
    options = {kind: plugin_options(args, kind) for kind in ("space", "strategy", "encoding", "benchmark")}
    cell = CellSpec(space=args.space, strategy=args.strategy, benchmark=args.benchmark, seed=args.seed,
                    encoding=args.encoding, task=args.task, space_options=options["space"],
                    strategy_options=options["strategy"], encoding_options=options["encoding"],
                    benchmark_options=options["benchmark"])
    spec = PipelineSpec(cell, budgets_of(args.budgets), top_k=args.top_k, neighbours=args.neighbours)
    run_pipeline(spec, args.store, resume=args.resume, command=command_line())
    with Store.open(args.store, create=False) as store:
        report = pipeline_report(store)
    if args.out is not None:
        for name, text in (("report.md", to_markdown(report)),
                           ("report.json", json.dumps(report.as_dict(), indent=2, sort_keys=True) + "\n")):
            with atomic_path(args.out / name) as partial:
                partial.write_text(text)
    if args.json:
        print_json(report.as_dict())
    else:
        for lv in report.levels:
            best = "no successful trial" if lv.best_value is None else f"best {report.objective} {lv.best_value:.4f}"
            print(f"level {lv.level}: {lv.trials} trials ({lv.cardinality:,} cards), {best}")
        t = report.transfer
        print(f"knowledge transfer: {t.transferred} of {t.trials} trials started from a neighbour's weights"
              + (f"; training time saved {100 * t.time_saved:.0f}% against from-scratch trials of similar size"
                 if t.time_saved is not None else ""))
        if (best_level := report.best) is not None:
            print(f"best card (level {best_level.level}): {best_level.best_card}")
        print(f"store: {args.store}" + (f"; report: {args.out / 'report.md'}" if args.out else ""))
    return 0
