"""The ``composition`` space: a fine-tuned BERT decomposed into components [COMPOSE20 §3].

A card holds the architecture parameters of :mod:`.layout`, one bit string per layer and kind::

    {"head": ["111111111111", ...], "qk": ["1111...", ...], "value": [...], "head_link": ["00000000000", ...],
     "ffn": ["11", ...], "ffn_link": ["0", ...], "ln_mean": ["11", ...]}

``qk`` and ``value`` list each head's parts in turn; a dropped head's parts are 0 in normal
form (they compute nothing). The decision vector is the bits, layer by layer, so every
strategy and encoding works on the space; the preset ``base`` is the fine-tuned base itself.
The space is the core's :class:`~nasbench_txf.core.space.SuperNetwork` (cards are evaluated
with the base's inherited weights by the ``supernet`` benchmark, or with the weights a one-shot
search trained) and :class:`~nasbench_txf.core.space.RelaxedSupernet`, which the one-shot
strategies ``do`` and ``sdo`` train, with each parameter's cost from a profile of the device
(:mod:`.profile`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import torch

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import InvalidCardError, UserError
from nasbench_txf.core.files import cache_root
from nasbench_txf.core.options import option
from nasbench_txf.core.progress import announce
from nasbench_txf.core.space import Decision, Space
from nasbench_txf.spaces.composition.base import Base, open_base
from nasbench_txf.spaces.composition.extraction import counts, extract, fold, widths
from nasbench_txf.spaces.composition.layout import KINDS, Layout, Parts
from nasbench_txf.spaces.composition.network import ComposedBert, from_bert
from nasbench_txf.spaces.composition.profile import (
    Settings,
    check_profile,
    gate_costs,
    measure,
    processor,
    read_profile,
    write_profile,
)


@dataclass(frozen=True)
class CompositionOptions:
    base: str = option("", "build folder of `nasbench-txf eftnas build`, whose fine-tuned base is decomposed")
    parts_ffn: int = option(2, "equal parts each feed-forward network is split into (m, §3.1)")
    parts_qk: int = option(2, "equal parts each head's query-key similarity is split into")
    parts_value: int = option(2, "equal parts each head's attention value is split into")
    profile: str = option("", "component profile (`nasbench-txf composition profile --out`); empty = profile "
                              "on the training device when a one-shot search first needs it, cached")
    sample_keep: float = option(0.5, "chance that a random card keeps each component and each connection "
                                     "horizontal (0.5: uniform over the bits; near 1: cards near the base)",
                                keyed_at_default=False)

    def __post_init__(self) -> None:
        if not 0 < self.sample_keep < 1:
            raise ValueError(f"sample_keep must be above 0 and below 1, got {self.sample_keep}")


class CompositionSpace(Space):
    """A fine-tuned BERT's heads, query-key/value and FFN parts, norm means and connections [COMPOSE20].

    Each component can be dropped and each connection made vertical; the fine-tuned base
    (``--space-opt base=DIR``, an ``eftnas build`` folder) is the card ``base``.
    """

    name = "composition"
    Options = CompositionOptions

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        o = self.options
        if not o.base:
            raise UserError("composition: the space needs a fine-tuned base: --space-opt base=FOLDER, a folder "
                            "written by `nasbench-txf eftnas build`")
        self.base: Base = open_base(Path(o.base).expanduser())
        self.layout = Layout(self.base.shape, Parts(o.parts_ffn, o.parts_qk, o.parts_value))
        self.layout.parts.check(self.base.shape)

    def key(self) -> dict[str, Any]:
        """Name, options (with the base's folder, so that a leaderboard can open the space again)
        and the key of the fine-tuned weights (a base fine-tuned again is another space)."""
        return {**super().key(), "base": self.base.key}

    # -- cards ------------------------------------------------------------------------------------
    def bits(self, arch: Arch) -> np.ndarray:
        """The card's architecture parameters as the flat 0/1 vector of the layout."""
        card, out = arch.card, np.zeros(self.layout.size, dtype=np.int64)
        for layer in range(self.layout.shape.layers):
            for kind in KINDS:
                out[self.layout.span(layer, kind)] = [int(c) for c in card[kind][layer]]
        return out

    def card(self, bits: Sequence[int] | np.ndarray) -> dict[str, list[str]]:
        """The card of a 0/1 vector, in normal form (a dropped head's parts 0)."""
        values = np.asarray(bits, dtype=np.int64).copy()
        a, p = self.layout.shape.heads, self.layout.parts
        card: dict[str, list[str]] = {kind: [] for kind in KINDS}
        for layer in range(self.layout.shape.layers):
            dropped = values[self.layout.span(layer, "head")] == 0
            for kind, per in (("qk", p.qk), ("value", p.value)):
                span = values[self.layout.span(layer, kind)].reshape(a, per)
                span[dropped] = 0
                values[self.layout.span(layer, kind)] = span.ravel()
            for kind in KINDS:
                card[kind].append("".join(str(int(b)) for b in values[self.layout.span(layer, kind)]))
        return card

    def validate_card(self, card: Mapping[str, Any]) -> dict[str, Any]:
        if set(card) != set(KINDS):
            missing, extra = sorted(set(KINDS) - set(card)), sorted(set(card) - set(KINDS))
            raise InvalidCardError("composition: a card has the fields " + ", ".join(KINDS)
                                   + (f"; missing {', '.join(missing)}" if missing else "")
                                   + (f"; unknown {', '.join(map(str, extra))}" if extra else ""))
        layers = self.layout.shape.layers
        bits = np.zeros(self.layout.size, dtype=np.int64)
        for kind in KINDS:
            rows, width = card[kind], self.layout.counts[kind]
            if not isinstance(rows, list) or len(rows) != layers:
                raise InvalidCardError(f"composition: {kind} must be a list of {layers} bit strings (one per layer)")
            for layer, row in enumerate(rows):
                if not isinstance(row, str) or len(row) != width or set(row) - {"0", "1"}:
                    raise InvalidCardError(f"composition: layer {layer + 1}: {kind} must be a string of {width} "
                                           f"bits (0 or 1), got {json.dumps(row)[:80]}")
                bits[self.layout.span(layer, kind)] = [int(c) for c in row]
        return self.card(bits)

    def presets(self) -> Mapping[str, Mapping[str, Any]]:
        """``base``: the fine-tuned base itself; ``no-ln-mean``: the base without layer-norm means."""
        base = self.layout.base().astype(np.int64)
        no_mean = base.copy()
        no_mean[self.layout.kinds == "ln_mean"] = 0
        return {"base": self.card(base), "no-ln-mean": self.card(no_mean)}

    # -- size and decisions -----------------------------------------------------------------------
    def cardinality(self) -> int:
        """Per layer: each head dropped or kept with any subset of its parts, times every
        connection, feed-forward part and mean (a dropped head's parts are one card)."""
        counts_ = self.layout.counts
        p = self.layout.parts
        per_head = 1 + 2 ** (p.qk + p.value)
        free = counts_["head_link"] + counts_["ffn"] + counts_["ffn_link"] + counts_["ln_mean"]
        return int((per_head ** self.layout.shape.heads * 2 ** free) ** self.layout.shape.layers)

    def sample(self, rng: np.random.Generator) -> Arch:
        """A random card: each bit uniform, or with ``sample_keep`` the chance that a component is
        kept and a connection horizontal (a sampler near the base for black-box searches, which
        start from random cards while the one-shot searches start from the base)."""
        keep = self.options.sample_keep
        if keep == 0.5:
            return super().sample(rng)
        kept = rng.random(self.layout.size) < keep
        return self.from_decisions(np.where(self.layout.connections, ~kept, kept).astype(int).tolist())

    @cached_property
    def _decisions(self) -> list[Decision]:
        return [Decision(name, (0, 1)) for name in self.layout.names()]

    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def to_decisions(self, arch: Arch) -> tuple[int, ...]:
        return tuple(int(b) for b in self.bits(arch))

    def from_decisions(self, index: Sequence[int]) -> Arch:
        if len(index) != self.layout.size:
            raise InvalidCardError(f"composition: a decision vector has {self.layout.size} entries, got {len(index)}")
        return Arch.from_card(self.name, self.card([int(i) for i in index]))

    # -- graph ------------------------------------------------------------------------------------
    def block_complexity(self, label: str) -> float | None:
        """MACs of a block on one sequence of the base's length: a head by its query-key and
        value columns, a feed-forward segment by its units; adds and norms cost none."""
        length, hidden = self.base.seq_len, self.layout.shape.hidden
        kind, _, rest = label.partition("-")
        if kind == "head" and rest:
            dk, dv = (int(x[1:]) for x in rest.split("-"))
            return float(length * hidden * 2 * (dk + dv) + length * length * (dk + dv))
        if kind == "ffn" and rest.isdigit():
            return float(2 * length * hidden * int(rest))
        return 0.0

    def graph(self, arch: Arch) -> nx.DiGraph:
        """input → per layer: the heads (``head-q<dk>-v<dv>``) of each horizontal run reading one
        input, an ``add`` closing each vertical run, a ``norm`` (``norm-no-mean`` without its mean);
        then the feed-forward parts (``ffn-<units>``) the same way → output."""
        bits, graph = self.bits(arch), nx.DiGraph()
        graph.add_node("input", label="input")
        previous = "input"
        for index, keep in enumerate(widths(self.layout, bits), start=1):
            for group, units, links, mean in (
                    ("attention", [f"head-q{q}-v{v}" if v else "" for q, v in zip(keep.qk, keep.v, strict=True)],
                     bits[self.layout.span(index - 1, "head_link")], bits[self.layout.span(index - 1, "ln_mean")][0]),
                    ("ffn", [f"ffn-{w}" if w else "" for w in keep.ffn],
                     bits[self.layout.span(index - 1, "ffn_link")], bits[self.layout.span(index - 1, "ln_mean")][1])):
                run = 0
                for unit, label in enumerate(units):
                    if label:
                        node = f"{index}.{group}.{unit + 1}"
                        graph.add_node(node, label=label)
                        graph.add_edges_from([(previous, node), (node, f"{index}.{group}.add{run}")])
                    if unit < len(links) and links[unit]:
                        graph.add_node(f"{index}.{group}.add{run}", label="add")
                        graph.add_edge(previous, f"{index}.{group}.add{run}")
                        previous, run = f"{index}.{group}.add{run}", run + 1
                last = f"{index}.{group}.add{run}"
                graph.add_node(last, label="add")
                graph.add_edge(previous, last)
                norm = f"{index}.{group}.norm"
                graph.add_node(norm, label="norm" if mean else "norm-no-mean")
                graph.add_edge(last, norm)
                previous = norm
        graph.add_node("output", label="output")
        graph.add_edge(previous, "output")
        return graph

    # -- the task and costs (what the supernet benchmark reads) -----------------------------------
    def supernet_task(self) -> tuple[str, dict[str, Any]]:
        return self.base.task, self.base.task_options

    @cached_property
    def _fixed_parameters(self) -> int:
        """Parameters outside the encoder layers (embeddings, pooler, classifier)."""
        model = self.base.model()
        return sum(p.numel() for p in model.parameters()) - sum(
            p.numel() for p in model.bert.encoder.parameters())

    def supernet_costs(self, arch: Arch) -> dict[str, float]:
        """``macs`` of the encoder layers on one sequence of the base's length and ``params`` of
        the extracted model (embeddings and classifier included)."""
        counted = counts(self.layout, self.bits(self.check(arch)), self.base.seq_len)
        return {"macs": counted["macs"], "params": counted["params"] + self._fixed_parameters}

    # -- the super-network (SuperNetwork and RelaxedSupernet) -------------------------------------
    def build_supernet(self, *, num_labels: int) -> torch.nn.Module:
        """The super-network holding the fine-tuned base's weights, computing the base, in eval mode."""
        if num_labels != self.base.num_labels:
            raise UserError(f"composition: the base in {self.base.folder} was fine-tuned for {self.base.task} with "
                            f"{self.base.num_labels} labels, not {num_labels}")
        return from_bert(self.base.model(), self.layout)

    def _supernet(self, supernet: torch.nn.Module) -> ComposedBert:
        if not isinstance(supernet, ComposedBert) or supernet.layout != self.layout:
            raise UserError("composition: expected the super-network build_supernet gives, got "
                            f"{type(supernet).__name__}")
        return supernet

    def activate(self, supernet: torch.nn.Module, arch: Arch) -> None:
        self._supernet(supernet).set_gates(torch.as_tensor(self.bits(self.check(arch)), dtype=torch.float32))

    def extract(self, supernet: torch.nn.Module, arch: Arch) -> torch.nn.Module:
        """``arch`` as a standalone model holding only its components."""
        return extract(self._supernet(supernet), self.bits(self.check(arch)))

    def base_gates(self) -> np.ndarray:
        return self.layout.base()

    def connection_gates(self) -> np.ndarray:
        return self.layout.connections.copy()

    def set_gates(self, supernet: torch.nn.Module, gates: torch.Tensor) -> None:
        self._supernet(supernet).set_gates(gates)

    def fold_gates(self, supernet: torch.nn.Module, gates: torch.Tensor) -> Arch:
        """Fold real-valued parameters into ``supernet``'s weights; the card they prune to."""
        return self.from_decisions(fold(self._supernet(supernet), gates).tolist())

    def gate_costs(self, device: torch.device) -> np.ndarray:
        """``c_i`` of every architecture parameter on ``device``: from the ``profile`` option's
        file (refused when measured elsewhere), else from a profile measured here once and cached."""
        if self.options.profile:
            return gate_costs(self._given_profile(device), self.layout)
        settings = Settings(seq_lens=tuple(sorted({32, 64, self.base.seq_len})))
        profile = self.measured_profile(device, settings)
        return gate_costs(profile, self.layout)

    def check_costs(self, device: torch.device) -> None:
        """A ``profile`` option's file is read and checked against ``device`` now (nothing is measured)."""
        if self.options.profile:
            self._given_profile(device)

    def _given_profile(self, device: torch.device) -> dict[str, Any]:
        path = Path(self.options.profile).expanduser()
        profile = read_profile(path)
        check_profile(profile, self.layout, self.base.key, device, str(path))
        return profile

    def measured_profile(self, device: torch.device, settings: Settings) -> dict[str, Any]:
        """A profile of the base on ``device`` (cached per base, parts, processor, threads and settings)."""
        p = self.layout.parts
        base = {"name": self.name, "options": {"parts_ffn": p.ffn, "parts_qk": p.qk, "parts_value": p.value},
                "base": self.base.key}  # not the folder: a base that moved keeps its profile
        threads = settings.threads or torch.get_num_threads()  # costs shift with the threads a search runs on
        ident = json.dumps([base, processor(device), threads, settings.__dict__], sort_keys=True, default=list)
        path = cache_root() / "composition-profiles" / f"{hashlib.sha256(ident.encode()).hexdigest()[:20]}.json"
        if path.is_file():
            return read_profile(path)
        announce(f"composition: profiling the components of the base on {processor(device)}")
        profile = measure(self.build_supernet(num_labels=self.base.num_labels), self.base.key, settings, device)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_profile(path, profile)
        return profile
