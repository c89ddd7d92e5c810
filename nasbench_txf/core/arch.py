"""The architecture value: an immutable model card with a canonical JSON form and a stable id."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant white space: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Arch:
    """A model card of one design space.

    The card is kept as canonical JSON so that the value is hashable, comparable and can be
    stored or sent between processes as text; :attr:`card` gives a fresh ``dict`` copy.
    Two archs are equal when they belong to the same space and have the same card.
    """

    space: str
    canonical: str

    @classmethod
    def from_card(cls, space: str, card: Mapping[str, Any]) -> Arch:
        return cls(space, canonical_json(card))

    @property
    def card(self) -> dict[str, Any]:
        return json.loads(self.canonical)

    @cached_property
    def id(self) -> str:
        """80-bit SHA-256 prefix of space and card: stable across runs, versions and machines."""
        digest = hashlib.sha256(f"{self.space}\n{self.canonical}".encode()).hexdigest()
        return digest[:20]

    def __str__(self) -> str:
        return f"{self.space}:{self.canonical}"
