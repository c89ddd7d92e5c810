"""Speed of the FlexiBERT space (``tox -e bench``)."""

from __future__ import annotations

import pytest
import torch

from nasbench_txf.core.registry import get_space
from nasbench_txf.graphs.hashing import graph_hash


def test_enumerate_and_hash_level_1(benchmark) -> None:
    space = get_space("flexibert")()

    def run() -> int:
        return len({graph_hash(space.graph(a)) for a in space.enumerate()})

    assert benchmark.pedantic(run, rounds=1, iterations=1) == 9312


def train_step(model: torch.nn.Module, forward) -> None:
    loss = forward().float().logsumexp(-1).mean()
    loss.backward()
    model.optimizer.step()
    model.optimizer.zero_grad()


@pytest.mark.parametrize("implementation", ["nasbench-txf", "transformers"])
def test_bert_mini_training_step(benchmark, implementation: str) -> None:
    """Forward, backward and AdamW for the BERT-Mini card, batch 32, sequence 64, 2 threads,
    against transformers' BertForSequenceClassification with the same sizes and vocabulary."""
    torch.set_num_threads(2)
    torch.manual_seed(0)
    vocab, ids = 8000, torch.randint(1, 8000, (32, 64))
    mask = torch.ones_like(ids)
    if implementation == "nasbench-txf":
        space = get_space("flexibert")()
        model = space.build_model(space.resolve("bert-mini"), vocab_size=vocab, num_labels=2, max_len=64)
        forward = lambda: model(ids, mask)  # noqa: E731
    else:
        transformers = pytest.importorskip("transformers")
        config = transformers.BertConfig(vocab_size=vocab, hidden_size=256, num_hidden_layers=4,
                                         num_attention_heads=4, intermediate_size=1024,
                                         max_position_embeddings=64)
        model = transformers.BertForSequenceClassification(config)
        forward = lambda: model(input_ids=ids, attention_mask=mask).logits  # noqa: E731
    model.train()
    model.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for _ in range(2):
        train_step(model, forward)
    benchmark.pedantic(train_step, args=(model, forward), rounds=10, iterations=1)
