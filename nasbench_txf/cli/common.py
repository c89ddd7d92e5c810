"""Argument helpers shared by sub-commands."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from nasbench_txf.core.errors import UserError
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


def empty_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out}: exists and is not an empty folder; give a new one (nothing there is replaced)")


def latencies(bench: Any, models: dict[str, Any]) -> dict[str, Any]:
    """Median inference latency of each model on the same batch, sequence length, threads and
    device (the supernet benchmark's), measured in turns so that a slower moment of the machine
    falls on all; and how many times faster the extracted model is than the base (and than any
    further reference model, reported under its name)."""
    from nasbench_txf.core.threads import torch_threads
    from nasbench_txf.training.loop import latency_ms

    o, context = bench.options, bench.context
    timings: dict[str, list[float]] = {name: [] for name in models}
    with torch_threads(o.threads):
        for _ in range(5):
            for name, model in models.items():
                timings[name].append(latency_ms(model.to(context.device), context.options.max_len, o.latency_batch,
                                                context.device))
    median = {name: sorted(values)[len(values) // 2] for name, values in timings.items()}
    report = {"latency_ms": round(median["extracted"], 3), "base_latency_ms": round(median["base"], 3),
              "speedup": round(median["base"] / median["extracted"], 3)}
    for name in (n for n in models if n not in ("extracted", "base")):
        report[f"{name}_latency_ms"] = round(median[name], 3)
        report[f"speedup_against_{name}"] = round(median[name] / median["extracted"], 3)
    report["latency_on"] = {"batch": o.latency_batch, "seq_len": context.options.max_len,
                            "threads": o.threads or "torch default", "device": context.device.type}
    return report
