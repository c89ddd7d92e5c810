"""First-order weight reordering: the most important heads and FFN channels first [EFTNAS24 §3.3].

Before the super-network is trained, the weights inherited from the base model are sorted by
their movement importance (Eq. 3), so that every subnetwork, which uses the first heads and
channels of each layer, shares the most important weights. The paper sorts W's columns by the
mean of S's columns and gives Q and K one permutation; here whole heads are permuted, so Q, K,
V and the output projection's input columns of a head move together, by the head's mean score
over all four (:meth:`~.importance.MovementImportance.head_scores`).

A permutation of heads, or of FFN channels, that is applied consistently to the weights
producing them and to those reading them leaves the model's function unchanged (up to the
rounding of a different summation order): the reordered model equals the base model.
"""

from __future__ import annotations

import torch
from torch import nn

from nasbench_txf.spaces.eftnas.base import encoder_layers, linear
from nasbench_txf.spaces.eftnas.config import Shape


def _take_rows(layer: nn.Linear, index: torch.Tensor) -> None:
    layer.weight.copy_(layer.weight[index])
    if layer.bias is not None:
        layer.bias.copy_(layer.bias[index])


def _take_columns(layer: nn.Linear, index: torch.Tensor) -> None:
    layer.weight.copy_(layer.weight[:, index])


def reorder(model: nn.Module, head_scores: torch.Tensor,
            channel_scores: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Sort every layer's heads and FFN channels in place by descending score.

    ``head_scores`` is (layers, heads) and ``channel_scores`` (layers, intermediate). Returns per
    layer the new order of heads and of channels: position ``i`` holds what was head (channel)
    ``order[i]``. Ties keep their original order.
    """
    shape = Shape.of(model)
    shape.check_scores(head_scores, channel_scores)
    orders = []
    with torch.no_grad():
        for layer, heads, channels in zip(encoder_layers(model), head_scores, channel_scores, strict=True):
            head_order = torch.argsort(heads, descending=True, stable=True)
            channel_order = torch.argsort(channels, descending=True, stable=True)
            device = linear(layer, "query").weight.device
            rows = (head_order[:, None] * shape.head_dim + torch.arange(shape.head_dim)).flatten().to(device)
            for role in ("query", "key", "value"):
                _take_rows(linear(layer, role), rows)
            _take_columns(linear(layer, "attention_output"), rows)
            _take_rows(linear(layer, "intermediate"), channel_order.to(device))
            _take_columns(linear(layer, "output"), channel_order.to(device))
            orders.append((head_order, channel_order))
    return orders
