"""``python -m nasbench_txf`` is the ``nasbench-txf`` command."""

from __future__ import annotations

from nasbench_txf.cli import entry

entry()
