"""Torch model for any FlexiBERT card [FLEXIBERT23 §3.1, Eqs. 1-3; App. A.1].

Each encoder layer: a token-mixing operation with ``n`` heads, add&norm, then a stack of
feed-forward blocks (MobileBERT-style), each with its own add&norm. Positions are relative
and trained at every layer (Shaw et al. 2018): self-attention adds ``q·r(i-j)`` to its
scores; LT and DSC layers add ``RelativeAttention(X) = softmax(Q R^T / sqrt(d)) V`` to their
output (Eqs. 2-3). A linear projection joins layers of different hidden size. Written by
hand because no library offers heterogeneous layers of these operation types.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from nasbench_txf.spaces.flexibert.elements import Layer


class Heads(nn.Module):
    """Shared machinery: head split/merge and the trained relative position table."""

    def __init__(self, hidden: int, heads: int, max_len: int) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads, self.head_dim, self.max_len = heads, hidden // heads, max_len
        self.relative = nn.Embedding(2 * max_len - 1, self.head_dim)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, length, _ = x.shape
        return x.view(b, length, self.heads, self.head_dim).transpose(1, 2)

    @staticmethod
    def merge(x: torch.Tensor) -> torch.Tensor:
        b, h, length, d = x.shape
        return x.transpose(1, 2).reshape(b, length, h * d)

    def position_scores(self, q: torch.Tensor) -> torch.Tensor:
        """``q_i · r(i-j) / sqrt(d)`` for every pair: (batch, heads, L, L).

        One GEMM against the 2L-1 distinct offsets, then a gather into (i, j) pairs: the same
        values as an (L, L, d) table product at a fraction of its cost.
        """
        length = q.shape[2]
        offsets = torch.arange(-(length - 1), length, device=q.device)
        table = self.relative(offsets.clamp(-(self.max_len - 1), self.max_len - 1) + (self.max_len - 1))
        scores = q @ table.T  # (b, h, L, 2L-1); column c is offset c - (L-1)
        pos = torch.arange(length, device=q.device)
        index = (pos[:, None] - pos[None, :] + length - 1).expand(*q.shape[:2], length, length)
        return torch.gather(scores, -1, index) / math.sqrt(self.head_dim)


class SelfAttention(Heads):
    """SA with SDP (scaled dot product) or WMA (weighted multiplicative, Luong et al. 2015)."""

    def __init__(self, hidden: int, heads: int, similarity: str, max_len: int, dropout: float) -> None:
        super().__init__(hidden, heads, max_len)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.dropout = dropout
        # WMA: score = q^T W k with a learned W per head (initialised to the identity = SDP)
        self.weight = (nn.Parameter(torch.eye(self.head_dim).repeat(heads, 1, 1))
                       if similarity == "WMA" else None)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = (self.split(t) for t in self.qkv(x).chunk(3, dim=-1))
        if self.weight is not None:
            k = torch.einsum("bhld,hed->bhle", k, self.weight)
        bias = self.position_scores(q) + mask
        drop = self.dropout if self.training else 0.0
        return self.out(self.merge(F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)))


class RelativeAttention(Heads):
    """``softmax(Q R^T / sqrt(d)) V`` (Eq. 1 context): positions only, for LT and DSC layers."""

    def __init__(self, hidden: int, heads: int, max_len: int) -> None:
        super().__init__(hidden, heads, max_len)
        self.qv = nn.Linear(hidden, 2 * hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, v = (self.split(t) for t in self.qv(x).chunk(2, dim=-1))
        weights = torch.softmax(self.position_scores(q) + mask, dim=-1)
        return self.merge(weights @ v)


@cache
def dct_matrix(n: int) -> torch.Tensor:
    """Orthonormal DCT-II matrix of size n."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    m = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m.float()


class LinearTransform(nn.Module):
    """LT (FNet, Lee-Thorp et al. 2021): DFT (real part) or DCT over sequence and hidden
    dimensions, plus relative attention (Eq. 2). Padded positions are zeroed first.

    Both transforms are orthonormal (the DFT uses ``norm="ortho"``), so the mixed signal has
    the scale of its input. FNet's unnormalised DFT is sqrt(length x hidden) times larger,
    which swamps the residual and, under gradient clipping, starves every other layer of
    gradient, so that a model trained from scratch can stay at chance.
    """

    def __init__(self, hidden: int, heads: int, transform: str, max_len: int) -> None:
        super().__init__()
        self.transform = transform
        self.relative = RelativeAttention(hidden, heads, max_len)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        if self.transform == "DFT":
            return torch.fft.fft2(x.float(), norm="ortho").real.to(x.dtype)
        seq = dct_matrix(x.shape[1]).to(x.device, x.dtype)
        hid = dct_matrix(x.shape[2]).to(x.device, x.dtype)
        return seq @ x @ hid.T

    def forward(self, x: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return self.mix(x * keep) + self.relative(x, mask)


class DynamicConvolution(nn.Module):
    """DSC: span-based dynamic convolution (ConvBERT, Jiang et al. 2020) with kernel size k,
    plus relative attention (Eq. 3). The kernel at each position is generated from the
    product of the query and a depthwise-separable convolution of the keys."""

    def __init__(self, hidden: int, heads: int, kernel: int, max_len: int) -> None:
        super().__init__()
        self.heads, self.kernel, self.head_dim = heads, kernel, hidden // heads
        self.depthwise = nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2, groups=hidden, bias=False)
        self.pointwise = nn.Linear(hidden, hidden)
        self.query = nn.Linear(hidden, hidden)
        self.kernel_gen = nn.Linear(hidden, heads * kernel)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.relative = RelativeAttention(hidden, heads, max_len)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, length, hidden = x.shape
        xs = x * keep
        keys = self.pointwise(self.depthwise(xs.transpose(1, 2)).transpose(1, 2))
        kernels = torch.softmax(self.kernel_gen(keys * self.query(xs)).view(b, length, self.heads, self.kernel), -1)
        values = F.pad(self.value(xs).transpose(1, 2), (self.kernel // 2, self.kernel // 2))
        windows = values.unfold(2, self.kernel, 1)  # (b, hidden, L, k)
        windows = windows.view(b, self.heads, self.head_dim, length, self.kernel)
        conv = torch.einsum("bhdlk,blhk->blhd", windows, kernels).reshape(b, length, hidden)
        return self.out(conv) + self.relative(x, mask)


class FeedForward(nn.Module):
    """One block of a feed-forward stack: h → f → h, residual, LayerNorm."""

    def __init__(self, hidden: int, inner: int, dropout: float) -> None:
        super().__init__()
        self.up, self.down = nn.Linear(hidden, inner), nn.Linear(inner, hidden)
        self.dropout, self.norm = nn.Dropout(dropout), nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.dropout(self.down(F.gelu(self.up(x)))))


class EncoderLayer(nn.Module):
    def __init__(self, layer: Layer, max_len: int, dropout: float) -> None:
        super().__init__()
        h, n = layer.hidden, layer.heads
        if layer.op == "SA":
            self.mixer: nn.Module = SelfAttention(h, n, str(layer.param), max_len, dropout)
        elif layer.op == "LT":
            self.mixer = LinearTransform(h, n, str(layer.param), max_len)
        else:
            self.mixer = DynamicConvolution(h, n, int(layer.param), max_len)
        self.takes_keep = layer.op != "SA"
        self.dropout, self.norm = nn.Dropout(dropout), nn.LayerNorm(h)
        self.ff = nn.ModuleList(FeedForward(h, f, dropout) for f in layer.ff)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        mixed = self.mixer(x, mask, keep) if self.takes_keep else self.mixer(x, mask)
        x = self.norm(x + self.dropout(mixed))
        for block in self.ff:
            x = block(x)
        return x


class FlexiBERTModel(nn.Module):
    """Encoder for a list of layers, with a [CLS] pooler and a classification/regression head.

    ``num_labels=1`` is regression (STS-B). ``max_len`` bounds the relative positions that get
    their own trained embedding (longer distances share the outermost one).
    """

    def __init__(self, layers: Sequence[Layer], *, vocab_size: int, num_labels: int,
                 max_len: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        self.layer_specs = tuple(layers)
        first, last = layers[0].hidden, layers[-1].hidden
        self.embed = nn.Embedding(vocab_size, first)
        self.segment = nn.Embedding(2, first)
        self.embed_norm, self.embed_dropout = nn.LayerNorm(first), nn.Dropout(dropout)
        widths = [first] + [x.hidden for x in layers]
        self.projections = nn.ModuleList(
            nn.Identity() if a == b else nn.Linear(a, b) for a, b in itertools.pairwise(widths)
        )
        self.layers = nn.ModuleList(EncoderLayer(spec, max_len, dropout) for spec in layers)
        self.pooler = nn.Linear(last, last)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_labels))
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        x = self.encode(input_ids, attention_mask, token_type_ids)
        return self.head(torch.tanh(self.pooler(x[:, 0])))

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
               token_type_ids: torch.Tensor | None = None, layers: int | None = None) -> torch.Tensor:
        """Hidden states after the first ``layers`` encoder layers (all by default)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embed_dropout(self.embed_norm(self.embed(input_ids) + self.segment(token_type_ids)))
        keep = attention_mask[:, :, None].to(x.dtype)
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        stop = len(self.layers) if layers is None else layers
        for projection, layer in list(zip(self.projections, self.layers, strict=True))[:stop]:
            x = layer(projection(x), mask, keep)
        return x
