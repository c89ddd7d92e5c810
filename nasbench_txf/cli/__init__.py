"""The ``nasbench-txf`` command line: one module per sub-command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from nasbench_txf import __version__
from nasbench_txf.cli import (
    bench_cmd,
    composition_cmd,
    eftnas_cmd,
    encode_cmd,
    leaderboard_cmd,
    list_cmd,
    pipeline_cmd,
    run_cmd,
    space_cmd,
    study_cmd,
    sweep_cmd,
)
from nasbench_txf.core.errors import UserError

COMMANDS = (list_cmd, run_cmd, sweep_cmd, pipeline_cmd, leaderboard_cmd, space_cmd, encode_cmd, bench_cmd,
            eftnas_cmd, composition_cmd, study_cmd)


#: the longest error message printed whole (a message quoting user input can be far longer)
MESSAGE_CHARS = 2000


def one_line(message: str) -> str:
    """``message`` on one line: control characters (newlines included, which a quoted card or
    file name may hold) escaped, and cut at :data:`MESSAGE_CHARS` characters."""
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in message)
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + f"… ({len(text):,} characters)"


class Parser(argparse.ArgumentParser):
    """argparse with errors on one line (like every other refusal of the CLI), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="nasbench-txf",
        description="Benchmark and compare neural architecture search over transformer encoders.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; problems with the request are one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe is met here, not in the flush at exit
        return code
    except UserError as exc:
        print(f"nasbench-txf: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nasbench-txf: interrupted; finished trials are in the store", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`bench export t | head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        return 141


def entry() -> None:
    sys.exit(main())
