"""The search space from target complexities [EFTNAS24 §3.2, Alg. 1].

Algorithm 1 places ``N`` subnetwork configurations at complexities evenly spaced from
``C(a_min)`` to ``C(a_max)`` (step ``(C(a_max) - C(a_min)) / (N - 1)``) and combines them into
per-layer choices. Each configuration comes from the importance mask ``M = 1(S > τ)`` whose
threshold ``τ`` a binary search sets so that the subnetwork has the target complexity.

Here the mask is taken at the level the super-network is elastic at: a head or FFN channel is
kept when its mean score (:mod:`.importance`) exceeds ``τ``, and a layer's count of kept heads
(channels) is its configuration. Every layer keeps at least its most important head and
channel, so the smallest subnetwork has one of each per layer. The complexity changes only
where ``τ`` crosses a score, so the binary search runs over the sorted distinct scores, an
exact search on ``τ``; it takes the threshold whose complexity is nearest the target, which
must lie within ``tolerance`` (a fraction of ``C(a_max) - C(a_min)``): one head or channel is
the finest step a threshold can take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nasbench_txf.core.errors import UserError
from nasbench_txf.spaces.eftnas.complexity import SEQ_LEN, Measure, complexity
from nasbench_txf.spaces.eftnas.config import Shape, SubnetConfig

#: the most configurations Algorithm 1 places (N <= 5 in [EFTNAS24 §3.2, §4])
MAX_CONFIGS = 5
#: how far a configuration's complexity may miss its target, as a fraction of the range
TOLERANCE = 0.02
UNITS = {"macs": "MACs", "params": "parameters"}


@dataclass(frozen=True)
class SearchSpace:
    """Per-layer sorted choices of heads and FFN widths, and the configurations they came from."""

    heads: tuple[tuple[int, ...], ...]
    ffn: tuple[tuple[int, ...], ...]
    configs: tuple[SubnetConfig, ...]
    complexities: tuple[int, ...]
    targets: tuple[float, ...]
    measure: Measure
    seq_len: int

    def largest(self) -> SubnetConfig:
        return SubnetConfig(tuple(c[-1] for c in self.heads), tuple(c[-1] for c in self.ffn))

    def smallest(self) -> SubnetConfig:
        return SubnetConfig(tuple(c[0] for c in self.heads), tuple(c[0] for c in self.ffn))

    def sample(self, rng: np.random.Generator) -> SubnetConfig:
        """A subnetwork with each layer's heads and width drawn uniformly from its choices."""
        return SubnetConfig(tuple(int(rng.choice(c)) for c in self.heads), tuple(int(rng.choice(c)) for c in self.ffn))

    def contains(self, config: SubnetConfig) -> bool:
        return (len(config.heads) == len(self.heads) == len(config.ffn)
                and all(h in c for h, c in zip(config.heads, self.heads, strict=True))
                and all(w in c for w, c in zip(config.ffn, self.ffn, strict=True)))

    def cardinality(self) -> int:
        return math.prod(len(c) for c in self.heads) * math.prod(len(c) for c in self.ffn)

    def to_dict(self) -> dict[str, Any]:
        return {"heads": [list(c) for c in self.heads], "ffn": [list(c) for c in self.ffn],
                "configs": [c.to_dict() for c in self.configs], "complexities": list(self.complexities),
                "targets": list(self.targets), "measure": self.measure, "seq_len": self.seq_len}


def subnet_at(head_scores: torch.Tensor, channel_scores: torch.Tensor, tau: float) -> SubnetConfig:
    """The configuration of the mask ``1(S > τ)`` over heads and channels, at least one of each per layer."""
    heads = (head_scores > tau).sum(dim=1).clamp(min=1)
    ffn = (channel_scores > tau).sum(dim=1).clamp(min=1)
    return SubnetConfig(tuple(int(h) for h in heads), tuple(int(w) for w in ffn))


def search_threshold(shape: Shape, head_scores: torch.Tensor, channel_scores: torch.Tensor, target: float,
                     measure: Measure = "macs", seq_len: int = SEQ_LEN) -> tuple[float, SubnetConfig, int]:
    """The threshold ``τ`` whose subnetwork's complexity is nearest ``target``, with that
    subnetwork and its complexity [EFTNAS24 Alg. 1, line 7]."""
    scores = torch.cat([head_scores.flatten(), channel_scores.flatten()]).double()
    taus = [-math.inf, *torch.unique(scores).tolist()]  # ascending: the subnetwork shrinks along the list

    def measured(index: int) -> tuple[SubnetConfig, int]:
        config = subnet_at(head_scores, channel_scores, taus[index])
        return config, complexity(shape, config, measure, seq_len)

    low, high = 0, len(taus) - 1  # the first index whose complexity is at most the target
    while low < high:
        middle = (low + high) // 2
        if measured(middle)[1] <= target:
            high = middle
        else:
            low = middle + 1
    candidates = [low - 1, low] if low > 0 else [low]
    best = min(candidates, key=lambda i: abs(measured(i)[1] - target))
    return (taus[best], *measured(best))


def generate_space(shape: Shape, head_scores: torch.Tensor, channel_scores: torch.Tensor, n: int = MAX_CONFIGS,
                   c_min: float | None = None, c_max: float | None = None, measure: Measure = "macs",
                   seq_len: int = SEQ_LEN, tolerance: float = TOLERANCE) -> SearchSpace:
    """Algorithm 1: ``n`` configurations at complexities evenly spaced from ``c_min`` to ``c_max``
    (by default those of the smallest subnetwork and of the full model), combined into per-layer
    choices.

    ``head_scores`` is (layers, heads) and ``channel_scores`` (layers, intermediate), as
    :class:`~.importance.MovementImportance` gives them. Targets outside the reachable range,
    or that no threshold meets within ``tolerance``, are a :class:`UserError`.
    """
    shape.check_scores(head_scores, channel_scores)
    if not 2 <= n <= MAX_CONFIGS:
        raise UserError(f"the number of configurations N must lie in [2, {MAX_CONFIGS}], got {n}")
    unit = UNITS[measure]
    lowest = complexity(shape, shape.minimal(), measure, seq_len)
    highest = complexity(shape, shape.full(), measure, seq_len)
    c_min = lowest if c_min is None else c_min
    c_max = highest if c_max is None else c_max
    if not lowest <= c_min < c_max <= highest:
        raise UserError(f"the target complexities must satisfy {lowest:,} <= C(a_min) < C(a_max) <= {highest:,} {unit} "
                        f"(the smallest subnetwork, one head and one FFN channel per layer, and the full model); "
                        f"got C(a_min) = {c_min:,}, C(a_max) = {c_max:,}")
    step = (c_max - c_min) / (n - 1)
    targets = [c_min + i * step for i in range(n - 1)] + [c_max]
    configs, complexities = [], []
    for target in targets:
        _, config, value = search_threshold(shape, head_scores, channel_scores, target, measure, seq_len)
        if abs(value - target) > tolerance * (c_max - c_min):
            raise UserError(f"no threshold gives a subnetwork of {target:,.0f} {unit} within {tolerance:.1%} of the "
                            f"range: the nearest has {value:,}; one head or channel changes the complexity by more "
                            "than that here, so give a larger tolerance")
        configs.append(config)
        complexities.append(value)
    heads = tuple(tuple(sorted({c.heads[i] for c in configs})) for i in range(shape.layers))
    ffn = tuple(tuple(sorted({c.ffn[i] for c in configs})) for i in range(shape.layers))
    return SearchSpace(heads, ffn, tuple(configs), tuple(complexities), tuple(targets), measure, seq_len)


def format_space(space: SearchSpace) -> str:
    """The space as the paper's Fig. 5 shows one: per layer, the head and FFN-width choices."""
    unit = UNITS[space.measure]
    lines = [f"{len(space.configs)} configurations from {space.complexities[0]:,} to {space.complexities[-1]:,} "
             f"{unit}{f' at {space.seq_len} tokens' if space.measure == 'macs' else ''}; "
             f"{space.cardinality():,} subnetworks",
             f"{'layer':>5}  {'heads':<20}  FFN width"]
    for i, (heads, ffn) in enumerate(zip(space.heads, space.ffn, strict=True), start=1):
        lines.append(f"{i:>5}  {', '.join(map(str, heads)):<20}  {', '.join(map(str, ffn))}")
    return "\n".join(lines)
