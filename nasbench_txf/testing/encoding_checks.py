"""The contract of an encoding: what every registered encoding must pass on every space."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.plugin import Plugin
from nasbench_txf.testing.subject import Subject, as_subject, sample_archs


def check_fixed_length_finite_vectors(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """After ``fit()``, ``encode`` gives a ``float64`` array of shape ``(len(archs), dim)``
    with finite values, the same for the same archs, row by row the same as one arch at a
    time, and not the same vector for every arch. The encoding must accept the space (every
    encoding works on every space, from its graph or its decision vector)."""
    subject = as_subject(plugin, **settings)
    cls = subject.plugin
    if not issubclass(cls, Encoding):
        raise TypeError(f"{cls.__name__} is not an Encoding")
    space = subject.make_space()
    reason = cls.unsupported(space)
    assert reason is None, (
        f"encoding {subject.name} refuses space {space.name} ({reason}): every encoding must work on every "
        "space; work from what every space offers (space.graph(arch), space.to_decisions(arch)), never "
        "from one space's card format"
    )
    encoding = cls(space, subject.make_options())
    encoding.fit()
    archs = sample_archs(space, 40)
    vectors = encoding.encode(archs)
    where = f"encoding {subject.name} on space {space.name}"
    assert isinstance(vectors, np.ndarray), f"{where}: encode must return a numpy array, got {type(vectors).__name__}"
    assert encoding.dim > 0, f"{where}: dim is {encoding.dim}"
    assert vectors.shape == (len(archs), encoding.dim), (
        f"{where}: encode of {len(archs)} archs gave shape {vectors.shape}, not ({len(archs)}, dim={encoding.dim})"
    )
    assert vectors.dtype == np.float64, f"{where}: encode gave dtype {vectors.dtype}; return float64"
    assert np.isfinite(vectors).all(), f"{where}: encode gave non-finite values (nan or inf)"
    assert np.array_equal(vectors, encoding.encode(archs)), f"{where}: encoding the same archs again gave other vectors"
    assert np.array_equal(vectors[3], encoding.encode([archs[3]])[0]), (
        f"{where}: an arch's vector depends on the other archs of the batch; encode each arch on its own"
    )
    assert len({v.tobytes() for v in vectors}) > 1 or len(set(archs)) == 1, (
        f"{where}: every one of {len(set(archs))} distinct archs has the same vector"
    )


CHECKS = (check_fixed_length_finite_vectors,)
