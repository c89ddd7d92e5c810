"""Worker processes that end with their parent.

A pool worker whose driver is killed (SIGTERM from a scheduler, SIGKILL, a closed
terminal) is re-parented and keeps training a model nobody will store: minutes of both
cores spent on nothing, beside whatever runs next. On Linux the kernel can send the worker
a signal when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere this is a no-op and
the worker ends when it next talks to the dead driver.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to terminate this process when its parent exits (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def pool_worker() -> None:
    """Initialise a pool worker or manager: it ends with its parent and ignores Ctrl-C, which
    reaches the whole process group, so that the driver alone decides what happens on an
    interrupt (it stores every finished trial, then ends its workers)."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
