"""The problems and the default suite this package registers (``pyproject.toml``), on the
tables it ships: they run offline on any machine."""

from __future__ import annotations

from nasbench_txf.run.problems import Problem, Suite

_FLEXIBERT = {"space": "flexibert", "benchmark": "surrogate", "task": "sst2"}
_EFTNAS = {"space": "eftnas", "benchmark": "surrogate", "task": "sst2"}

flexibert_sst2 = Problem(
    "flexibert-sst2", "FlexiBERT-Mini's space trained from scratch on SST-2 (the shipped 812-row table's "
    "surrogate): dev accuracy", **_FLEXIBERT)
flexibert_sst2_loss = Problem(
    "flexibert-sst2-loss", "the same space and table: the dev loss, which separates archs better than "
    "accuracy", **_FLEXIBERT, benchmark_options={"objective": "loss"})
flexibert_sst2_size = Problem(
    "flexibert-sst2-size", "the same space and table: accuracy against parameters (hypervolume)",
    **_FLEXIBERT, costs=("params",))
flexibert_sst2_latency = Problem(
    "flexibert-sst2-latency", "the same space and table: accuracy against CPU latency (hypervolume)",
    **_FLEXIBERT, costs=("latency_ms",))
eftnas_sst2 = Problem(
    "eftnas-sst2", "EFTNAS's elastic sub-networks of MiniLM-L6 on SST-2 with inherited weights (the shipped "
    "2,542-row table's surrogate): dev accuracy", **_EFTNAS)
eftnas_sst2_macs = Problem(
    "eftnas-sst2-macs", "the same space and table: accuracy against MACs (hypervolume), as EFTNAS searches",
    **_EFTNAS, costs=("macs",))

#: the shipped FlexiBERT table's four problems: its sweep takes about an hour on 2 cores
default = Suite("default", "the shipped FlexiBERT/SST-2 table's problems, one and two objectives; "
                "strategies that need an encoding use wl, the best of the encoding study",
                ("flexibert-sst2", "flexibert-sst2-loss", "flexibert-sst2-size", "flexibert-sst2-latency"))
#: both shipped tables: two spaces. BOSHNAS asks take ~17 s each on the eftnas space with wl
#: (0.4 s on flexibert), so its sweep takes hours more on 2 cores
two_spaces = Suite("two-spaces", "both shipped tables' problems: the FlexiBERT space trained from scratch and "
                   "EFTNAS's sub-networks of a pretrained MiniLM-L6; wl for strategies that need an encoding",
                   (*default.problems, "eftnas-sst2", "eftnas-sst2-macs"))
