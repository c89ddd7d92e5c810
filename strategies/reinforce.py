"""REINFORCE over the decision vector [REINFORCE92] (the RL baseline of [FLEXIBERT23 §4.3]).

The policy is one independent categorical distribution per decision of the space's vector,
with logits θ. An ask samples a vector; ``tell`` applies θ ← θ + lr · A · ∇ log π(vector)
with the advantage A = (reward − baseline) / scale, where the baseline is an exponential
moving average of the rewards (decay ``baseline_decay``) and the scale a moving standard
deviation, so the step size does not depend on the objective's units (accuracy differences
of a point and toy scores of several units train alike). The policy starts from the
frequencies with which the space's own sampling picks each choice (``start=space``), so
that its first asks are spread like random search's rather than uniform per decision.

The learning rate is 0.5, the value NAS-Bench-201's reproduction of its REINFORCE baseline
uses ([NB201-20], chosen from a grid of 0.01–0.5; NAS-Bench-101's script uses 0.1 on
unnormalised accuracies, whose advantages are far smaller than these normalised ones). On
the built-in benchmark at 100 queries 0.1 learns too little to leave random search behind
(docs/encoding-study.md#reinforce). A sampled vector whose arch was
asked before is resampled (up to 100 times, then a random unseen arch is asked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.strategies.unseen import draw_unseen


@dataclass(frozen=True)
class ReinforceOptions:
    lr: float = option(0.5, "policy learning rate ([NB201-20]'s REINFORCE baseline: 0.5)")
    baseline_decay: float = option(0.9, "decay of the moving-average reward baseline")
    start: Literal["space", "uniform"] = option(
        "space", "initial policy: the decision frequencies of the space's own samples, or uniform per decision")

    def __post_init__(self) -> None:
        if self.lr <= 0 or not 0 <= self.baseline_decay < 1:
            raise ValueError("lr must be > 0 and baseline_decay in [0, 1)")


class Reinforce(Strategy):
    """Policy gradient with independent categoricals and a moving-average baseline."""

    name = "reinforce"
    Options = ReinforceOptions

    def setup(self) -> None:
        self.logits = [np.zeros(len(d.choices)) for d in self.space.decisions()]
        if self.options.start == "space":
            self.logits = self._space_frequencies()
        self.seen: set[Arch] = set()
        self.vectors: dict[Arch, list[int]] = {}
        self.baseline: float | None = None
        self.spread = 1.0

    def _space_frequencies(self, samples: int = 2_000) -> list[np.ndarray]:
        """Log-frequencies of each decision's choices over ``samples`` of the space's sampling
        (from a generator of their own, so the policy's draws do not depend on this count).

        A decision vector drawn uniformly per decision is far from a uniform draw of archs
        when decisions depend on one another: on level-1 FlexiBERT, half of such vectors have
        2 layers, against 3% of the cards, so a policy started uniform spends its first
        queries on the smallest archs. Started from these frequencies its first asks are
        distributed like random search's (up to the correlations between decisions).
        """
        rng = np.random.default_rng([self.seed, 17])
        counts = [np.ones(len(d.choices)) for d in self.space.decisions()]  # one pseudo-count each
        for _ in range(samples):
            for count, choice in zip(counts, self.space.to_decisions(self.space.sample(rng)), strict=True):
                count[choice] += 1
        return [np.log(count / count.sum()) for count in counts]

    def _probabilities(self) -> list[np.ndarray]:
        return [np.exp(x - x.max()) / np.exp(x - x.max()).sum() for x in self.logits]

    def ask(self, n: int = 1) -> list[Arch]:
        out = []
        for _ in range(n):
            probabilities = self._probabilities()
            for _ in range(100):
                vector = [int(self.rng.choice(len(p), p=p)) for p in probabilities]
                arch = self.space.from_decisions(vector)
                if arch not in self.seen:
                    self.seen.add(arch)
                    self.vectors[arch] = vector
                    break
            else:
                arch = draw_unseen(self.space, self.seen, lambda: self.space.sample(self.rng))
                self.vectors[arch] = list(self.space.to_decisions(arch))
            out.append(arch)
        return out

    def tell(self, arch: Arch, result: Result) -> None:
        reward = self.score(result)
        if reward is None:
            return
        if self.baseline is None:
            self.baseline = reward
            return
        decay = self.options.baseline_decay
        advantage = (reward - self.baseline) / self.spread
        self.spread = decay * self.spread + (1 - decay) * abs(reward - self.baseline) + 1e-12
        self.baseline = decay * self.baseline + (1 - decay) * reward
        vector = self.vectors.get(arch) or list(self.space.to_decisions(arch))
        for logits, p, choice in zip(self.logits, self._probabilities(), vector, strict=True):
            gradient = -p
            gradient[choice] += 1.0
            logits += self.options.lr * advantage * gradient
