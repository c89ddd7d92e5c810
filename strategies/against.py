"""The cost metrics a multi-objective strategy optimises its objective against (``against``)."""

from __future__ import annotations

from collections.abc import Sequence

from nasbench_txf.core.errors import IncompatibleError
from nasbench_txf.core.result import Metric

#: what ``against=auto`` takes where the benchmark reports it, in this order ([EFTNAS24]'s cost first)
PREFERRED_COSTS = ("macs", "params")


def against_metrics(who: str, against: str, objective: Metric, metrics: Sequence[Metric],
                    accepted: str = "") -> tuple[Metric, ...]:
    """The metrics ``against`` names: ``auto`` (macs if reported, else params, else the
    benchmark's first other metric) or comma-separated metric names, each once. An
    :class:`IncompatibleError` names ``who`` and the choices (``accepted`` words first, e.g.
    ``"none, auto or "``) where the benchmark has no such metric."""
    by_name = {m.name: m for m in metrics}
    others = [m for m in metrics if m.name != objective.name]
    if not others:
        raise IncompatibleError(f"{who} needs a second metric; the benchmark reports only {objective.name}")
    if against.lower() == "auto":
        preferred = [by_name[name] for name in PREFERRED_COSTS if name in by_name]
        return (preferred or others)[:1]
    names = [n.strip() for n in against.split(",") if n.strip()]
    unknown = [n for n in names if n not in by_name or n == objective.name]
    if unknown or not names:
        raise IncompatibleError(f"{who}: against={against!r}: choose {accepted}cost metrics among "
                                f"{', '.join(m.name for m in others)}")
    return tuple(by_name[n] for n in dict.fromkeys(names))
