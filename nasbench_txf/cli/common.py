"""Argument helpers shared by sub-commands."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

from nasbench_txf.core.options import split_pairs

__all__ = ["add_plugin_options", "command_line", "emit", "plugin_options", "print_json", "split_pairs"]

PLUGIN_KINDS = ("space", "strategy", "encoding", "benchmark")


def add_plugin_options(parser: argparse.ArgumentParser, kinds: tuple[str, ...] = PLUGIN_KINDS) -> None:
    """``--space-opt KEY=VALUE`` and friends, repeatable."""
    for kind in kinds:
        parser.add_argument(
            f"--{kind}-opt", action="append", default=[], metavar="KEY=VALUE",
            help=f"option passed to the {kind} plugin (repeatable)",
        )


def plugin_options(args: argparse.Namespace, kind: str) -> dict[str, str]:
    return split_pairs(getattr(args, f"{kind}_opt"), f"--{kind}-opt")


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def emit(report: dict[str, Any], as_json: bool) -> None:
    """A report as JSON, or one ``key: value`` line per entry."""
    if as_json:
        print_json(report)
        return
    for key, value in report.items():
        print(f"{key}: {json.dumps(value, default=str) if isinstance(value, dict | list) else value}")


def command_line() -> str:
    return shlex.join(["nasbench-txf", *sys.argv[1:]])
