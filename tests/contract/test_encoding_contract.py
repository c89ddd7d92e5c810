"""Every registered encoding on every registered space it supports."""

from __future__ import annotations

import numpy as np
import pytest
from nbt_testing import ENCODING_OPTIONS, loadable, sample_archs, space

from nasbench_txf.registry import get_encoding

PAIRS = [(e, s) for e in loadable("encodings") for s in loadable("spaces")]


@pytest.mark.parametrize(("encoding_name", "space_name"), PAIRS)
def test_fixed_length_finite_vectors(encoding_name: str, space_name: str) -> None:
    subject_space = space(space_name)
    cls = get_encoding(encoding_name)
    assert cls.unsupported(subject_space) is None, "every encoding must work on every space"
    encoding = cls(subject_space, cls.make_options(ENCODING_OPTIONS.get(encoding_name, {})))
    encoding.fit()
    archs = sample_archs(subject_space, 40)
    vectors = encoding.encode(archs)
    assert vectors.shape == (len(archs), encoding.dim) and encoding.dim > 0
    assert vectors.dtype == np.float64 and np.isfinite(vectors).all()
    np.testing.assert_array_equal(vectors, encoding.encode(archs))
    np.testing.assert_array_equal(vectors[3], encoding.encode([archs[3]])[0])
    distinct = {a for a in archs}
    assert len({v.tobytes() for v in vectors}) > 1 or len(distinct) == 1
