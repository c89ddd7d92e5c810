"""A plugin whose optional library is not installed, to test that it is listed as such."""

from nasbench_txf.core.optional import require

require("nasbench_txf_no_such_library", extra="nothing", needed_by="strategy unavailable")
