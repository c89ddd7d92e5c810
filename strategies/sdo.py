"""SDO, sampling distribution optimisation [COMPOSE20 §4.2, App. A.1]: learn a Bernoulli policy over
the binary architecture parameters with the network, and output its most likely network.

Each step samples ``w ~ π(·|φ)`` with ``E[w_i] = sigmoid(φ_i)``, trains θ on ``L(w, θ) = L_o(w, θ) +
λ Σ w_i c_i`` and moves φ by the score-function gradient of Eq. 1 scaled by ν (App. A.1):
``φ_i ← φ_i − lr_arch · ν · g_i · L(w, θ)``. Two forms of ``g_i`` are offered:

- ``estimator=exact`` (default): the Bernoulli score ``g_i = w_i − sigmoid(φ_i)``, with ``L`` taken
  relative to a running mean of past losses (a baseline, which changes the variance, not the
  expectation). Its expectation is the gradient of ``E[L]``.
- ``estimator=paper``: App. A.1 as printed, ``g_i = (−1)^(1−w_i)`` without a baseline. It drops
  the policy's normaliser, so its expectation is not zero where ``L`` does not depend on ``w_i``:
  every probability is pulled towards 1/2 by ``L`` itself.

The policy starts at the base network with ``explore`` as the chance that a sample differs from it
in each parameter (the paper starts w at the base network and lets the policy explore). The
default ``lr_arch`` is sized so that, with ν = 0.01, a component whose cost exceeds what it is
worth by 0.1 of loss is dropped within about 100 steps: φ must move by log(9) ≈ 2.2, and its
expected step is ``lr_arch·ν·p(1−p)·ΔL`` with p = 0.9. The
output is the maximum-likelihood card: ``w_i = 1`` where ``sigmoid(φ_i) > 1/2``; asked for more
cards, SDO samples them from its policy.
Hand-written: the estimator is four lines over the network's own loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.strategies.one_shot import OneShotOptions, OneShotSearch


@dataclass(frozen=True)
class SDOOptions(OneShotOptions):
    lam: float = option(1e-2, "λ: weight of the cost term L_c(w) (in units of the base network's time)")
    nu: float = option(0.01, "ν: size of the policy's updates relative to the loss (App. A.1)")
    lr_arch: float = option(300.0, "learning rate of the policy's parameters φ (each update is lr_arch·ν·g·L)")
    explore: float = option(0.1, "initial chance that a sampled parameter differs from the base network's")
    estimator: Literal["exact", "paper"] = option("exact", "exact: the Bernoulli score with a running baseline; "
                                                           "paper: App. A.1's (-1)^(1-w) form")
    baseline_decay: float = option(0.9, "decay of the running mean of the loss (estimator=exact)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not math.isfinite(self.nu) or not 0 < self.nu <= 10:
            raise ValueError(f"nu (ν) must be a number above 0 and at most 10, got {self.nu}")
        if not 0 < self.explore < 0.5:
            raise ValueError(f"explore must be above 0 and below 0.5, got {self.explore}")
        if not 0 <= self.baseline_decay < 1:
            raise ValueError("baseline_decay must be from 0 to below 1")


class SamplingDistributionOptimisation(OneShotSearch):
    """SDO: a Bernoulli policy over the architecture trained by Eq. 1; outputs its most likely card [COMPOSE20 §4.2]."""

    name = "sdo"
    Options = SDOOptions

    def setup(self) -> None:
        super().setup()
        self.baseline: float | None = None

    def initial_parameters(self, base: np.ndarray, connections: np.ndarray) -> torch.Tensor:
        logit = math.log((1 - self.options.explore) / self.options.explore)
        return torch.tensor(np.where(base > 0.5, logit, -logit), dtype=torch.float32)

    def gates_for_step(self, parameters: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(parameters), generator=generator)

    @torch.no_grad()
    def update_architecture(self, parameters: torch.Tensor, gates: torch.Tensor, loss: torch.Tensor,
                            costs: torch.Tensor, connections: torch.Tensor) -> None:
        o, value = self.options, float(loss)
        if o.estimator == "paper":
            score, signal = 2 * gates - 1, value
        else:
            score = gates - torch.sigmoid(parameters)
            signal = value - (value if self.baseline is None else self.baseline)
            self.baseline = value if self.baseline is None else o.baseline_decay * self.baseline + (
                1 - o.baseline_decay) * value
        parameters.sub_(o.lr_arch * o.nu * score * signal)

    def selected_gates(self, parameters: torch.Tensor) -> torch.Tensor:
        return (torch.sigmoid(parameters) > 0.5).to(torch.float32)

    def propose(self, parameters: torch.Tensor, draw: int) -> Arch:
        """A card sampled from the learned policy π(·|φ)."""
        chance = torch.sigmoid(parameters).numpy()
        return self.space.from_decisions((self.rng.random(len(chance)) < chance).astype(int).tolist())

    def extra_state(self) -> dict[str, Any]:
        return {"baseline": self.baseline}

    def restore_extra_state(self, state: dict[str, Any]) -> None:
        self.baseline = state.get("baseline")
