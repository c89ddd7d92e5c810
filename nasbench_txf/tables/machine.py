"""Which machine a timed measurement ran on, in words that tell two machines apart.

Latency is a property of an arch *and* a machine: the same card runs markedly slower on one
CPU than on another. Rows record where their timed metrics were measured, so that a table
built over several machines says what it mixes (``bench info``) and can be timed again on
one (``bench retime``).
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # naming the CPU must not load torch (sweeps record it before anything runs)
    import torch


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe(device: torch.device, threads: int) -> str:
    """E.g. ``"AMD EPYC (cpu, 1 thread)"`` or ``"NVIDIA H200 (cuda)"``."""
    if device.type == "cuda":
        import torch

        return f"{torch.cuda.get_device_name(device)} (cuda)"
    return f"{cpu_model()} ({device.type}, {threads} thread{'' if threads == 1 else 's'})"
