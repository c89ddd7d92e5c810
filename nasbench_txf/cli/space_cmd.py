"""``nasbench-txf space info|sample|show``: look at a design space and its cards."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from nasbench_txf.cli.common import print_json, split_pairs
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.registry import get_space
from nasbench_txf.core.space import BuildsModels, Space
from nasbench_txf.graphs.hashing import graph_hash

GRAPH_SAMPLE = 500


def register(sub: Any) -> None:
    parser = sub.add_parser("space", help="inspect a design space")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = actions.add_parser("info", help="cardinality, decision vector, an example card, graph sizes")
    sample = actions.add_parser("sample", help="random cards of the space")
    sample.add_argument("--n", type=int, default=5, help="number of cards (printed as they are drawn)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the draws (0 or more)")
    show = actions.add_parser("show", help="one card: normal form, parameters, FLOPs, graph")
    show.add_argument("--card", required=True, help="a preset name (e.g. bert-mini) or a JSON card")
    show.add_argument("--vocab-size", type=int, default=30522, help="vocabulary size for the counts")
    show.add_argument("--seq-len", type=int, default=128, help="sequence length for the FLOP count")
    for action in (info, sample, show):
        action.add_argument("space", help="design space name")
        action.add_argument("--space-opt", action="append", default=[], metavar="KEY=VALUE")
        action.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=handle)


def open_space(args: argparse.Namespace) -> Space:
    cls = get_space(args.space)
    return cls(cls.make_options(split_pairs(args.space_opt, "--space-opt")))


def graph_summary(space: Space, arch: Any) -> dict[str, Any]:
    graph = space.graph(arch)
    labels: dict[str, int] = {}
    for _, label in graph.nodes(data="label"):
        labels[label] = labels.get(label, 0) + 1
    return {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(),
            "hash": graph_hash(graph), "blocks": labels}


def info(space: Space) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    sample = [space.sample(rng) for _ in range(GRAPH_SAMPLE)]
    sizes = [space.graph(a).number_of_nodes() for a in sample]
    presets = space.presets()
    return {
        "space": space.key(),
        "cardinality": space.cardinality(),
        "enumerable": space.enumerable,
        "decisions": [{"name": d.name, "choices": len(d.choices)} for d in space.decisions()],
        "example_card": sample[0].card,
        "presets": sorted(presets),
        "graph_nodes": {"min": min(sizes), "max": max(sizes), "over": f"{GRAPH_SAMPLE} sampled cards"},
    }


def sample_cards(space: Space, n: int, seed: int) -> Iterator[dict[str, Any]]:
    """``n`` random cards of ``space``, drawn one at a time as they are asked for: any ``n``
    runs in constant memory, where a list of them would grow with ``n``."""
    if n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    if seed < 0:
        raise UserError(f"--seed must be 0 or more, got {seed}")
    rng = np.random.default_rng(seed)
    return (space.sample(rng).card for _ in range(n))


def print_json_list(items: Iterable[Any]) -> None:
    """``items`` as one JSON list, laid out as :func:`print_json` lays a list out, written an
    item at a time."""
    sys.stdout.write("[")
    for i, item in enumerate(items):
        text = json.dumps(item, indent=2, sort_keys=True, default=str).replace("\n", "\n  ")
        sys.stdout.write(f"{',' if i else ''}\n  {text}")
    sys.stdout.write("\n]\n")


def show(space: Space, args: argparse.Namespace) -> dict[str, Any]:
    arch = space.resolve(args.card)
    out: dict[str, Any] = {"card": arch.card, "arch_id": arch.id, "graph": graph_summary(space, arch)}
    if isinstance(space, BuildsModels):
        if args.vocab_size < 1 or args.seq_len < 1:
            raise UserError("--vocab-size and --seq-len must be positive")
        out["parameters"] = space.count_parameters(arch, vocab_size=args.vocab_size)
        out["flops"] = space.count_flops(arch, vocab_size=args.vocab_size, seq_len=args.seq_len)
        out["counted_for"] = {"vocab_size": args.vocab_size, "seq_len": args.seq_len}
    return out


def handle(args: argparse.Namespace) -> int:
    space = open_space(args)
    if args.action == "sample":
        cards = sample_cards(space, args.n, args.seed)
        if args.json:
            print_json_list(cards)
        else:
            for card in cards:
                print(card)
        return 0
    result = info(space) if args.action == "info" else show(space, args)
    if args.json:
        print_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
