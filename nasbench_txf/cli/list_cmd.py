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
    parser.add_argument("kind", nargs="?",
                        help="spaces, encodings, strategies or benchmarks; or problems (with the suites)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=handle)


def parse_kind(text: str | None) -> tuple[Kind, ...]:
    if text is None:
        return KINDS
    for kind in KINDS:
        if text in (kind, SINGULAR[kind]):
            return (kind,)
    raise UnknownNameError(f"unknown plugin kind {text!r} (known: {', '.join(KINDS)}, problems)")


def handle(args: argparse.Namespace) -> int:
    if args.kind in ("problems", "problem", "suites", "suite"):
        return _problems(args.json)
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


def _problems(as_json: bool) -> int:
    """The registered benchmark problems and suites (a broken entry point as its error)."""
    from nasbench_txf.run.problems import problems, suites

    found, groups = problems(), suites()
    listing = {
        "problems": [{"name": name, "error": str(p)} if isinstance(p, Exception) else
                     {**p.record(), "description": p.description} for name, p in sorted(found.items())],
        "suites": [{"name": name, "error": str(s)} if isinstance(s, Exception) else
                   {"name": s.name, "description": s.description, "problems": list(s.problems),
                    "encodings": s.encodings} for name, s in sorted(groups.items())],
    }
    if as_json:
        print_json(listing)
        return 0
    print("problems:")
    width = max((len(p["name"]) for p in listing["problems"]), default=0)
    for p in listing["problems"]:
        if "error" in p:
            print(f"  {p['name']:<{width}}  failed to load: {p['error']}")
            continue
        terms = f"{p['space']} · {p['benchmark']} · {p['task'] or 'no task'}"
        options = "".join(f" {k}={v}" for k, v in {**p["space_options"], **p["benchmark_options"]}.items())
        costs = f" · against {', '.join(p['costs'])}" if p["costs"] else ""
        print(f"  {p['name']:<{width}}  {p['description']}  [{terms}{options}{costs} · {p['budget']} queries]")
    print("suites:")
    for s in listing["suites"]:
        if "error" in s:
            print(f"  {s['name']}  failed to load: {s['error']}")
        else:
            print(f"  {s['name']}  {s['description']}: {', '.join(s['problems'])}")
    return 0
