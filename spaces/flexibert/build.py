"""Models, parameter and FLOP counts for spaces whose cards are lists of FlexiBERT layers.

torch is imported where a model is built, not here: the spaces load this module to validate
and encode cards (``bench import``, ``space``, every error message about a card), and torch's
import costs seconds that none of those needs.
"""

from __future__ import annotations

import itertools
import math
from abc import abstractmethod
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from nasbench_txf.core.arch import Arch
from nasbench_txf.spaces.flexibert import transfer
from nasbench_txf.spaces.flexibert.elements import Layer
from nasbench_txf.spaces.flexibert.graph import block_flops

if TYPE_CHECKING:
    import torch

    from nasbench_txf.spaces.flexibert.model import FlexiBERTModel


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def linear_parameters(inputs: int, outputs: int) -> int:
    return inputs * outputs + outputs


@cache
def layer_parameters(layer: Layer, max_len: int) -> int:
    """Parameters of one encoder layer (its relative positions depend on ``max_len``)."""
    from nasbench_txf.spaces.flexibert.model import EncoderLayer

    return parameters(EncoderLayer(layer, max_len, dropout=0.0))


@cache
def layer_flops(layer: Layer, seq_len: int) -> int:
    """FLOPs of one encoder layer on one sequence of ``seq_len`` tokens.

    Matrix products (linear layers, attention, convolutions, the DCT) are counted by torch's
    FlopCounterMode on the real layer; a DFT layer adds the textbook 5 N log2 N of a complex
    FFT over its N = seq_len x hidden values, which the counter does not see.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from nasbench_txf.spaces.flexibert.model import EncoderLayer

    module = EncoderLayer(layer, seq_len, dropout=0.0).eval()
    x = torch.zeros(1, seq_len, layer.hidden)
    mask, keep = torch.zeros(1, 1, 1, seq_len), torch.ones(1, seq_len, 1)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(x, mask, keep)
    n = seq_len * layer.hidden
    fft = 5 * n * math.log2(n) if layer.op == "LT" and layer.param == "DFT" else 0
    return int(counter.get_total_flops() + fft)


def widths(layers: Sequence[Layer]) -> list[tuple[int, int]]:
    """(input, output) width of the projection before each layer that changes the width."""
    sizes = [layers[0].hidden] + [x.hidden for x in layers]
    return [(a, b) for a, b in itertools.pairwise(sizes) if a != b]


def model_parameters(layers: Sequence[Layer], *, vocab_size: int, num_labels: int, max_len: int) -> int:
    """Parameters of :class:`FlexiBERTModel`, summed from its parts so that no model is built.

    Token and segment embeddings with their layer norm, projections, encoder layers (each
    counted once per configuration), pooler and head. Tested equal to the built model's count.
    """
    first, last = layers[0].hidden, layers[-1].hidden
    embeddings = (vocab_size + 2) * first + 2 * first
    projections = sum(linear_parameters(a, b) for a, b in widths(layers))
    encoder = sum(layer_parameters(x, max_len) for x in layers)
    return embeddings + projections + encoder + linear_parameters(last, last) + linear_parameters(last, num_labels)


def forward_flops(layers: Sequence[Layer], *, seq_len: int, num_labels: int = 2) -> int:
    """FLOPs of one forward pass of :class:`FlexiBERTModel` on one sequence of ``seq_len`` tokens.

    Summed from its parts (:func:`layer_flops` per layer configuration, computed once; the
    projections, the pooler on the first token and the head are plain matrix products;
    embedding lookups and layer norms count none, as in FlopCounterMode), so that a count
    takes microseconds once a space's layers have been seen: a surrogate answers the FLOPs of
    every arch it is asked. Tested equal to FlopCounterMode on the whole model.
    """
    last = layers[-1].hidden
    projections = sum(2 * seq_len * a * b for a, b in widths(layers))
    encoder = sum(layer_flops(x, seq_len) for x in layers)
    return projections + encoder + 2 * last * last + 2 * last * num_labels


class BuildsFlexiBERTModels:
    """Mixin for spaces with a ``layers(arch)`` method (``flexibert``, ``flexibert-2021``)."""

    @abstractmethod
    def layers(self, arch: Arch) -> list[Layer]:
        """The card's encoder layers."""

    def build_model(self, arch: Arch, *, vocab_size: int, num_labels: int, max_len: int = 128,
                    dropout: float = 0.1) -> FlexiBERTModel:
        """The torch model of a card, freshly initialised (seeded by the caller's torch RNG)."""
        from nasbench_txf.spaces.flexibert.model import FlexiBERTModel

        return FlexiBERTModel(self.layers(arch), vocab_size=vocab_size, num_labels=num_labels,
                              max_len=max_len, dropout=dropout)

    def count_parameters(self, arch: Arch, *, vocab_size: int, num_labels: int = 2, max_len: int = 128) -> int:
        return model_parameters(self.layers(arch), vocab_size=vocab_size, num_labels=num_labels, max_len=max_len)

    def count_flops(self, arch: Arch, *, vocab_size: int, seq_len: int, num_labels: int = 2) -> int:
        """FLOPs per sequence (``vocab_size`` is accepted for symmetry: lookups cost none)."""
        return forward_flops(self.layers(arch), seq_len=seq_len, num_labels=num_labels)

    def block_complexity(self, label: str) -> float | None:
        return block_flops(label)

    def overlap_fraction(self, query: Arch, neighbour: Arch) -> float:
        """Biased overlap / query layers [FLEXIBERT23 §3.3.3]: the share of layers a neighbour hands over."""
        mine = self.layers(query)
        return transfer.biased_overlap(mine, self.layers(neighbour)) / len(mine)

    def transfer_weights(self, query_model: torch.nn.Module, neighbour_model: torch.nn.Module) -> int:
        from nasbench_txf.spaces.flexibert.model import FlexiBERTModel

        if not isinstance(query_model, FlexiBERTModel) or not isinstance(neighbour_model, FlexiBERTModel):
            raise TypeError("weight transfer needs two FlexiBERT models")
        return transfer.transfer_weights(query_model, neighbour_model)
