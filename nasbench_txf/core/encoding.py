"""Architecture encodings: archs of a space to fixed-length real vectors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import options_dict
from nasbench_txf.core.plugin import Plugin
from nasbench_txf.core.space import Space


class Encoding(Plugin, ABC):
    """Turns archs of one space into vectors of one fixed length.

    Encodings work from what every space offers (the block graph or the decision vector),
    never from one space's card format. :meth:`fit` does whatever one-time work the encoding
    needs for its space (and caches it under :func:`cache_root`, keyed by space, options and
    :attr:`version`); :meth:`encode` must then be cheap.
    """

    #: bump when a change makes cached fits of older versions wrong
    version: ClassVar[str] = "1"

    def __init__(self, space: Space, options: Any = None) -> None:
        self.space = space
        self.options = options if options is not None else self.make_options()
        self.setup()

    def setup(self) -> None:
        """Cheap set-up from the options (called at the end of ``__init__``; see :meth:`fit`)."""

    def key(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "options": options_dict(self.options),
            "space": self.space.key(),
        }

    @classmethod
    def unsupported(cls, space: Space) -> str | None:
        """Why this encoding cannot handle ``space``, or ``None`` when it can."""
        return None

    def fit(self) -> None:
        """One-time work for the space (cached); called once before :meth:`encode`."""

    #: the file :meth:`fit` cached its work in (``None``: nothing to cache)
    cache_path: Path | None = None
    #: whether :meth:`fit` found its work in the cache
    loaded_from_cache: bool = False

    def fit_info(self) -> dict[str, Any]:
        """What the fit found (sizes, fidelity), for ``nasbench-txf encode``."""
        return {}

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of every vector."""

    @abstractmethod
    def encode(self, archs: Sequence[Arch]) -> np.ndarray:
        """``float64`` array of shape ``(len(archs), dim)`` with finite values."""
