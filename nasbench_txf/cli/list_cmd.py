"""``nasbench-txf list [KIND] [--json]``: every registered plugin, the ones not installed, and the\nones that failed."""

from __future__ import annotations

import argparse
from typing import Any

from nasbench_txf.cli.common import print_json
from nasbench_txf.core.errors import UnknownNameError
from nasbench_txf.core.options import options_help
from nasbench_txf.core.registry import KINDS, SINGULAR, Kind, registry


def register(sub: Any) -> None:
    parser = sub.add_parser("list", help="list registered plugins")
    parser.add_argument("kind", nargs="?", help="spaces, encodings, strategies or benchmarks")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=handle)


def parse_kind(text: str | None) -> tuple[Kind, ...]:
    if text is None:
        return KINDS
    for kind in KINDS:
        if text in (kind, SINGULAR[kind]):
            return (kind,)
    raise UnknownNameError(f"unknown plugin kind {text!r} (known: {', '.join(KINDS)})")


def handle(args: argparse.Namespace) -> int:
    listing: dict[str, list[dict[str, Any]]] = {}
    for kind in parse_kind(args.kind):
        listing[kind] = [
            {
                "name": info.name,
                "description": info.description,
                "source": info.source,
                "target": info.target,
                "loaded": info.cls is not None,
                "status": info.status,
                "error": info.error,
                "options": options_help(info.cls.Options) if info.cls is not None else [],
            }
            for info in registry(kind).infos()
        ]
    if args.json:
        print_json(listing)
        return 0
    for kind, rows in listing.items():
        print(f"{kind}:")
        if not rows:
            print("  (none registered)")
        width = max((len(r["name"]) for r in rows), default=0)
        for row in rows:
            print(f"  {row['name']:<{width}}  {row['description']}  [{row['source']}]")
    return 0
