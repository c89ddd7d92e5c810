"""Every registered encoding passes the test kit's encoding checks on every registered space."""

from __future__ import annotations

from nbt_testing import contract_plugins

from nasbench_txf.testing import parametrize_with_checks


@parametrize_with_checks(contract_plugins("encodings"))
def test_encoding_contract(plugin, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)
