"""Every registered benchmark passes the test kit's benchmark checks: table benchmarks on the toy
table, the others on the first registered space they evaluate."""

from __future__ import annotations

from nbt_testing import contract_plugins

from nasbench_txf.testing import parametrize_with_checks


@parametrize_with_checks(contract_plugins("benchmarks"))
def test_benchmark_contract(plugin, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)
