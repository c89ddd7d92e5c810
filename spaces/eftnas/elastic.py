"""The elastic super-network, and subnetworks extracted from it as standalone models.

EFTNAS makes the number of attention heads and the FFN width of every encoder layer elastic
[EFTNAS24 §3.3, Fig. 2]: one set of weights holds all subnetworks, and activating one selects
the first heads and channels of each layer (the most important ones, after :mod:`.reorder`).
Here each elastic linear layer is replaced by an :class:`ElasticLinear` that holds the very
same parameters and slices them in its forward pass, so a subnetwork costs no copy, its
gradients reach the shared weights, and the model's state dict keeps its keys. The attention
modules of transformers infer the number of heads from the width of Q, K and V; their head
counts are set as well, for versions that read them.

An extracted subnetwork is a real, smaller ``BertForSequenceClassification``: the dropped heads'
rows and columns and the dropped channels are removed layer by layer. Its Hugging Face config
still describes the full model (it has one head count and one FFN width for all layers), so it
is saved with safetensors plus its own JSON configuration, which :func:`load_extracted` reads
back; where transformers can describe the subnetwork (all heads kept, one FFN width), it is also
saved as a transformers model (:func:`save_transformers`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from nasbench_txf.core.errors import DataError
from nasbench_txf.core.files import atomic_path, read_text, write_atomic
from nasbench_txf.core.safe_json import parse
from nasbench_txf.spaces.eftnas.base import BERT_TYPES, LINEARS, encoder_layers, linear, transformers_module
from nasbench_txf.spaces.eftnas.config import Shape, SubnetConfig

if TYPE_CHECKING:
    from transformers import BertForSequenceClassification

#: the format tag of an extracted subnetwork's JSON configuration
FORMAT = "nasbench-txf/eftnas-subnetwork/1"
CONFIG_FILE = "subnetwork.json"
WEIGHTS_FILE = "model.safetensors"


class ElasticLinear(nn.Linear):
    """A linear layer that computes with the first ``out_active`` rows and ``in_active``
    columns of its weight (and the first ``out_active`` biases)."""

    in_active: int
    out_active: int

    @classmethod
    def around(cls, layer: nn.Linear) -> ElasticLinear:
        """An elastic layer sharing ``layer``'s parameters, fully active."""
        elastic = cls(layer.in_features, layer.out_features, bias=layer.bias is not None, device="meta")
        elastic.weight, elastic.bias = layer.weight, layer.bias
        elastic.in_active, elastic.out_active = layer.in_features, layer.out_features
        return elastic

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias[:self.out_active]
        return F.linear(x, self.weight[:self.out_active, :self.in_active], bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, active={self.in_active}->{self.out_active}"


def _set_heads(layer: nn.Module, heads: int, head_dim: int) -> None:
    attention = layer.attention.self
    attention.num_attention_heads, attention.all_head_size = heads, heads * head_dim


def _widths(config: SubnetConfig, shape: Shape) -> list[dict[str, tuple[int | None, int | None]]]:
    """Per layer and elastic role: the (rows, columns) a subnetwork keeps; None keeps all."""
    widths = []
    for heads, width in zip(config.heads, config.ffn, strict=True):
        size = heads * shape.head_dim
        widths.append({"query": (size, None), "key": (size, None), "value": (size, None),
                       "attention_output": (None, size), "intermediate": (width, None), "output": (None, width)})
    return widths


class ElasticBert:
    """A ``BertForSequenceClassification`` made elastic in place: :meth:`activate` selects a
    subnetwork, which the model then computes until the next activation."""

    def __init__(self, model: BertForSequenceClassification) -> None:
        self.model = model
        self.shape = Shape.of(model)
        for layer in encoder_layers(model):
            for role, path in LINEARS.items():
                current = linear(layer, role)
                if not isinstance(current, ElasticLinear):
                    layer.set_submodule(path, ElasticLinear.around(current))
        self._active = self.shape.full()

    @property
    def active(self) -> SubnetConfig:
        return self._active

    def activate(self, config: SubnetConfig) -> None:
        """Compute with the first ``config.heads[i]`` heads and ``config.ffn[i]`` channels of layer ``i``."""
        self.shape.check(config)
        for layer, heads, widths in zip(encoder_layers(self.model), config.heads, _widths(config, self.shape),
                                        strict=True):
            for role, (rows, columns) in widths.items():
                elastic = linear(layer, role)
                elastic.out_active = rows or elastic.out_features
                elastic.in_active = columns or elastic.in_features
            _set_heads(layer, heads, self.shape.head_dim)
        self._active = config

    def deactivate(self) -> None:
        """Compute with the full model again."""
        self.activate(self.shape.full())

    def extract(self, config: SubnetConfig | None = None) -> tuple[BertForSequenceClassification, dict[str, Any]]:
        """A standalone copy of the subnetwork ``config`` (by default the active one) without the
        dropped heads and channels, and its configuration (for :func:`save_extracted`)."""
        config = self._active if config is None else config
        self.shape.check(config)
        model = copy.deepcopy(self.model)
        _shrink(model, config, self.shape)
        spec = {"format": FORMAT, "bert": json.loads(model.config.to_json_string(use_diff=False)),
                "subnetwork": config.to_dict()}
        return model, spec


def _sliced(layer: nn.Linear, rows: int | None, columns: int | None) -> nn.Linear:
    """A plain linear layer holding a copy of ``layer``'s first ``rows`` rows and ``columns`` columns."""
    rows, columns = rows or layer.out_features, columns or layer.in_features
    small = nn.Linear(columns, rows, bias=layer.bias is not None, device=layer.weight.device, dtype=layer.weight.dtype)
    with torch.no_grad():
        small.weight.copy_(layer.weight[:rows, :columns])
        if layer.bias is not None:
            small.bias.copy_(layer.bias[:rows])
    return small


def _shrink(model: nn.Module, config: SubnetConfig, shape: Shape) -> None:
    """Replace every elastic linear layer of ``model`` by the slice of it that ``config`` keeps."""
    for layer, heads, widths in zip(encoder_layers(model), config.heads, _widths(config, shape), strict=True):
        for role, (rows, columns) in widths.items():
            layer.set_submodule(LINEARS[role], _sliced(linear(layer, role), rows, columns))
        _set_heads(layer, heads, shape.head_dim)


def save_extracted(directory: Path | str, model: nn.Module, spec: dict[str, Any]) -> None:
    """Write an extracted subnetwork: its weights (safetensors) and its configuration (JSON)."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    with atomic_path(path / WEIGHTS_FILE) as partial:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(partial))
    write_atomic(path / CONFIG_FILE, json.dumps(spec, indent=1))


def transformers_config(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The Hugging Face configuration of an extracted subnetwork where transformers can describe
    it, else ``None``. transformers' BERT derives the head size from ``hidden_size /
    num_attention_heads`` and has one FFN width for all layers (version 5 dropped head pruning),
    so it describes a subnetwork only when every layer keeps all its heads and the layers share
    one FFN width."""
    config = SubnetConfig.from_dict(spec["subnetwork"], "the subnetwork")
    bert = spec["bert"]
    if set(config.heads) != {bert["num_attention_heads"]} or len(set(config.ffn)) != 1:
        return None
    return {**bert, "intermediate_size": config.ffn[0]}


def save_transformers(directory: Path | str, model: nn.Module, spec: dict[str, Any]) -> bool:
    """Also write the subnetwork as a transformers model (``save_pretrained``, safetensors) into
    ``directory`` where :func:`transformers_config` can describe it; whether it did."""
    config = transformers_config(spec)
    if config is None:
        return False
    transformers = transformers_module()
    with torch.random.fork_rng(devices=[]):
        plain = transformers.BertForSequenceClassification(transformers.BertConfig.from_dict(config))
    plain.load_state_dict(model.state_dict())
    plain.save_pretrained(str(directory))
    return True


def load_extracted(directory: Path | str) -> tuple[BertForSequenceClassification, dict[str, Any]]:
    """The subnetwork :func:`save_extracted` wrote to ``directory`` (in eval mode), and its configuration."""
    path = Path(directory)
    spec = parse(read_text(path / CONFIG_FILE), str(path / CONFIG_FILE))
    if not isinstance(spec, dict) or spec.get("format") != FORMAT or not isinstance(spec.get("bert"), dict):
        raise DataError(f"{path / CONFIG_FILE}: not the configuration of an extracted EFTNAS subnetwork")
    if spec["bert"].get("model_type") not in BERT_TYPES:
        raise DataError(f"{path / CONFIG_FILE}: the model is not BERT-family")
    config = SubnetConfig.from_dict(spec.get("subnetwork"), f"{path / CONFIG_FILE}: 'subnetwork'")
    transformers = transformers_module()
    try:
        with torch.random.fork_rng(devices=[]):  # the initial weights are replaced: leave the caller's seed alone
            model = transformers.BertForSequenceClassification(transformers.BertConfig.from_dict(spec["bert"]))
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path / CONFIG_FILE}: not a usable BERT configuration ({exc})") from None
    shape = Shape.of(model)
    shape.check(config)
    _shrink(model, config, shape)
    try:
        model.load_state_dict(load_file(str(path / WEIGHTS_FILE)))
    except (OSError, RuntimeError, SafetensorError) as exc:  # missing or unreadable file, other shapes
        raise DataError(f"{path / WEIGHTS_FILE}: not the weights of this subnetwork ({exc})") from None
    return model.eval(), spec
