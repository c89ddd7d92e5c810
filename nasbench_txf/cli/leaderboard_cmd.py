"""``nasbench-txf leaderboard``: compare the runs of a store (show, publish, grid, ablation)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from nasbench_txf.cli.common import command_line, print_json
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.files import write_atomic


def register(sub: Any) -> None:
    parser = sub.add_parser("leaderboard", help="aggregate, test, plot and publish the runs of a store")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = _common(actions.add_parser("show", help="print the leaderboard of each benchmark in the store"))
    show.add_argument("--json", action="store_true", help="print the numbers as JSON")
    show.add_argument("--suite", metavar="NAME",
                      help="STORE is the folder of a `sweep --suite NAME`: print the ranking across its problems")
    show.set_defaults(handler=handle_show)
    publish = _common(actions.add_parser("publish", help="write Markdown, CSV, PNG plots and a static HTML site"))
    publish.add_argument("--out", type=Path, required=True, metavar="DIR",
                         help="folder to write: a new or empty one, or an earlier publish's site (replaced); "
                              "a folder with other files is refused")
    publish.add_argument("--markdown", type=Path, metavar="FILE",
                         help="also write the Markdown page to this file, with image links relative to it")
    publish.add_argument("--suite", metavar="NAME",
                         help="STORE is the folder of a `sweep --suite NAME`: publish the overview across its "
                              "problems and one page per problem")
    publish.add_argument("--family", default="boshnas",
                         help="strategy family of the ablation section (default boshnas)")
    publish.set_defaults(handler=handle_publish)
    grid = _common(actions.add_parser("grid", help="the strategy × encoding grid [FLEXIBERT23 Fig. 3]"))
    grid.add_argument("--measure", choices=("score", "regret"), default="score",
                      help="best score (default) or regret at the end")
    grid.add_argument("--out", type=Path, help="also write the grid as Markdown and a bar plot into this folder")
    grid.set_defaults(handler=handle_grid)
    ablation = _common(actions.add_parser("ablation", help="a strategy and its ablations [FLEXIBERT23 Fig. 4(b)]"))
    ablation.add_argument("--family", default="boshnas",
                          help="the strategy whose NAME-… ablations to compare (default boshnas)")
    ablation.add_argument("--out", type=Path, help="also write the table and the best-score plot into this folder")
    ablation.set_defaults(handler=handle_ablation)


def _common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("store", type=Path, help="a run store (from run or sweep)")
    parser.add_argument("--space", help="only runs of this space")
    parser.add_argument("--benchmark", help="only runs of this benchmark")
    parser.add_argument("--task", help="only runs of this task")
    parser.add_argument("--budgets", default="25,50,100", metavar="N,N,…",
                        help="query budgets to report besides the end (default 25,50,100)")
    parser.add_argument("--target", type=float, default=None, metavar="REGRET",
                        help="regret counted as reaching the target, in the objective's units (default: random "
                             "search's mean regret after the common budget, or 1%% of the best without it)")
    return parser


def _settings(args: argparse.Namespace) -> Any:
    from nasbench_txf.leaderboard.aggregate import Settings

    try:
        budgets = tuple(int(b) for b in args.budgets.split(",") if b.strip())
    except ValueError:
        raise UserError(f"--budgets {args.budgets!r}: give comma-separated whole numbers, e.g. 25,50,100") from None
    bad_target = args.target is not None and not (math.isfinite(args.target) and args.target >= 0)
    if any(b < 1 for b in budgets) or bad_target:
        raise UserError("--budgets must be positive and --target a non-negative number")
    return Settings(budgets=budgets, target=args.target)


def _tables(args: argparse.Namespace) -> list[Any]:
    from nasbench_txf.leaderboard.collect import read_tables

    return read_tables(args.store, space=args.space, benchmark=args.benchmark, task=args.task)


def _pipelines(path: Path) -> list[Any]:
    """The report of the pipeline in the store at ``path``, if it holds one."""
    from nasbench_txf.run.pipeline import META_KEY
    from nasbench_txf.run.pipeline_report import pipeline_report
    from nasbench_txf.run.store import Store

    with Store.open(path, create=False) as store:
        return [pipeline_report(store)] if store.meta(META_KEY) is not None else []


def handle_show(args: argparse.Namespace) -> int:
    from nasbench_txf.leaderboard.aggregate import leaderboard
    from nasbench_txf.leaderboard.render import Provenance, markdown, table_json

    settings = _settings(args)
    if args.suite is not None:
        return _show_suite(args)
    tables = _tables(args)
    if args.json:
        print_json([table_json(t, leaderboard(t, settings), settings) for t in tables])
        return 0
    provenance = Provenance(command_line())
    for table in tables:
        print(markdown(table, leaderboard(table, settings), settings, provenance))
    return 0


def _no_filters(args: argparse.Namespace) -> None:
    given = [f"--{name}" for name in ("space", "benchmark", "task", "target") if getattr(args, name) is not None]
    if given:
        raise UserError(f"{', '.join(given)}: a suite's problems name their own (and their own units); leave these "
                        "out with --suite")


def _show_suite(args: argparse.Namespace) -> int:
    from nasbench_txf.leaderboard.across import aggregate, problem_scores
    from nasbench_txf.leaderboard.render import md_table
    from nasbench_txf.leaderboard.suite import read_suite
    from nasbench_txf.leaderboard.suite_pages import aggregate_frame, aggregate_json

    _no_filters(args)
    suite, runs = read_suite(args.store, args.suite)
    per_problem = [problem_scores(r.problem, r.table) for r in runs]
    agg = aggregate(per_problem)
    if args.json:
        print_json(aggregate_json(agg, per_problem))
        return 0
    print(f"suite {suite.name}: {len(agg.methods)} strategies, {len(agg.problems)} problems, "
          f"{len(agg.seeds)} seeds (normalised regret: 0 = best known, 1 = random search)\n")
    print(md_table(aggregate_frame(agg, per_problem)))
    return 0


def handle_publish(args: argparse.Namespace) -> int:
    from nasbench_txf.leaderboard.publish import check_targets, publish
    from nasbench_txf.leaderboard.render import Provenance

    if args.suite is not None:
        from nasbench_txf.leaderboard.suite_pages import publish_suite

        _no_filters(args)
        files = publish_suite(args.store, args.suite, args.out, _settings(args), Provenance(command_line()),
                              markdown_copy=args.markdown)
        print(f"wrote {len(files)} files to {args.out}; open {args.out / 'index.html'} in a browser")
        return 0
    check_targets(args.out, args.markdown, args.store)  # refuse before reading the store
    files = publish(_tables(args), args.out, _settings(args), Provenance(command_line()), family=args.family,
                    markdown_copy=args.markdown, store=args.store, pipelines=_pipelines(args.store))
    print(f"wrote {len(files)} files to {args.out}: {', '.join(files)}")
    print(f"open {args.out / 'index.html'} in a browser, or read {args.out / 'leaderboard.md'}")
    return 0


def handle_grid(args: argparse.Namespace) -> int:
    from nasbench_txf.leaderboard import views
    from nasbench_txf.leaderboard.aggregate import leaderboard
    from nasbench_txf.leaderboard.collect import one_table
    from nasbench_txf.leaderboard.render import md_table

    table = one_table(_tables(args))
    grid = views.grid(table, leaderboard(table, _settings(args)), args.measure)
    text = md_table(grid.text())
    print(f"{args.measure} after {table.horizon} queries, mean ± 90% CI — {table.key.title}\n\n{text}")
    if args.out is not None:
        from nasbench_txf.leaderboard import plots

        _folder(args.out)
        write_atomic(args.out / "grid.md", text + "\n")
        label = f"best {table.objective}" if args.measure == "score" else f"regret ({table.objective})"
        plots.grid_bars(grid.mean, grid.half, f"{label}: strategy × encoding", label, args.out / "grid.png")
        print(f"wrote {args.out / 'grid.md'} and {args.out / 'grid.png'}")
    return 0


def handle_ablation(args: argparse.Namespace) -> int:
    from nasbench_txf.leaderboard import views
    from nasbench_txf.leaderboard.aggregate import leaderboard
    from nasbench_txf.leaderboard.collect import one_table
    from nasbench_txf.leaderboard.render import Provenance, markdown

    settings = _settings(args)
    members = views.family(one_table(_tables(args)), args.family)
    text = markdown(members, leaderboard(members, settings), settings, Provenance(command_line()),
                    title=f"Ablation of {args.family} — {members.key.title}")
    print(text)
    if args.out is not None:
        from nasbench_txf.leaderboard import plots

        _folder(args.out)
        write_atomic(args.out / "ablation.md", text)
        plots.by_queries(members, args.out / "ablation.png", what="score")
        print(f"wrote {args.out / 'ablation.md'} and {args.out / 'ablation.png'}")
    return 0


def _folder(path: Path) -> None:
    """Create the ``--out`` folder of ``grid`` or ``ablation``, or refuse a path that cannot be one."""
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {path}: cannot create the folder ({exc.strerror or exc})") from None
