"""Thread settings for small workloads: on a busy machine, a thread pool only spins."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` torch threads (0: as they are), then restore the previous count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run tiny models on one thread: torch's pool, where torch is loaded, and the BLAS and
    OpenMP pools that NumPy, SciPy and scikit-learn call (through threadpoolctl).

    Measured on 2 cores shared with two training processes: a BOSHNAS ask at 100
    observations took 20–100 s with torch's 2 threads and 0.5–1 s with one; a full-batch t2v
    embedding step over 200,000 pairs 294 ms with 2 threads and 60 ms with one; fitting the
    surrogate of the 508-row built-in table 54 s with OpenBLAS's 2 threads and 38 s with one
    (the toy table of the tests: 31 s and 8 s), to the same models and validation. Torch is
    not imported for this: code that has not loaded it (a surrogate fit) does not use its pool.
    """
    with threadpool_limits(limits=1), ExitStack() as pools:
        if "torch" in sys.modules:
            pools.enter_context(torch_threads(1))
        yield
