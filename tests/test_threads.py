"""one_thread: small fits run on one thread of every pool, and the pools are restored after."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from nbt_testing import space
from threadpoolctl import threadpool_info

import nasbench_txf.surrogate.surrogate as surrogate_module
from nasbench_txf.core.threads import one_thread
from nasbench_txf.surrogate.surrogate import Surrogate
from nasbench_txf.tables.table import Table


def pool_sizes() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info()]


def test_every_pool_runs_one_thread_inside_and_as_before_after() -> None:
    before, torch_before = pool_sizes(), torch.get_num_threads()
    with one_thread():
        assert pool_sizes() and set(pool_sizes()) == {1}
        assert torch.get_num_threads() == 1
    assert pool_sizes() == before and torch.get_num_threads() == torch_before


def test_one_thread_does_not_load_torch() -> None:
    code = ("import sys\nfrom nasbench_txf.core.threads import one_thread\n"
            "with one_thread(): pass\nprint('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_surrogate_fits_on_one_blas_thread(toy_table, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[list[int]] = []
    choose = surrogate_module.choose_config

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(pool_sizes())
        return choose(*args, **kwargs)

    monkeypatch.setattr(surrogate_module, "choose_config", recording)
    Surrogate.fit(Table.read(toy_table), space("toy-grid"))
    assert seen and all(set(sizes) == {1} for sizes in seen)
