"""nasbench-txf: a plugin-based benchmark and comparison suite for NAS over transformer encoders.

The core types live in a few small modules: :mod:`~nasbench_txf.core.arch` (model cards),
:mod:`~nasbench_txf.core.space`, :mod:`~nasbench_txf.core.encoding`, :mod:`~nasbench_txf.core.strategy`,
:mod:`~nasbench_txf.core.benchmark` (with :class:`~nasbench_txf.core.result.Result`). Plugins of every
kind come from entry points (:mod:`~nasbench_txf.core.registry`).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nasbench-txf")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
