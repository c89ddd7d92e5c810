"""``nasbench-txf composition profile|extract``: profile a base's components on this device;
extract a card as a really smaller model and measure its speed-up [COMPOSE20].

``profile`` times each kind of component of the base network at several sequence lengths and
prints the shares like the paper's Tables 1 and 4 (``--out`` keeps the profile for the space's
``profile`` option). ``extract`` saves a card of the ``composition`` space as a standalone model,
with the base's inherited weights or those a one-shot search trained (``--run STORE`` takes the
card and the weights of a ``do`` or ``sdo`` run), reloads it, scores it on the dev split as the
``supernet`` benchmark scores the card, and times it against the base on the same device, batch,
sequence length and threads, reporting what Tables 2 and 7 report: the task metric, the speed-up,
the parameters and the components dropped. The base is timed twice: composed (the speed-up) and
as the transformers model it was decomposed from (``speedup_against_transformers``), so that a
slower composed implementation cannot pass for a faster extraction.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_txf.cli.common import emit, empty_out, latencies, split_pairs
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.progress import announce
from nasbench_txf.core.registry import get_benchmark, get_space


def register(sub: Any) -> None:
    parser = sub.add_parser("composition", help="profile a base's components; extract a composed card and "
                                                "measure its speed-up")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("profile", help="time each kind of component of the base on this device (Table 1)")
    p.add_argument("--seq-lens", default="32,64,128", help="sequence lengths, comma-separated (default: 32,64,128)")
    p.add_argument("--batch", type=int, default=16, help="sequences per forward pass (default: 16, as the paper)")
    p.add_argument("--repeats", type=int, default=20, help="timed passes per network and length (default: 20)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch; 0 = torch's default")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto = cuda when present")
    p.add_argument("--out", help="write the profile here (JSON), for --space-opt profile=FILE")
    e = actions.add_parser("extract", help="save a card as a standalone smaller model; score and time it")
    e.add_argument("card", nargs="?", help="a JSON card or a preset (base, no-ln-mean); not with --run")
    e.add_argument("--run", help="a run store of a do or sdo search: its card and the weights it trained")
    e.add_argument("--weights", help="super-network weights a search trained (default: the base's)")
    e.add_argument("--out", required=True, help="new folder for the model")
    e.add_argument("--benchmark-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="option of the supernet benchmark that scores it (repeatable)")
    for action in (p, e):
        action.add_argument("--space-opt", action="append", default=[], metavar="KEY=VALUE",
                            help="option of the composition space (repeatable): base=FOLDER (required), parts_ffn, …")
        action.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return {"profile": profile, "extract": extract}[args.action](args)


def _space(args: argparse.Namespace, run_key: dict[str, Any] | None = None) -> Any:
    """The composition space of ``--space-opt``; for ``extract --run``, the run's own, with
    ``--space-opt`` changing it (a base folder that moved), and refused if its base is another."""
    cls = get_space("composition")
    given = split_pairs(args.space_opt, "--space-opt")
    options = {**(run_key or {}).get("options", {}), **given}
    space = cls(cls.make_options(options))
    if run_key and run_key.get("base") not in (None, space.base.key):
        raise UserError(f"--run: the run searched the base {run_key['base']}, not the one in {space.base.folder} "
                        f"({space.base.key}); give --space-opt base= the run's base folder")
    return space


def profile(args: argparse.Namespace) -> int:
    from nasbench_txf.spaces.composition.profile import Settings, format_profile, measure, write_profile
    from nasbench_txf.training.context import training_device
    from nasbench_txf.training.loop import Recipe

    try:
        lengths = tuple(int(n) for n in args.seq_lens.split(","))
    except ValueError:
        raise UserError(f"--seq-lens {args.seq_lens!r}: give whole numbers separated by commas") from None
    settings = Settings(lengths, args.batch, args.repeats, args.threads)
    space = _space(args)
    device = training_device(Recipe(device=args.device))
    record = measure(space.build_supernet(num_labels=space.base.num_labels), space.base.key, settings, device)
    if args.out:
        write_profile(Path(args.out), record)
    if args.json:
        emit(record, True)
    else:
        print(format_profile(record))
        if args.out:
            print(f"use: --space-opt profile={args.out}")
    return 0


def _from_run(store_path: str) -> tuple[str, Path, dict[str, Any]]:
    """The card a one-shot run selected, the weights it trained and the key of the run's space."""
    from nasbench_txf.run.store import Store
    from nasbench_txf.run.trials import run_dir

    store = Store.open(store_path, create=False)
    try:
        found = []
        for cell in store.cells():
            weights = run_dir(store_path) / "strategies" / cell.cell_id / "supernet.safetensors"
            trials = store.trials(cell.cell_id)
            if weights.is_file() and trials:
                found.append((json.dumps(trials[0].card), weights, dict(cell.key["space"])))
    finally:
        store.close()
    if len(found) != 1:
        raise UserError(f"--run {store_path}: {len(found)} finished one-shot searches in the store; give a store of "
                        "one do or sdo run, or the card and --weights")
    return found[0]


def _dropped(space: Any, bits: np.ndarray) -> dict[str, str]:
    """Per kind of architecture parameter, how many the card changed from the base."""
    layout, base = space.layout, space.layout.base()
    out = {}
    for kind in dict.fromkeys(layout.kinds.tolist()):
        positions = layout.kinds == kind
        changed = int((bits[positions] != base[positions]).sum())
        what = "vertical" if kind.endswith("_link") else "dropped"
        out[kind] = f"{changed} of {int(positions.sum())} {what}"
    return out


def extract(args: argparse.Namespace) -> int:
    from nasbench_txf.benchmarks.supernet import score_model
    from nasbench_txf.spaces.composition.extraction import load_composed, save_composed
    from nasbench_txf.spaces.eftnas.folder import TOKENIZER_DIR

    if (args.run is None) == (args.card is None):
        raise UserError("composition extract: give a card, or --run STORE of a do or sdo search (not both)")
    if args.run and args.weights:
        raise UserError("composition extract: --run brings its own weights; leave --weights out")
    out = Path(args.out)
    empty_out(out)
    card, weights, run_key = _from_run(args.run) if args.run else (
        args.card, Path(args.weights) if args.weights else None, None)
    space = _space(args, run_key)
    arch = space.resolve(card)
    bench_cls = get_benchmark("supernet")
    bench = bench_cls(space, options=bench_cls.make_options(split_pairs(args.benchmark_opt, "--benchmark-opt")))
    if weights is not None and not weights.is_file():
        raise UserError(f"--weights {weights}: no such file")
    supernet = bench.trained_supernet(weights) if weights is not None else bench.supernet
    inherited = bench.evaluate_with(arch, 0, weights) if weights is not None else bench.evaluate(arch, 0)
    small = space.extract(supernet, arch)
    announce(f"composition extract: saving the model to {out}")
    save_composed(small, space.base.bert_config, out)
    for file in sorted((space.base.folder / TOKENIZER_DIR).iterdir()):
        (out / file.name).write_bytes(file.read_bytes())
    loaded = load_composed(out).to(bench.context.device)
    scores, _ = score_model(loaded, bench.context, bench.options.eval_batch, bench.scored_rows(0))
    base = space.extract(bench.supernet, space.resolve("base"))
    speed = latencies(bench, {"extracted": loaded, "base": base, "transformers": space.base.model()})
    costs, base_costs = space.supernet_costs(arch), space.supernet_costs(space.resolve("base"))
    objective = bench.objective.name
    report = {
        "card": arch.card,
        "out": str(out),
        "weights": str(weights) if weights else "the base's (inherited)",
        "params": int(costs["params"]),
        "base_params": int(base_costs["params"]),
        "params_fraction": round(costs["params"] / base_costs["params"], 4),
        "macs_fraction": round(costs["macs"] / base_costs["macs"], 4),
        "changed": _dropped(space, space.bits(arch)),
        "extracted": scores,
        "supernet": {k: inherited.metrics[k] for k in scores},
        "agree": abs(scores[objective] - inherited.metrics[objective]) < 1e-9,
        "base_scores": space.base.scores,
        **speed,
    }
    emit(report, args.json)
    return 0
