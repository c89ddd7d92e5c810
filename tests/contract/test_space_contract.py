"""Every registered space passes the test kit's space checks (a new space is covered automatically)."""

from __future__ import annotations

from nbt_testing import contract_plugins

from nasbench_txf.testing import parametrize_with_checks


@parametrize_with_checks(contract_plugins("spaces"))
def test_space_contract(plugin, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)
