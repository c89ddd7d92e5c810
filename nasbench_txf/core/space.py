"""Design spaces: which model cards are valid, and how to move around among them."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import networkx as nx
import numpy as np

from nasbench_txf.core import safe_json
from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import InvalidCardError, UnknownNameError, UserError
from nasbench_txf.core.options import options_dict
from nasbench_txf.core.plugin import Plugin

if TYPE_CHECKING:
    import torch

#: the longest card text accepted (a card of the largest space is a few hundred characters)
CARD_CHARS = 100_000


@dataclass(frozen=True)
class Decision:
    """One categorical choice of the space's fixed-length decision vector."""

    name: str
    choices: tuple[Any, ...]


class Space(Plugin, ABC):
    """A design space of model cards.

    Subclasses say which cards are valid (:meth:`validate_card`), how a card maps to and
    from a fixed-length vector of categorical decisions (used by REINFORCE, GP-BO, NSGA-II
    and by the default sampling, mutation, neighbourhood and crossover here), its exact
    cardinality, and its block-level graph (every encoding works from the graph, so every
    encoding works on every space). The decision mapping may be many-to-one (unused layers
    of a shallow card), never the other way round.
    """

    #: spaces at most this large are enumerable (strategies may snap to the whole table)
    enumeration_limit: ClassVar[int] = 1_000_000

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.make_options()

    # -- identity ---------------------------------------------------------------------------
    def key(self) -> dict[str, Any]:
        """Name and options: what identifies this space in a run store or a cache."""
        return {"name": self.name, "options": options_dict(self.options)}

    def models_key(self) -> dict[str, Any]:
        """What decides the model a card builds, so that trained models are shared between
        spaces that build them alike: the key, unless the options only choose which cards are
        members (a hierarchy level, a child space), as a space overriding this says."""
        return self.key()

    # -- cards ------------------------------------------------------------------------------
    @abstractmethod
    def validate_card(self, card: Mapping[str, Any]) -> dict[str, Any]:
        """Return the card in normal form or raise :class:`InvalidCardError` naming the field."""

    def arch(self, card: Mapping[str, Any]) -> Arch:
        """The arch of ``card``, validated; a card is untrusted input, so a value of a type the
        validation did not foresee is refused as invalid, not met with a traceback."""
        if not isinstance(card, Mapping):
            raise InvalidCardError(f"{self.name}: a card is a JSON object, got {type(card).__name__}")
        try:
            return Arch.from_card(self.name, self.validate_card(card))
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as exc:
            raise InvalidCardError(f"{self.name}: the card has a value of the wrong form ({exc})") from None

    def check(self, arch: Arch) -> Arch:
        """``arch`` itself if it is a member of this space, else :class:`InvalidCardError`."""
        if arch.space != self.name:
            raise InvalidCardError(f"arch belongs to space {arch.space!r}, not {self.name!r}")
        normal = self.arch(arch.card)
        if normal != arch:
            raise InvalidCardError(f"{self.name}: card is not in normal form: {arch.canonical}")
        return arch

    def presets(self) -> Mapping[str, Mapping[str, Any]]:
        """Named cards (e.g. ``bert-tiny``), usable wherever a card is accepted."""
        return {}

    def resolve(self, text: str) -> Arch:
        """A preset name or a JSON card, validated."""
        presets = self.presets()
        key = text.strip().lower().replace("/", "-")
        if key in presets:
            try:
                return self.arch(presets[key])
            except InvalidCardError as exc:
                raise InvalidCardError(f"preset {key} is not a card of this space: {exc}") from None
        if not key.startswith("{"):
            known = ", ".join(sorted(presets)) or "none"
            raise UnknownNameError(
                f"{self.name}: {safe_json.excerpt(text)} is neither a JSON card nor a preset; presets: {known}"
            )
        return self.arch(safe_json.parse(text, f"{self.name}: the card", InvalidCardError, max_chars=CARD_CHARS))

    # -- size and enumeration ----------------------------------------------------------------
    @abstractmethod
    def cardinality(self) -> int:
        """Exact number of distinct cards (also when far too many to enumerate)."""

    @property
    def enumerable(self) -> bool:
        return self.cardinality() <= self.enumeration_limit

    def enumerate(self) -> Iterator[Arch]:
        """Every card once, in a deterministic order."""
        self._require_enumerable()
        seen: set[Arch] = set()
        for index in itertools.product(*(range(len(d.choices)) for d in self.decisions())):
            arch = self.from_decisions(index)
            if arch not in seen:
                seen.add(arch)
                yield arch

    def _require_enumerable(self) -> None:
        if not self.enumerable:
            raise UserError(
                f"space {self.name} has {self.cardinality():,} cards, more than the "
                f"{self.enumeration_limit:,} that can be enumerated"
            )

    # -- decision vector -------------------------------------------------------------------
    @abstractmethod
    def decisions(self) -> Sequence[Decision]:
        """The fixed-length categorical decision vector of this space."""

    @abstractmethod
    def to_decisions(self, arch: Arch) -> tuple[int, ...]:
        """Choice index per decision (unused decisions at index 0)."""

    @abstractmethod
    def from_decisions(self, index: Sequence[int]) -> Arch:
        """The card a decision vector stands for."""

    # -- moving around ---------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Arch:
        """A random card: uniform over the decision vector unless a space does better."""
        return self.from_decisions([int(rng.integers(len(d.choices))) for d in self.decisions()])

    def neighbours(self, arch: Arch) -> list[Arch]:
        """Every distinct card one decision away, in a deterministic order."""
        base = self.to_decisions(arch)
        out: dict[Arch, None] = {}
        for position, decision in enumerate(self.decisions()):
            for choice in range(len(decision.choices)):
                if choice != base[position]:
                    vector = list(base)
                    vector[position] = choice
                    other = self.from_decisions(vector)
                    if other != arch:
                        out[other] = None
        return list(out)

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A random neighbour (one decision changed)."""
        options = self.neighbours(arch)
        if not options:
            raise UserError(f"space {self.name} has no neighbour of {arch.canonical}")
        return options[int(rng.integers(len(options)))]

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        """Uniform crossover of two parents' decision vectors."""
        a, b = self.to_decisions(first), self.to_decisions(second)
        take = rng.random(len(a)) < 0.5
        return self.from_decisions([x if t else y for x, y, t in zip(a, b, take, strict=True)])

    # -- graph -------------------------------------------------------------------------------
    def block_complexity(self, label: str) -> float | None:
        """Computational cost of a graph block with this label (any consistent unit).

        Graph edit distances order blocks by it [FLEXIBERT23 §3.3.1]; ``None`` (the default)
        means the space gives no order and every block edit costs the same.
        """
        return None

    @abstractmethod
    def graph(self, arch: Arch) -> nx.DiGraph:
        """Block-level computational graph; every node has a string ``label`` attribute.

        There is exactly one source (the input) and one sink (the output).
        """


@runtime_checkable
class BuildsModels(Protocol):
    """A space that can build a trainable torch model for its cards (live benchmarks need one)."""

    def build_model(self, arch: Arch, *, vocab_size: int, num_labels: int, max_len: int = 128,
                    dropout: float = 0.1) -> torch.nn.Module: ...

    def count_parameters(self, arch: Arch, *, vocab_size: int, num_labels: int = 2, max_len: int = 128) -> int: ...

    def count_flops(self, arch: Arch, *, vocab_size: int, seq_len: int, num_labels: int = 2) -> int: ...


@runtime_checkable
class TransfersWeights(Protocol):
    """A space whose trained models can seed a neighbour's training [FLEXIBERT23 §3.3.3]."""

    def overlap_fraction(self, query: Arch, neighbour: Arch) -> float:
        """How much of ``query`` a trained ``neighbour`` can hand over, in [0, 1]."""
        ...

    def transfer_weights(self, query_model: torch.nn.Module, neighbour_model: torch.nn.Module) -> int:
        """Copy the shared part into ``query_model``; return how many blocks were copied."""
        ...


@runtime_checkable
class TransfersAcrossLevels(Protocol):
    """A space whose archs may take weights from models of a coarser or sibling space of its
    family (a finer hierarchy level starts from the models a coarser one trained)."""

    def neighbour_arch(self, card: Mapping[str, Any]) -> Arch:
        """A trained model's card as an arch of this space's family, also one outside this
        space; invalid cards raise :class:`InvalidCardError`."""
        ...


@runtime_checkable
class Hierarchical(Protocol):
    """A space searched coarse to fine [FLEXIBERT23 §3.2.2]: the best cards of one level and
    their neighbours span the next level's space, which the registry opens by the space's
    name and the options :meth:`child_options` returns, a space like any other."""

    def child_options(self, parents: Sequence[Arch]) -> dict[str, Any]:
        """The options of the finer space spanned by ``parents`` (members of this space);
        :class:`InvalidCardError` at the finest level."""
        ...

    def closest(self, query: Arch, candidates: Sequence[Arch],
                distance: Callable[[Arch, Arch], float] | None = None) -> list[Arch]:
        """``candidates`` ranked as neighbours of ``query``, nearest first; ``distance`` (an
        embedding's, where the search has one) breaks the space's own ties."""
        ...


@runtime_checkable
class SuperNetwork(Protocol):
    """A space whose cards are subnetworks of one weight-sharing super-network [EFTNAS24 §3.3]:
    it builds the super-network, activates a card's subnetwork in it (so that a card is
    evaluated with the super-network's inherited weights), and extracts a card as a
    standalone, really smaller model."""

    def build_supernet(self, *, num_labels: int) -> torch.nn.Module: ...

    def activate(self, supernet: torch.nn.Module, arch: Arch) -> None:
        """Make ``supernet`` compute ``arch``'s subnetwork until the next activation."""
        ...

    def extract(self, supernet: torch.nn.Module, arch: Arch) -> torch.nn.Module:
        """``arch``'s subnetwork as a model of its own, with the inactive parts removed."""
        ...


@runtime_checkable
class ChecksCosts(Protocol):
    """A :class:`RelaxedSupernet` that can tell, measuring nothing, that its costs would be refused
    on a device (e.g. a profile given from another one), so that the runner refuses the search
    before anything is stored rather than at its first step."""

    def check_costs(self, device: torch.device) -> None:
        """A :class:`~nasbench_txf.core.errors.UserError` if :meth:`RelaxedSupernet.gate_costs`
        would refuse ``device``."""
        ...


@runtime_checkable
class RelaxedSupernet(Protocol):
    """A super-network whose cards are binary architecture parameters (the decision vector) that a
    one-shot search relaxes while it trains the network [COMPOSE20 §4]: to real values (direct
    optimisation) or to the probabilities of a sampling policy. Each parameter has a cost on the
    device the search targets, so that ``L_c(w) = Σ w_i c_i`` prices a network."""

    def base_gates(self) -> np.ndarray:
        """The parameters of the base network the search starts from."""
        ...

    def connection_gates(self) -> np.ndarray:
        """True at the connection parameters (0 horizontal, 1 vertical), False at the selections."""
        ...

    def gate_costs(self, device: torch.device) -> np.ndarray:
        """``c_i`` of every parameter on ``device`` (a profile of another device is refused)."""
        ...

    def set_gates(self, supernet: torch.nn.Module, gates: torch.Tensor) -> None:
        """Make ``supernet`` compute the network of these (real-valued, differentiable) parameters."""
        ...

    def fold_gates(self, supernet: torch.nn.Module, gates: torch.Tensor) -> Arch:
        """Fold real-valued parameters into ``supernet``'s weights and return the card they prune
        to, which then computes what they computed."""
        ...
