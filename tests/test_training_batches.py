"""Length-grouped batches: every row once, little padding, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_txf.training.loop import chunks, length_grouped


def padded_tokens(lengths: np.ndarray, groups: list[np.ndarray]) -> int:
    return sum(int(lengths[g].max()) * len(g) for g in groups)


@pytest.fixture
def lengths() -> np.ndarray:
    """Skewed lengths like SST-2's: mostly short phrases, a few long sentences."""
    return np.minimum(np.random.default_rng(5).geometric(0.08, size=5003), 64)


def test_every_row_once_in_full_batches_but_one(lengths: np.ndarray) -> None:
    groups = length_grouped(lengths, 32, np.random.default_rng(0), megabatch=10)
    assert sorted(np.concatenate(groups).tolist()) == list(range(len(lengths)))
    sizes = sorted(len(g) for g in groups)
    assert sizes[1:] == [32] * (len(groups) - 1) and sizes[0] == len(lengths) % 32


def test_far_less_padding_than_random_batches(lengths: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    grouped = padded_tokens(lengths, length_grouped(lengths, 32, rng))
    shuffled = padded_tokens(lengths, chunks(rng.permutation(len(lengths)), 32))
    assert grouped < 1.2 * lengths.sum() < shuffled / 2


def test_batch_order_is_shuffled_and_seeded(lengths: np.ndarray) -> None:
    first, again, other = (length_grouped(lengths, 32, np.random.default_rng(s)) for s in (1, 1, 2))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    widths = [int(lengths[g].max()) for g in first]
    assert widths != sorted(widths) and widths != sorted(widths, reverse=True)
