"""DO, direct optimisation [COMPOSE20 §4.1]: relax the architecture parameters to real numbers and
minimise ``L_o(w, θ) + λ Σ |w_i| c_i`` over both.

The L1 term is minimised by proximal gradient steps: a gradient step on the task loss, then each
parameter is shrunk towards 0 by ``lr_arch · λ · c_i`` and set to exactly 0 if it would cross it
(soft thresholding). A plain subgradient of ``|w|`` leaves parameters oscillating around 0,
never below the pruning threshold; the proximal step is the standard way to reach the sparse
solutions the paper's pruning "below 1e-6" expects. Connection parameters stay in [0, 1]. After
the search, a selection with ``|w_i|`` at most 1e-6 is pruned and the others are folded into the
weights (a selection scales its component's output); a connection above 1e-6 is a (scaled)
vertical connection, or with ``links=rounded`` a connection is vertical above 0.5 and
horizontal below (the task loss lifts many connections slightly above 0, and each vertical one
splits a layer's attention, which costs the device its whole price). Asked for more cards, DO
prunes the selected card further, the smallest remaining ``|w_i|`` first.
Hand-written: no library trains relaxed component gates with an L1 prox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.strategies.one_shot import OneShotOptions, OneShotSearch


@dataclass(frozen=True)
class DOOptions(OneShotOptions):
    """DO's options: those of every one-shot search (λ, steps, learning rates), and how a
    connection between 0 and 1 is selected."""

    links: Literal["scaled", "rounded"] = option(
        "scaled", "scaled: a connection above 1e-6 is vertical and keeps its value as a scaled residual "
                  "(the trained network exactly); rounded: a connection is vertical when above 0.5, "
                  "horizontal otherwise (the network changes; tune_steps repair it)", keyed_at_default=False)


class DirectOptimisation(OneShotSearch):
    """DO: real-valued architecture parameters with an L1 cost, pruned below 1e-6 [COMPOSE20 §4.1]."""

    name = "do"
    Options = DOOptions

    def initial_parameters(self, base: np.ndarray, connections: np.ndarray) -> torch.Tensor:
        return torch.tensor(base, dtype=torch.float32, requires_grad=True)

    def gates_for_step(self, parameters: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return parameters

    @torch.no_grad()
    def update_architecture(self, parameters: torch.Tensor, gates: torch.Tensor, loss: torch.Tensor,
                            costs: torch.Tensor, connections: torch.Tensor) -> None:
        lr = self.options.lr_arch
        if parameters.grad is not None:  # the gradient holds λc_i·sign(w_i) too: take the task loss's part
            task = parameters.grad - self.options.lam * costs * torch.sign(parameters)
            parameters.sub_(lr * task)
        shrunk = torch.sign(parameters) * torch.clamp(parameters.abs() - lr * self.options.lam * costs, min=0.0)
        parameters.copy_(torch.where(connections, shrunk.clamp(0.0, 1.0), shrunk))

    def selected_gates(self, parameters: torch.Tensor) -> torch.Tensor:
        values = parameters.detach()
        if self.options.links == "scaled":
            return values
        connections = torch.as_tensor(self.space.connection_gates(), dtype=torch.bool)  # type: ignore[attr-defined]
        return torch.where(connections, (values > 0.5).to(values.dtype), values)

    def propose(self, parameters: torch.Tensor, draw: int) -> Arch:
        """The selected card with its ``draw`` smallest remaining selections pruned too (by
        ``|w_i|``), so that further asks walk down DO's own ranking of the components; past the
        last one, random cards."""
        values = parameters.detach().abs().numpy()
        bits = np.asarray(self.space.to_decisions(self.selected), dtype=np.int64)  # type: ignore[arg-type]
        connections = self.space.connection_gates()  # type: ignore[attr-defined]
        kept = np.flatnonzero((bits == 1) & ~connections)
        if draw > len(kept):
            return self.space.sample(self.rng)
        bits[kept[np.argsort(values[kept], kind="stable")[:draw]]] = 0
        return self.space.from_decisions(bits.tolist())
