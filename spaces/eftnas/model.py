"""BERT classifiers as the suite calls its models: ``model(ids, mask, types)`` gives the logits.

The training loop, the evaluation (``nasbench_txf.training.loop.predict``) and the latency
measurement of the suite call a model with token ids, an attention mask and token types and
take logits back; Hugging Face's ``BertForSequenceClassification`` takes keyword arguments and
returns an output object. :class:`Classifier` adapts one to the other, so that a benchmark
evaluates a super-network, or a subnetwork extracted from it, without knowing it is a Hugging
Face model. :class:`Supernet` also carries the :class:`~.elastic.ElasticBert` that activates its
subnetworks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nasbench_txf.spaces.eftnas.elastic import ElasticBert

if TYPE_CHECKING:
    from transformers import BertForSequenceClassification


class Classifier(nn.Module):
    """A BERT-family sequence classifier called as ``model(ids, mask, types)`` → logits."""

    def __init__(self, model: BertForSequenceClassification, spec: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.model = model
        #: an extracted subnetwork's configuration (for :func:`~.elastic.save_extracted`)
        self.spec = spec

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None,
                types: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits


class Supernet(Classifier):
    """The elastic super-network: it computes the subnetwork last activated on :attr:`elastic`."""

    def __init__(self, model: BertForSequenceClassification) -> None:
        super().__init__(model)
        self.elastic = ElasticBert(model)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
