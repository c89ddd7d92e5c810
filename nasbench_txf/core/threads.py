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

    Small models (a BOSHNAS ask, a t2v embedding step, a surrogate fit) gain nothing from
    more threads on a machine whose cores are busy: the extra threads only wait, and one
    thread gives the same models and validation, much sooner. Torch is not imported for
    this: code that has not loaded it (a surrogate fit) does not use its pool.
    """
    with threadpool_limits(limits=1), ExitStack() as pools:
        if "torch" in sys.modules:
            pools.enter_context(torch_threads(1))
        yield
