"""Cards as really smaller models: widths, folding, extraction, and saving an extracted model.

A card (the binary architecture parameters of :class:`~.layout.Layout`) says which columns of
the super-network survive (:func:`widths`). :func:`extract` copies those columns into a
:class:`~.network.ComposedBert` of that size, which computes what the super-network computes
with the card's parameters, to float rounding. :func:`fold` moves real-valued parameters (those
direct optimisation learns, [COMPOSE20 §4.1]) into the super-network's weights and buffers
and gives the card they prune to, so that the card computes the relaxed network exactly:
"selection parameters simply scale the components' output, equivalent to ``w = 1`` and
re-scaling θ", and a connection between 0 and 1 is a scaled residual connection.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nasbench_txf.core.errors import DataError
from nasbench_txf.core.files import write_atomic
from nasbench_txf.spaces.composition.layout import Layout
from nasbench_txf.spaces.composition.network import (
    PRUNE_BELOW,
    ComposedBert,
    ComposedLayer,
    layer_gates,
)

SPEC_FILE, WEIGHTS_FILE = "composed.json", "model.safetensors"
FORMAT = "nasbench-txf/composed-model/1"


@dataclass(frozen=True)
class LayerWidths:
    """The columns one layer keeps: per head its query/key and value columns (0 and 0: dropped),
    per feed-forward part its units, and which columns of the super-network they are."""

    qk: list[int]
    v: list[int]
    ffn: list[int]
    q_columns: np.ndarray
    v_columns: np.ndarray
    ffn_columns: np.ndarray


def widths(layout: Layout, bits: np.ndarray) -> list[LayerWidths]:
    """The surviving columns of every layer of the card ``bits`` (a head with no value part left
    computes nothing, so its query and key go too)."""
    shape, parts, dh = layout.shape, layout.parts, layout.shape.head_dim
    out = []
    for layer in range(shape.layers):
        g = layer_gates(layout, torch.as_tensor(bits, dtype=torch.float64), layer)
        q_keep = g.q.numpy() != 0
        v_keep = g.v.numpy() != 0
        per_head_v = v_keep.reshape(shape.heads, dh)
        q_keep = q_keep & np.repeat(per_head_v.any(axis=1), dh)
        qk = q_keep.reshape(shape.heads, dh).sum(axis=1).tolist()
        f_keep = g.ffn.numpy() != 0
        ffn = f_keep.reshape(parts.ffn, -1).sum(axis=1).tolist()
        out.append(LayerWidths(qk, per_head_v.sum(axis=1).tolist(), ffn, np.flatnonzero(q_keep),
                               np.flatnonzero(v_keep), np.flatnonzero(f_keep)))
    return out


def card_bits(layout: Layout, gates: np.ndarray) -> np.ndarray:
    """The card relaxed parameters prune to: a selection whose magnitude is above the threshold
    of §4.1 is kept, a connection above it is vertical."""
    values = np.asarray(gates, dtype=np.float64)
    keep = np.where(layout.connections, values > PRUNE_BELOW, np.abs(values) > PRUNE_BELOW)
    return keep.astype(np.int64)


@torch.no_grad()
def fold(model: ComposedBert, gates: torch.Tensor) -> np.ndarray:
    """Fold the real-valued parameters ``gates`` into ``model``'s weights (selections into the
    columns they scale, connections and layer-norm means into ``link_scale`` and ``mean_scale``)
    and return the card they prune to; the card then computes what ``gates`` computed."""
    assert model.layout is not None
    layout = model.layout
    values = gates.detach().to(torch.float64).cpu()
    bits = card_bits(layout, values.numpy())
    # only what the card keeps is scaled: the rest stays as trained, so that another card of these
    # weights that keeps it (a further ask of the search) computes it
    kept = torch.where(torch.as_tensor(bits, dtype=torch.bool), values, torch.ones_like(values))
    for index, layer in enumerate(model.layers):
        g = layer_gates(layout, kept, index)
        heads, ffn = layer.heads, layer.ffn
        for linear, scale in ((heads.query, g.q), (heads.value, g.v)):
            linear.weight.mul_(scale.to(linear.weight.dtype)[:, None])
            linear.bias.mul_(scale.to(linear.bias.dtype))
        ffn.down.weight.mul_(g.ffn.to(ffn.down.weight.dtype)[None, :])
        heads.link_scale.mul_(g.head_links.to(heads.link_scale.dtype))
        ffn.link_scale.mul_(g.ffn_links.to(ffn.link_scale.dtype))
        layer.attention_norm.mean_scale.mul_(g.ln_mean[0].to(torch.float32))
        layer.ffn_norm.mean_scale.mul_(g.ln_mean[1].to(torch.float32))
    model.set_gates(torch.as_tensor(bits, dtype=torch.float32))
    return bits


@torch.no_grad()
def extract(model: ComposedBert, bits: np.ndarray) -> ComposedBert:
    """The card ``bits`` of the super-network ``model`` as a standalone model that holds only its
    surviving columns (in eval mode)."""
    assert model.layout is not None
    layout = model.layout
    bits = np.asarray(bits)
    layers = []
    for index, (source, keep) in enumerate(zip(model.layers, widths(layout, bits), strict=True)):
        g = layer_gates(layout, torch.as_tensor(bits, dtype=torch.float32), index)
        links = g.head_links * source.heads.link_scale
        keep = _by_shape(keep, links.tolist(), layout.shape.head_dim)
        layer = _layer_like(source, keep)
        q, v, f = (torch.as_tensor(c, dtype=torch.long) for c in (keep.q_columns, keep.v_columns, keep.ffn_columns))
        heads, ffn = layer.heads, layer.ffn
        for target, origin, rows in ((heads.query, source.heads.query, q), (heads.key, source.heads.key, q),
                                     (heads.value, source.heads.value, v), (ffn.up, source.ffn.up, f)):
            target.weight.copy_(origin.weight[rows])
            target.bias.copy_(origin.bias[rows])
        heads.output.weight.copy_(source.heads.output.weight[:, v])
        heads.output.bias.copy_(source.heads.output.bias)
        ffn.down.weight.copy_(source.ffn.down.weight[:, f])
        ffn.down.bias.copy_(source.ffn.down.bias)
        heads.link_scale.copy_(links)
        ffn.link_scale.copy_(g.ffn_links * source.ffn.link_scale)
        for target_norm, origin_norm, gate in ((layer.attention_norm, source.attention_norm, g.ln_mean[0]),
                                               (layer.ffn_norm, source.ffn_norm, g.ln_mean[1])):
            target_norm.load_state_dict(origin_norm.state_dict())
            target_norm.mean_scale.mul_(gate)
        layers.append(layer)
    return ComposedBert(copy.deepcopy(model.embeddings), layers, copy.deepcopy(model.pooler),
                        copy.deepcopy(model.classifier), model.dropout).eval()


def _by_shape(keep: LayerWidths, links: list[float], head_dim: int) -> LayerWidths:
    """``keep`` with the heads of each horizontal run ordered by their widths: they read one input
    and their outputs are summed, so the order changes nothing but lets heads of one shape be
    computed in one batch. The connections stay where they are (inside a run they are 0)."""
    order: list[int] = []
    first = 0
    for end in [j + 1 for j, w in enumerate(links) if w != 0.0] + [len(keep.qk)]:
        order += sorted(range(first, end), key=lambda h: (keep.qk[h], keep.v[h]))
        first = end

    def columns(kept: np.ndarray) -> np.ndarray:
        by_head = [kept[kept // head_dim == h] for h in order]
        return np.concatenate(by_head) if by_head else kept

    return LayerWidths([keep.qk[h] for h in order], [keep.v[h] for h in order], keep.ffn,
                       columns(keep.q_columns), columns(keep.v_columns), keep.ffn_columns)


def _layer_like(source: ComposedLayer, keep: LayerWidths) -> ComposedLayer:
    heads, ffn = source.heads, source.ffn
    return ComposedLayer(heads.query.in_features, keep.qk, keep.v, keep.ffn, heads.scale, ffn.activation,
                         ffn.dropout, heads.attention_dropout, source.attention_norm.eps)


def counts(layout: Layout, bits: np.ndarray, seq_len: int) -> dict[str, float]:
    """``params`` of the card's encoder layers and ``macs`` of them on one sequence of ``seq_len``
    tokens (query, key, value and output projections, attention scores and mixing, feed-forward)."""
    hidden, params, macs = layout.shape.hidden, 0, 0
    for keep in widths(layout, bits):
        qk, v, f = sum(keep.qk), sum(keep.v), sum(keep.ffn)
        params += 2 * (hidden * qk + qk) + hidden * v + v + v * hidden + hidden + 2 * hidden * f + f + hidden
        params += 4 * hidden  # two layer norms
        macs += seq_len * hidden * (2 * qk + 2 * v + 2 * f)
        macs += seq_len * seq_len * sum(dk + dv for dk, dv in zip(keep.qk, keep.v, strict=True) if dv)
    return {"params": float(params), "macs": float(macs)}


def save_composed(model: ComposedBert, bert_config: dict[str, Any], folder: Path) -> None:
    """Write an extracted model into ``folder``: its widths and the base's configuration as JSON,
    its weights as safetensors (:func:`load_composed` reads them back)."""
    from safetensors.torch import save

    if model.layout is not None:
        raise ValueError("save an extracted model, not the super-network")
    spec = {"format": FORMAT, "bert_config": bert_config,
            "layers": [{"qk": layer.heads.qk, "v": layer.heads.v, "ffn": layer.ffn.widths} for layer in model.layers]}
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / WEIGHTS_FILE, save({k: t.contiguous() for k, t in model.state_dict().items()}))
    write_atomic(folder / SPEC_FILE, json.dumps(spec, indent=1, sort_keys=True) + "\n")


def load_composed(folder: Path) -> ComposedBert:
    """An extracted model saved by :func:`save_composed`."""
    from safetensors.torch import load_file
    from transformers import BertConfig
    from transformers.activations import ACT2FN
    from transformers.models.bert.modeling_bert import BertEmbeddings, BertPooler

    try:
        spec = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
        if spec.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        config = BertConfig.from_dict(spec["bert_config"])
        dh = config.hidden_size // config.num_attention_heads
        layers = [ComposedLayer(config.hidden_size, layer["qk"], layer["v"], layer["ffn"], dh ** -0.5,
                                ACT2FN[config.hidden_act], config.hidden_dropout_prob,
                                config.attention_probs_dropout_prob, config.layer_norm_eps) for layer in spec["layers"]]
        model = ComposedBert(BertEmbeddings(config), layers, BertPooler(config),
                             nn.Linear(config.hidden_size, config.num_labels), config.hidden_dropout_prob)
        model.load_state_dict(load_file(folder / WEIGHTS_FILE))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise DataError(f"{folder}: not a composed model saved by nasbench-txf ({str(exc).splitlines()[0]})") from None
    return model.eval()
