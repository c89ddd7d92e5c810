"""What a benchmark answers for one evaluation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "failed"]


@dataclass(frozen=True)
class Metric:
    """A quantity a benchmark reports, with the direction that is better and its unit.

    ``timed`` marks a wall-clock measurement (latency): it varies from run to run even with
    the same seed, unlike every other metric.
    """

    name: str
    maximize: bool
    unit: str = ""
    timed: bool = False


@dataclass(frozen=True)
class Result:
    """Metrics of one evaluation and its cost in seconds.

    ``cost_seconds`` is real for live training, recorded for tabular benchmarks and predicted
    for surrogates, so strategies can be compared by simulated wall-clock. A failed
    evaluation carries a ``reason`` and no metrics are trusted from it.
    """

    metrics: Mapping[str, float]
    cost_seconds: float
    status: Status = "ok"
    reason: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def failed(cls, reason: str, cost_seconds: float = 0.0, **info: Any) -> Result:
        return cls(metrics={}, cost_seconds=cost_seconds, status="failed", reason=reason, info=info)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def value(self, metric: str) -> float | None:
        """The metric's value, or ``None`` for a failed result or a non-finite value."""
        if not self.ok:
            return None
        value = self.metrics.get(metric)
        if value is None or not math.isfinite(value):
            return None
        return float(value)
