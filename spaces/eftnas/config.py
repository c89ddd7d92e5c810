"""An encoder's sizes and a subnetwork of it: per-layer attention heads and feed-forward widths.

EFTNAS makes two things elastic in every encoder layer [EFTNAS24 §3.3]: the number of
attention heads (Fig. 2) and the width of the feed-forward network's intermediate layer. A
subnetwork is one choice of both per layer; after reordering it uses the first heads and
channels of each layer, so the counts say everything about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nasbench_txf.core.errors import UserError
from nasbench_txf.core.safe_json import shown
from nasbench_txf.spaces.eftnas.base import encoder_layers

if TYPE_CHECKING:
    import torch
    from transformers import BertForSequenceClassification


@dataclass(frozen=True)
class SubnetConfig:
    """Per encoder layer: how many attention heads and how many FFN channels are active."""

    heads: tuple[int, ...]
    ffn: tuple[int, ...]

    def to_dict(self) -> dict[str, list[int]]:
        return {"heads": list(self.heads), "ffn": list(self.ffn)}

    @classmethod
    def from_dict(cls, data: Any, what: str = "a subnetwork configuration") -> SubnetConfig:
        """The configuration in ``data`` (as :meth:`to_dict` writes it); else a :class:`UserError`
        naming ``what``. Sizes are checked against an encoder by :meth:`Shape.check`."""
        if not isinstance(data, dict) or set(data) != {"heads", "ffn"}:
            raise UserError(f"{what} must be an object with the lists 'heads' and 'ffn', got {shown(data)}")
        lists = [data["heads"], data["ffn"]]
        for values in lists:
            if not isinstance(values, list) or not all(type(v) is int for v in values):
                raise UserError(f"{what}: 'heads' and 'ffn' must be lists of integers, got {shown(values)}")
        return cls(tuple(lists[0]), tuple(lists[1]))


@dataclass(frozen=True)
class Shape:
    """The sizes of the BERT encoder that subnetworks are cut from."""

    layers: int
    hidden: int
    heads: int
    intermediate: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @classmethod
    def of(cls, model: BertForSequenceClassification) -> Shape:
        """The sizes of a BERT-family classifier; any other model is a :class:`UserError`."""
        encoder_layers(model)
        config = model.config
        return cls(config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.intermediate_size)

    def full(self) -> SubnetConfig:
        """The configuration of the whole encoder."""
        return SubnetConfig((self.heads,) * self.layers, (self.intermediate,) * self.layers)

    def minimal(self) -> SubnetConfig:
        """The smallest subnetwork: one head and one FFN channel per layer. Fewer would remove a
        layer's attention or feed-forward network, which EFTNAS's elasticity does not do."""
        return SubnetConfig((1,) * self.layers, (1,) * self.layers)

    def check(self, config: SubnetConfig) -> None:
        """A :class:`UserError` unless ``config`` has one entry per layer, each from one to the
        encoder's number of heads (FFN width)."""
        for name, values, top in (("heads", config.heads, self.heads), ("ffn", config.ffn, self.intermediate)):
            if len(values) != self.layers:
                raise UserError(f"the configuration gives {len(values)} '{name}' values for an encoder of "
                                f"{self.layers} layers")
            if not all(1 <= v <= top for v in values):
                raise UserError(f"the configuration's '{name}' values {list(values)} must each lie in [1, {top}]")

    def check_scores(self, head_scores: torch.Tensor, channel_scores: torch.Tensor) -> None:
        """A :class:`UserError` unless the scores are (layers, heads) and (layers, intermediate)."""
        if tuple(head_scores.shape) != (self.layers, self.heads) or \
                tuple(channel_scores.shape) != (self.layers, self.intermediate):
            raise UserError(f"scores of shapes {tuple(head_scores.shape)} and {tuple(channel_scores.shape)} do not fit "
                            f"an encoder of {self.layers} layers, {self.heads} heads and FFN width {self.intermediate}")
