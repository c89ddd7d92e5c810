"""The contract checks of nasbench-txf's test kit, run on this package's strategy."""

from nasbench_txf_localsearch import LocalSearch

from nasbench_txf.testing import parametrize_with_checks


@parametrize_with_checks([LocalSearch])
def test_contract(plugin, check):
    check(plugin)
