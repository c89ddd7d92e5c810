"""Weight transfer among neighbouring models [FLEXIBERT23 §3.3.3, App. B.2].

The *biased overlap* of a query with a neighbour counts the encoder layers, from the input
on, that are identical in both (same operation, parameter, heads, hidden size and
feed-forward stack), stopping at the first difference. Neighbours are ranked by overlap,
ties broken by embedding distance; weights are transferred only when the overlap fraction
(overlap / query layers) reaches the threshold tau (0.8 in §4.1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nasbench_txf.core.arch import Arch
from nasbench_txf.spaces.flexibert.elements import Layer

if TYPE_CHECKING:
    from nasbench_txf.spaces.flexibert.model import FlexiBERTModel

DEFAULT_TAU = 0.8


def biased_overlap(query: Sequence[Layer], neighbour: Sequence[Layer]) -> int:
    count = 0
    for a, b in zip(query, neighbour, strict=False):
        if a != b:
            break
        count += 1
    return count


@dataclass(frozen=True)
class Neighbour:
    arch: Arch
    overlap: int
    fraction: float
    distance: float


def rank_neighbours(query: Arch, candidates: Sequence[Arch], layers: Callable[[Arch], list[Layer]],
                    distance: Callable[[Arch, Arch], float] | None = None) -> list[Neighbour]:
    """Candidates (other than the query) by overlap, then by embedding distance (§3.3.3)."""
    mine = layers(query)
    ranked = []
    for other in candidates:
        if other == query:
            continue
        overlap = biased_overlap(mine, layers(other))
        ranked.append(Neighbour(other, overlap, overlap / len(mine),
                                distance(query, other) if distance is not None else 0.0))
    return sorted(ranked, key=lambda n: (-n.overlap, n.distance, n.arch.id))


def transfer_weights(query: FlexiBERTModel, neighbour: FlexiBERTModel) -> int:
    """Copy the embeddings and the shared prefix of layers from a trained neighbour.

    Returns the number of layers copied (0: nothing copied, the layers differ from the first).
    The task head is not copied: it sits after the layers that differ.
    """
    overlap = biased_overlap(query.layer_specs, neighbour.layer_specs)
    if overlap == 0:
        return 0
    for name in ("embed", "segment", "embed_norm"):
        getattr(query, name).load_state_dict(getattr(neighbour, name).state_dict())
    for j in range(overlap):
        query.projections[j].load_state_dict(neighbour.projections[j].state_dict())
        query.layers[j].load_state_dict(neighbour.layers[j].state_dict())
    return overlap
