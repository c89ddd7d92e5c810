"""Every registered strategy passes the test kit's strategy checks on the toy space and benchmark."""

from __future__ import annotations

from nbt_testing import contract_plugins

from nasbench_txf.testing import parametrize_with_checks


@parametrize_with_checks(contract_plugins("strategies"))
def test_strategy_contract(plugin, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)
