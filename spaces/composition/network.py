"""A BERT encoder as a composition of components and connector units [COMPOSE20 §3].

Each layer is ``LN ∘ Ω ∘ (○ Ψ(FF part, w)) ∘ LN ∘ Ω ∘ (○ Ψ(head, w))`` (§3.2.2): a group of
single-head attentions, then a group of feed-forward parts, each group closed by Ω and a layer
norm whose mean is gated (``μ' = w·μ``). The connector unit

    Ψ(f, w)(X, R) = (X + w·(f(X) + R), (1 - w)·(f(X) + R)),    Ω(X, R) = X + R

passes the input ``X`` and the layer's running sum ``R`` from component to component: with
``w = 0`` the next component reads the same ``X`` (horizontal), with ``w = 1`` the layer ends
and the next component reads its output (vertical). Components between two non-zero
connections read the same input, so each such run (a *segment*) is computed in one batched
matrix product, and a network whose connections are all 0 costs what the base costs.

One module serves as the super-network and as an extracted model. In the super-network every
component has its full width and the architecture parameters (``gates``, the flat vector of
:class:`~.layout.Layout`) scale the query columns (query-key parts), the value columns (heads
and value parts) and the feed-forward units (parts); with every selection at 1 and every
connection at 0 it computes exactly its base's BERT layer (Appendix B). An extracted model
(:func:`extract`) keeps only the selected columns, with the selection values folded into its
weights, and no gates: the dropped components are really gone. The connection values and the
layer-norm mean values live in buffers (``link_scale``, ``mean_scale``), so that a network
whose relaxed parameters were not 0 or 1 (direct optimisation, §4.1) can be folded and
extracted exactly.

Hand-written: no library composes attention heads and feed-forward parts with connector units.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasbench_txf.spaces.composition.layout import Layout

if TYPE_CHECKING:
    from transformers import BertForSequenceClassification

#: a parameter whose magnitude is at most this is dropped (the pruning threshold of §4.1)
PRUNE_BELOW = 1e-6


def _segments(links: torch.Tensor, units: int) -> list[tuple[int, int, torch.Tensor | float]]:
    """Runs of components that read one input, ``(first, end, w)``: split after every non-zero
    connection ``w``, and after every connection while connections are being trained (their
    gradient at 0 decides whether they leave it); the last run's ``w`` is 0 (Ω closes the group)."""
    out: list[tuple[int, int, torch.Tensor | float]] = []
    start, split_all = 0, links.requires_grad
    for unit, w in enumerate(links.tolist()):
        if w != 0.0 or split_all:
            out.append((start, unit + 1, links[unit]))
            start = unit + 1
    out.append((start, units, 0.0))
    return out


def _compose(x: torch.Tensor, links: torch.Tensor, units: int,
             component: Callable[[torch.Tensor, int, int], torch.Tensor | None]) -> torch.Tensor:
    """Ψ over the segments in order, each computed by ``component(X, first, end)`` (``None``: a
    segment with no component left) on the input the connections before it give, then Ω."""
    running: torch.Tensor | float = 0.0
    for first, end, w in _segments(links, units):
        out = component(x, first, end)
        total = running if out is None else out + running
        if isinstance(w, float) and w == 0.0:
            running = total
        else:
            x, running = x + w * total, (1 - w) * total
    return x + running


def _linear(inputs: int, outputs: int) -> nn.Linear:
    """A linear layer; one with no rows or columns (every component of a group dropped) is not initialised."""
    if inputs and outputs:
        return nn.Linear(inputs, outputs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors")
        return nn.Linear(inputs, outputs)


def _offsets(widths: list[int]) -> list[int]:
    return [0, *np.cumsum(widths).tolist()]


class HeadGroup(nn.Module):
    """Single-head attentions connected by Ψ; head ``i`` has ``qk[i]`` query/key and ``v[i]`` value columns."""

    def __init__(self, hidden: int, qk: list[int], v: list[int], scale: float, dropout: float,
                 attention_dropout: float) -> None:
        super().__init__()
        self.qk, self.v, self.scale = list(qk), list(v), scale
        #: BERT's dropout rates: of the output, and of the attention probabilities
        self.dropout, self.attention_dropout = dropout, attention_dropout
        self.query, self.key = _linear(hidden, sum(qk)), _linear(hidden, sum(qk))
        self.value, self.output = _linear(hidden, sum(v)), _linear(sum(v), hidden)
        self.register_buffer("link_scale", torch.ones(max(len(qk) - 1, 0)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, links: torch.Tensor,
                q_gate: torch.Tensor | None = None, v_gate: torch.Tensor | None = None) -> torch.Tensor:
        qo, vo = _offsets(self.qk), _offsets(self.v)

        def heads(x: torch.Tensor, first: int, end: int) -> torch.Tensor | None:
            if vo[end] == vo[first]:
                return None
            qs, vs = slice(qo[first], qo[end]), slice(vo[first], vo[end])
            q = F.linear(x, self.query.weight[qs], self.query.bias[qs])
            k = F.linear(x, self.key.weight[qs], self.key.bias[qs])
            v = F.linear(x, self.value.weight[vs], self.value.bias[vs])
            if q_gate is not None:
                q = q * q_gate[qs]
            if v_gate is not None:
                v = v * v_gate[vs]
            context = self._attend(q, k, v, mask, self.qk[first:end], self.v[first:end])
            return F.dropout(F.linear(context, self.output.weight[:, vs]), self.dropout, self.training)

        return _compose(x, links, len(self.qk), heads) + self.output.bias

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor,
                qk: list[int], vw: list[int]) -> torch.Tensor:
        """Each head's attention over its own columns; each run of consecutive heads of one shape
        is one batched computation (an extracted model orders a segment's heads by shape)."""
        batch, length, _ = q.shape
        p = self.attention_dropout if self.training else 0.0
        qo, vo = _offsets(qk), _offsets(vw)
        pieces = []
        first = 0
        while first < len(qk):
            end = first + 1
            while end < len(qk) and (qk[end], vw[end]) == (qk[first], vw[first]):
                end += 1
            n, dk, dv = end - first, qk[first], vw[first]
            values = v[..., vo[first]:vo[end]]
            if dv and not dk:  # no query-key similarity left: a uniform average of the values (Fig. 2)
                weights = F.dropout(torch.softmax(mask.expand(batch, 1, length, length), dim=-1), p, self.training)
                pieces.append(weights.squeeze(1) @ values)
            elif dv:
                heads = [t.reshape(batch, length, n, d).transpose(1, 2) for t, d in (
                    (q[..., qo[first]:qo[end]], dk), (k[..., qo[first]:qo[end]], dk), (values, dv))]
                out = F.scaled_dot_product_attention(*heads, attn_mask=mask, dropout_p=p, scale=self.scale)
                pieces.append(out.transpose(1, 2).reshape(batch, length, n * dv))
            first = end
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=-1)


class FeedForwardGroup(nn.Module):
    """Feed-forward parts connected by Ψ; part ``i`` has ``widths[i]`` intermediate units."""

    def __init__(self, hidden: int, widths: list[int], activation: Any, dropout: float) -> None:
        super().__init__()
        self.widths, self.activation, self.dropout = list(widths), activation, dropout
        self.up, self.down = _linear(hidden, sum(widths)), _linear(sum(widths), hidden)
        self.register_buffer("link_scale", torch.ones(max(len(widths) - 1, 0)))

    def forward(self, x: torch.Tensor, links: torch.Tensor, gate: torch.Tensor | None = None) -> torch.Tensor:
        offsets = _offsets(self.widths)

        def parts(x: torch.Tensor, first: int, end: int) -> torch.Tensor | None:
            if offsets[end] == offsets[first]:
                return None
            span = slice(offsets[first], offsets[end])
            hidden = self.activation(F.linear(x, self.up.weight[span], self.up.bias[span]))
            if gate is not None:
                hidden = hidden * gate[span]
            return F.dropout(F.linear(hidden, self.down.weight[:, span]), self.dropout, self.training)

        return _compose(x, links, len(self.widths), parts) + self.down.bias


class GatedLayerNorm(nn.Module):
    """Layer norm with a scaled mean, ``(X - w·μ) / σ`` with ``σ² = mean((X - w·μ)²)`` [COMPOSE20 §3.1];
    with ``w = 0`` the mean is not computed at all. Without a gate (a fixed network, as extracted)
    it runs torch's fused ``layer_norm`` (``w = 1``) or ``rms_norm`` of ``X - w·μ`` (any other
    ``w``), so that neither the base nor a selected network is timed with a slower norm."""

    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(hidden)), nn.Parameter(torch.zeros(hidden)), eps
        self.register_buffer("mean_scale", torch.ones(1))

    def forward(self, x: torch.Tensor, gate: torch.Tensor | None = None) -> torch.Tensor:
        if gate is not None:  # differentiable in the gate
            x = x - gate * self.mean_scale * x.mean(-1, keepdim=True)
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight + self.bias
        shape, w = (x.shape[-1],), float(self.mean_scale)  # a fixed network: torch's fused kernels
        if w == 1.0:
            return F.layer_norm(x, shape, self.weight, self.bias, self.eps)
        if w != 0.0:
            x = x - w * x.mean(-1, keepdim=True)
        return F.rms_norm(x, shape, self.weight, self.eps) + self.bias


class ComposedLayer(nn.Module):
    """One encoder layer: heads, Ω, layer norm, feed-forward parts, Ω, layer norm."""

    def __init__(self, hidden: int, qk: list[int], v: list[int], ffn: list[int], scale: float, activation: Any,
                 dropout: float, attention_dropout: float, eps: float) -> None:
        super().__init__()
        self.heads = HeadGroup(hidden, qk, v, scale, dropout, attention_dropout)
        self.attention_norm = GatedLayerNorm(hidden, eps)
        self.ffn = FeedForwardGroup(hidden, ffn, activation, dropout)
        self.ffn_norm = GatedLayerNorm(hidden, eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, gates: LayerGates | None) -> torch.Tensor:
        if gates is None:
            x = self.attention_norm(self.heads(x, mask, self.heads.link_scale))
            return self.ffn_norm(self.ffn(x, self.ffn.link_scale))
        x = self.heads(x, mask, gates.head_links * self.heads.link_scale, gates.q, gates.v)
        x = self.attention_norm(x, gates.ln_mean[0])
        x = self.ffn(x, gates.ffn_links * self.ffn.link_scale, gates.ffn)
        return self.ffn_norm(x, gates.ln_mean[1])


@dataclass(frozen=True)
class LayerGates:
    """One layer's architecture parameters, expanded to the columns they scale."""

    q: torch.Tensor
    v: torch.Tensor
    head_links: torch.Tensor
    ffn: torch.Tensor
    ffn_links: torch.Tensor
    ln_mean: torch.Tensor


def layer_gates(layout: Layout, gates: torch.Tensor, layer: int) -> LayerGates:
    """The gates of ``layer``: query columns scaled by their query-key part, value columns by
    their head and value part, feed-forward units by their part."""
    shape, parts = layout.shape, layout.parts

    def part(kind: str) -> torch.Tensor:
        return gates[layout.span(layer, kind)]

    dh = shape.head_dim
    q = part("qk").repeat_interleave(dh // parts.qk)
    v = part("value").repeat_interleave(dh // parts.value) * part("head").repeat_interleave(dh)
    return LayerGates(q, v, part("head_link"), part("ffn").repeat_interleave(shape.intermediate // parts.ffn),
                      part("ffn_link"), part("ln_mean"))


class ComposedBert(nn.Module):
    """A composed BERT classifier called as ``model(ids, mask, types)`` → logits.

    ``layout`` is set on a super-network (every component at full width), which then computes
    the network that :meth:`set_gates` last set (the base network until then); an extracted
    model has no layout and computes its own, smaller network.
    """

    def __init__(self, embeddings: nn.Module, layers: list[ComposedLayer], pooler: nn.Module, classifier: nn.Module,
                 dropout: float, layout: Layout | None = None) -> None:
        super().__init__()
        self.embeddings, self.layers = embeddings, nn.ModuleList(layers)
        self.pooler, self.classifier, self.dropout = pooler, classifier, dropout
        self.layout = layout
        self.gates: torch.Tensor | None = None if layout is None else torch.tensor(layout.base(), dtype=torch.float32)

    def set_gates(self, gates: torch.Tensor) -> None:
        """Compute the network of these architecture parameters (a flat vector of the layout;
        real-valued and differentiable while a one-shot search trains them)."""
        if self.layout is None:
            raise ValueError("an extracted model has no architecture parameters")
        if gates.shape != (self.layout.size,):
            raise ValueError(f"expected {self.layout.size} architecture parameters, got {tuple(gates.shape)}")
        self.gates = gates

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None,
                types: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones_like(ids)
        hidden = self.embeddings(input_ids=ids, token_type_ids=types)
        additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        gates = None
        if self.layout is not None and self.gates is not None:
            gates = self.gates.to(hidden.device, hidden.dtype)
        for index, layer in enumerate(self.layers):
            hidden = layer(hidden, additive, None if gates is None else layer_gates(self.layout, gates, index))
        pooled = self.pooler(hidden)
        return self.classifier(F.dropout(pooled, self.dropout, self.training))


def from_bert(model: BertForSequenceClassification, layout: Layout) -> ComposedBert:
    """The super-network of a Hugging Face BERT classifier decomposed as ``layout`` says, with
    its weights (copied): with the base's architecture parameters it computes what ``model`` does."""
    from transformers.activations import ACT2FN

    config, shape = model.config, layout.shape
    dh, ffn = shape.head_dim, shape.intermediate // layout.parts.ffn
    layers = []
    for source in model.bert.encoder.layer:
        layer = ComposedLayer(shape.hidden, [dh] * shape.heads, [dh] * shape.heads, [ffn] * layout.parts.ffn,
                              dh ** -0.5, ACT2FN[config.hidden_act], config.hidden_dropout_prob,
                              config.attention_probs_dropout_prob, config.layer_norm_eps)
        attention = source.attention
        pairs = [(layer.heads.query, attention.self.query), (layer.heads.key, attention.self.key),
                 (layer.heads.value, attention.self.value), (layer.heads.output, attention.output.dense),
                 (layer.attention_norm, attention.output.LayerNorm), (layer.ffn.up, source.intermediate.dense),
                 (layer.ffn.down, source.output.dense), (layer.ffn_norm, source.output.LayerNorm)]
        with torch.no_grad():
            for target, origin in pairs:
                target.weight.copy_(origin.weight)
                target.bias.copy_(origin.bias)
        layers.append(layer)
    return ComposedBert(copy.deepcopy(model.bert.embeddings), layers, copy.deepcopy(model.bert.pooler),
                        copy.deepcopy(model.classifier), config.hidden_dropout_prob, layout).eval()
