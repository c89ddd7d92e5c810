"""What a long step is doing, for the person waiting on it.

A preparation step that takes more than a few seconds (fitting an encoding for a space,
fitting a surrogate on a table) says so in one line on stderr before it starts, terminal or
not, and shows a progress bar on a terminal; so the first run of a command is never minutes
of silence, and the trial bar's estimate does not count the preparation.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def announce(message: str) -> None:
    """One line on stderr: ``nasbench-txf: <message>``."""
    print(f"nasbench-txf: {message}", file=sys.stderr, flush=True)


def bar(items: Iterable[T], description: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """``items`` with a progress bar on a terminal (none otherwise)."""
    yield from tqdm(items, desc=description, total=total, unit=unit, disable=None, leave=False, dynamic_ncols=True)
