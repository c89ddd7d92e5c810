"""Models, parameter and FLOP counts for spaces whose cards are lists of FlexiBERT layers."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

from nasbench_txf.arch import Arch
from nasbench_txf.spaces.flexibert import transfer
from nasbench_txf.spaces.flexibert.elements import Layer
from nasbench_txf.spaces.flexibert.graph import block_flops
from nasbench_txf.spaces.flexibert.model import FlexiBERTModel


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def forward_flops(layers: Sequence[Layer], *, vocab_size: int, seq_len: int, num_labels: int = 2) -> int:
    """FLOPs of one forward pass on one sequence of ``seq_len`` tokens.

    Matrix products (linear layers, attention, convolutions, the DCT) are counted by torch's
    FlopCounterMode on the real model; a DFT layer adds the textbook 5 N log2 N of a complex
    FFT over its N = seq_len x hidden values, which the counter does not see.
    """
    model = FlexiBERTModel(layers, vocab_size=vocab_size, num_labels=num_labels, max_len=seq_len).eval()
    ids = torch.zeros(1, seq_len, dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(ids)
    fft = sum(5 * n * math.log2(n) for x in layers if x.op == "LT" and x.param == "DFT"
              for n in [seq_len * x.hidden])
    return int(counter.get_total_flops() + fft)


class BuildsFlexiBERTModels:
    """Mixin for spaces with a ``layers(arch)`` method (``flexibert``, ``flexibert-2021``)."""

    @abstractmethod
    def layers(self, arch: Arch) -> list[Layer]:
        """The card's encoder layers."""

    def build_model(self, arch: Arch, *, vocab_size: int, num_labels: int, max_len: int = 128,
                    dropout: float = 0.1) -> FlexiBERTModel:
        """The torch model of a card, freshly initialised (seeded by the caller's torch RNG)."""
        return FlexiBERTModel(self.layers(arch), vocab_size=vocab_size, num_labels=num_labels,
                              max_len=max_len, dropout=dropout)

    def count_parameters(self, arch: Arch, *, vocab_size: int, num_labels: int = 2, max_len: int = 128) -> int:
        return parameters(self.build_model(arch, vocab_size=vocab_size, num_labels=num_labels, max_len=max_len))

    def count_flops(self, arch: Arch, *, vocab_size: int, seq_len: int) -> int:
        return forward_flops(self.layers(arch), vocab_size=vocab_size, seq_len=seq_len)

    def block_complexity(self, label: str) -> float | None:
        return block_flops(label)

    def overlap_fraction(self, query: Arch, neighbour: Arch) -> float:
        """Biased overlap / query layers (seed 000 §3.3.3): the share of layers a neighbour hands over."""
        mine = self.layers(query)
        return transfer.biased_overlap(mine, self.layers(neighbour)) / len(mine)

    def transfer_weights(self, query_model: torch.nn.Module, neighbour_model: torch.nn.Module) -> int:
        if not isinstance(query_model, FlexiBERTModel) or not isinstance(neighbour_model, FlexiBERTModel):
            raise TypeError("weight transfer needs two FlexiBERT models")
        return transfer.transfer_weights(query_model, neighbour_model)
