"""Thread settings for small torch workloads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import torch


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` torch threads (0: as they are), then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_thread() -> AbstractContextManager[None]:
    """Run tiny models on one thread: on a busy machine, torch's thread pool only spins.

    Measured on 2 cores shared with two training processes: a BOSHNAS ask at 100
    observations took 20–100 s with torch's 2 threads and 0.5–1 s with one; a full-batch t2v
    embedding step over 200,000 pairs 294 ms with 2 threads and 60 ms with one.
    """
    return torch_threads(1)
