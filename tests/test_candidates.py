"""The candidate pools that model-based strategies maximise their acquisition over."""

from __future__ import annotations

import numpy as np
import pytest
from nbt_testing import STRATEGY_SPACE, sample_archs, space

from nasbench_txf.core.arch import canonical_json
from nasbench_txf.core.registry import get_encoding
from nasbench_txf.strategies import candidates
from nasbench_txf.strategies.candidates import CandidatePool, informative_features


def onehot(space_name: str = STRATEGY_SPACE, **options: str):  # type: ignore[no-untyped-def]
    cls = get_encoding("onehot")
    encoding = cls(space(space_name), cls.make_options(options))
    encoding.fit()
    return encoding


def test_informative_features_keep_what_varies_or_everything() -> None:
    observed = np.array([[1.0, 0.0, 2.0], [1.0, 1.0, 2.0]])
    assert informative_features(observed).tolist() == [False, True, False]
    assert informative_features(observed[:1]).tolist() == [True, True, True]


def test_an_enumerated_space_is_encoded_once_and_looked_up() -> None:
    encoding = onehot()
    pool = CandidatePool(encoding.space, encoding, size=10_000)
    archs = pool.draw([], np.random.default_rng(0))
    assert archs is pool.enumerated and len(archs) == encoding.space.cardinality()
    vectors = pool.encode(archs)
    assert not vectors.flags.writeable  # shared by every pool of this process
    # a second pool (the next cell of a sweep) gets the same matrix without encoding again
    again = CandidatePool(encoding.space, encoding, size=10_000)
    assert again.encode(again.draw([], np.random.default_rng(1))) is vectors
    subset = sample_archs(encoding.space, 7, seed=3)
    assert np.array_equal(pool.encode(subset), encoding.encode(subset))
    stats = pool.stats(archs, vectors)
    assert pool.stats(archs, vectors) is stats
    assert np.array_equal(stats.low, vectors.min(0)) and np.array_equal(stats.std, vectors.std(0))


def test_kept_space_encodings_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(candidates, "_space_encodings", type(candidates._space_encodings)())
    toy, flexibert = onehot(), onehot("flexibert")
    toy_archs, flexibert_archs = list(toy.space.enumerate()), list(flexibert.space.enumerate())
    first = candidates.encoded_space(toy, toy_archs)[1]
    candidates.encoded_space(flexibert, flexibert_archs)
    assert candidates.encoded_space(toy, toy_archs)[1] is first  # both kept
    monkeypatch.setattr(candidates, "KEPT_SPACE_ENCODINGS", 1)
    candidates.encoded_space(flexibert, flexibert_archs)  # the toy space's is dropped
    assert list(candidates._space_encodings) == [canonical_json(flexibert.key())]
    again = candidates.encoded_space(toy, toy_archs)[1]
    assert again is not first and np.array_equal(again, first)


def test_a_sampled_pool_is_encoded_afresh() -> None:
    encoding = onehot("flexibert-2021")
    pool = CandidatePool(encoding.space, encoding, size=50)
    assert pool.enumerated is None
    archs = pool.draw([], np.random.default_rng(0))
    vectors = pool.encode(archs)
    assert len(archs) == len(vectors) <= 50 and vectors.flags.writeable
    assert np.array_equal(pool.stats(archs, vectors).high, vectors.max(0))


def test_a_sampled_pool_of_a_small_space_is_looked_up() -> None:
    encoding = onehot("flexibert")
    pool = CandidatePool(encoding.space, encoding, size=100)
    assert pool.enumerated is None and pool.whole is not None
    archs = pool.draw([], np.random.default_rng(0))
    assert 90 <= len(archs) <= 100
    assert np.array_equal(pool.encode(archs), encoding.encode(archs))
