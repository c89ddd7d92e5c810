"""``nasbench-txf encode``: fit (or load) an encoding for a space and report on it."""

from __future__ import annotations

import argparse
import time
from typing import Any

from nasbench_txf.cli.common import add_plugin_options, emit, plugin_options
from nasbench_txf.core.errors import IncompatibleError
from nasbench_txf.core.registry import get_encoding, get_space


def register(sub: Any) -> None:
    parser = sub.add_parser("encode", help="fit or load an encoding: dimension, fit time, cache, fidelity")
    parser.add_argument("--space", required=True)
    parser.add_argument("--encoding", required=True)
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_plugin_options(parser, ("space", "encoding"))
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    space_cls = get_space(args.space)
    space = space_cls(space_cls.make_options(plugin_options(args, "space")))
    cls = get_encoding(args.encoding)
    if reason := cls.unsupported(space):
        raise IncompatibleError(f"encoding {cls.name} cannot encode space {space.name}: {reason}")
    encoding = cls(space, cls.make_options(plugin_options(args, "encoding")))
    started = time.perf_counter()
    encoding.fit()
    path = encoding.cache_path
    report = {
        "encoding": encoding.key(), "dim": encoding.dim, "seconds": time.perf_counter() - started,
        "cache": str(path) if path is not None else None, "loaded_from_cache": encoding.loaded_from_cache,
        "fit": encoding.fit_info(),
    }
    emit(report, args.json)
    return 0
