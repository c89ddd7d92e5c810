"""``nasbench-txf study encodings``: how well each predictor ranks a table's archs on each encoding."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nasbench_txf.cli.bench_cmd import find_table, table_space
from nasbench_txf.cli.common import print_json
from nasbench_txf.core.errors import OptionError
from nasbench_txf.core.files import atomic_path
from nasbench_txf.run.variants import parse_variants

DEFAULT_MODELS = "gp-bo,bananas,boshnas,lightgbm,ridge,knn"


def register(sub: Any) -> None:
    parser = sub.add_parser("study", help="studies on a measured table: which encoding helps which predictor")
    studies = parser.add_subparsers(dest="study", required=True, metavar="STUDY")
    enc = studies.add_parser("encodings", help="fit each predictor on n random archs of a table, on each "
                             "encoding, and rank the rest (Kendall tau, top-k overlap); resumable")
    enc.add_argument("table", help="table folder or built-in table name")
    enc.add_argument("--encodings", default="onehot,path,wl,t2v",
                     help="comma-separated encodings, each optionally with options: t2v(dim=8) "
                          "(default onehot,path,wl,t2v)")
    enc.add_argument("--models", default=DEFAULT_MODELS,
                     help="strategies whose predictor is studied, with options as in sweep's --strategies, and "
                          f"the baselines lightgbm, ridge and knn (default {DEFAULT_MODELS})")
    enc.add_argument("--sizes", default="10,25,50,100", help="training sizes (default 10,25,50,100)")
    enc.add_argument("--seeds", type=int, default=5, help="random training draws per size (default 5)")
    enc.add_argument("--top", type=float, default=0.1, help="fraction of best archs for the overlap (default 0.1)")
    enc.add_argument("--metric", help="the table's metric to predict (default: its objective)")
    enc.add_argument("--out", type=Path, required=True,
                     help="study folder: fits.jsonl, summary.csv, report.md, tau.png; an unfinished study "
                          "there with the same settings continues")
    enc.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=handle)


def sizes(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise OptionError(f"--sizes: {text!r} is not a comma-separated list of whole numbers") from None
    return tuple(sorted(set(values)))


def handle(args: argparse.Namespace) -> int:
    from nasbench_txf.study.encodings import StudySpec, run_study
    from nasbench_txf.study.report import plot, summary, to_markdown

    spec = StudySpec(encodings=tuple(parse_variants(args.encodings, "--encodings", "encoding")),
                     models=tuple(parse_variants(args.models, "--models", "model")), sizes=sizes(args.sizes),
                     seeds=args.seeds, top=args.top, metric=args.metric)
    spec.check()
    table = find_table(args.table)
    space = table_space(table)
    fits = run_study(spec, table, space, args.out, progress=lambda line: print(line, file=sys.stderr))
    settings = json.loads((args.out / "study.json").read_text())
    frame = summary(fits)
    with atomic_path(args.out / "summary.csv") as partial:
        frame.to_csv(partial, index=False)
    with atomic_path(args.out / "report.md") as partial:
        partial.write_text(to_markdown(frame, settings))
    with atomic_path(args.out / "tau.png") as partial:
        plot(frame, partial)
    if args.json:
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")  # NaN: null
        print_json({"settings": settings, "summary": records})
    else:
        print(to_markdown(frame, settings))
    return 0
