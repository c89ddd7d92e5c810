"""The ``eftnas`` space: the subnetworks of an EFTNAS super-network [EFTNAS24 §3.2-3.3].

A card gives every encoder layer's number of attention heads and FFN width,
``{"heads": [12, 8, ...], "ffn": [1536, 1024, ...]}``, each from the per-layer choices that
Algorithm 1 generated for the build (``space.json`` of a build folder, :mod:`.folder`). A
subnetwork uses the first heads and channels of each layer, the most important ones after
reordering, so the counts say everything about it. The space is the core's
:class:`~nasbench_txf.core.space.SuperNetwork`: it builds the trained super-network, activates a
card's subnetwork in it (evaluated with the inherited weights) and extracts a card as a
standalone, really smaller model. The block graph has a node per active head, so graph encodings
see the subnetworks' differences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx
import torch

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import InvalidCardError, UserError
from nasbench_txf.core.options import option
from nasbench_txf.core.space import Decision, Space
from nasbench_txf.spaces.eftnas.complexity import encoder_macs, encoder_params
from nasbench_txf.spaces.eftnas.config import SubnetConfig
from nasbench_txf.spaces.eftnas.folder import Build, bert_model, open_build
from nasbench_txf.spaces.eftnas.model import Classifier, Supernet

FIELDS = ("heads", "ffn")


#: the space shipped with the package: MiniLM-L6 on SST-2, exported without its weights
BUILTIN = "builtin"


def builtin_folder() -> Path:
    """The folder of the shipped space (an :func:`~.folder.export_space` of the build that the
    built-in ``eftnas-sst2`` table measured)."""
    return Path(str(resources.files("nasbench_txf.spaces.eftnas") / BUILTIN))


@dataclass(frozen=True)
class EFTNASOptions:
    build: str = option("", "build folder written by `nasbench-txf eftnas build` (or `eftnas export`); empty = "
                            "the shipped space of MiniLM-L6 on SST-2, without weights")


class EFTNASSpace(Space):
    """EFTNAS: per-layer attention heads and FFN widths of a super-network cut from a fine-tuned BERT [EFTNAS24]."""

    name = "eftnas"
    Options = EFTNASOptions

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        folder = Path(self.options.build).expanduser() if self.options.build else builtin_folder()
        self.build: Build = open_build(folder)
        self.choices = self.build.space
        self.layers = self.build.shape.layers

    def key(self) -> dict[str, Any]:
        """Name and the build's key: the same build wherever its folder lies (a copy, an export)
        is the same space; a folder built again is another."""
        return {"name": self.name, "options": {}, "build": self.build.key}

    # -- cards ------------------------------------------------------------------------------------
    def config(self, arch: Arch) -> SubnetConfig:
        """The subnetwork configuration of a card of this space."""
        card = arch.card
        return SubnetConfig(tuple(card["heads"]), tuple(card["ffn"]))

    def card(self, config: SubnetConfig) -> dict[str, list[int]]:
        return {"heads": list(config.heads), "ffn": list(config.ffn)}

    def presets(self) -> Mapping[str, Mapping[str, Any]]:
        """``largest``, ``smallest`` and Algorithm 1's configurations ``config-1`` … ``config-N``
        (ascending complexity)."""
        named = {"largest": self.choices.largest(), "smallest": self.choices.smallest()}
        named.update({f"config-{i}": c for i, c in enumerate(self.choices.configs, start=1)})
        return {name: self.card(config) for name, config in named.items()}

    def validate_card(self, card: Mapping[str, Any]) -> dict[str, Any]:
        if set(card) != set(FIELDS):
            missing, extra = sorted(set(FIELDS) - set(card)), sorted(set(card) - set(FIELDS))
            raise InvalidCardError("eftnas: a card has the fields heads and ffn, one entry per layer"
                                   + (f"; missing {', '.join(missing)}" if missing else "")
                                   + (f"; unknown {', '.join(map(str, extra))}" if extra else ""))
        out: dict[str, list[int]] = {}
        for name, choices in (("heads", self.choices.heads), ("ffn", self.choices.ffn)):
            values = card[name]
            if not isinstance(values, list) or len(values) != self.layers:
                got = f"{len(values)} entries" if isinstance(values, list) else type(values).__name__
                raise InvalidCardError(f"eftnas: {name} must be a list of {self.layers} entries (one per layer), "
                                       f"got {got}")
            for layer, (value, allowed) in enumerate(zip(values, choices, strict=True), start=1):
                if type(value) is not int or value not in allowed:
                    raise InvalidCardError(f"eftnas: layer {layer}: {name}={value!r} is not allowed; allowed: "
                                           f"{', '.join(map(str, allowed))}")
            out[name] = list(values)
        return out

    # -- size and decisions -----------------------------------------------------------------------
    def cardinality(self) -> int:
        return self.choices.cardinality()

    def decisions(self) -> Sequence[Decision]:
        return [*(Decision(f"heads-{i}", c) for i, c in enumerate(self.choices.heads, start=1)),
                *(Decision(f"ffn-{i}", c) for i, c in enumerate(self.choices.ffn, start=1))]

    def to_decisions(self, arch: Arch) -> tuple[int, ...]:
        config = self.config(arch)
        return (*(c.index(h) for h, c in zip(config.heads, self.choices.heads, strict=True)),
                *(c.index(w) for w, c in zip(config.ffn, self.choices.ffn, strict=True)))

    def from_decisions(self, index: Sequence[int]) -> Arch:
        if len(index) != 2 * self.layers:
            raise InvalidCardError(f"eftnas: a decision vector has {2 * self.layers} entries, got {len(index)}")
        heads = [c[int(i)] for i, c in zip(index[:self.layers], self.choices.heads, strict=True)]
        ffn = [c[int(i)] for i, c in zip(index[self.layers:], self.choices.ffn, strict=True)]
        return Arch.from_card(self.name, {"heads": heads, "ffn": ffn})

    # -- graph ------------------------------------------------------------------------------------
    def block_complexity(self, label: str) -> float | None:
        """MACs of a block at the space's sequence length: a head (its Q, K, V and output
        projection slices and its attention), an FFN of some width; add & norm costs none."""
        shape, length = self.build.shape, self.choices.seq_len
        if label == "head":
            return float(4 * length * shape.hidden * shape.head_dim + 2 * length * length * shape.head_dim)
        if label.startswith("ffn-") and label[4:].isdigit():
            return float(2 * length * shape.hidden * int(label[4:]))
        return 0.0

    def graph(self, arch: Arch) -> nx.DiGraph:
        """input → per layer: one ``head`` node per active head and a residual edge into
        ``add-norm``, then ``ffn-<width>`` and a residual edge into ``add-norm`` → output."""
        config = self.config(arch)
        graph = nx.DiGraph()
        graph.add_node("input", label="input")
        previous = "input"
        for layer, (heads, width) in enumerate(zip(config.heads, config.ffn, strict=True), start=1):
            attention, ffn, out = f"{layer}.attention-norm", f"{layer}.ffn", f"{layer}.ffn-norm"
            graph.add_node(attention, label="add-norm")
            for head in range(1, heads + 1):
                graph.add_node(f"{layer}.head-{head}", label="head")
                graph.add_edge(previous, f"{layer}.head-{head}")
                graph.add_edge(f"{layer}.head-{head}", attention)
            graph.add_edge(previous, attention)
            graph.add_node(ffn, label=f"ffn-{width}")
            graph.add_node(out, label="add-norm")
            graph.add_edges_from([(attention, ffn), (ffn, out), (attention, out)])
            previous = out
        graph.add_node("output", label="output")
        graph.add_edge(previous, "output")
        return graph

    # -- costs and the task (what the supernet benchmark reads) ---------------------------------
    def supernet_task(self) -> tuple[str, dict[str, Any]]:
        """The task the super-network was trained on and the options of its training context
        (data folder, training subset, holdout, sequence length, the base's vocabulary)."""
        self.build.require_weights("scoring subnetworks with inherited weights")
        return self.build.task, self.build.task_options

    def supernet_costs(self, arch: Arch) -> dict[str, float]:
        """``macs``: multiply-accumulates of the encoder layers on one sequence of the space's
        length; ``params``: parameters of the extracted subnetwork (embeddings and classifier
        included)."""
        shape, config = self.build.shape, self.config(arch)
        dropped = encoder_params(shape, shape.full()) - encoder_params(shape, config)
        return {"macs": float(encoder_macs(shape, config, self.choices.seq_len)),
                "params": float(self.build.base_parameters - dropped)}

    # -- the super-network (SuperNetwork protocol) ----------------------------------------------
    def build_supernet(self, *, num_labels: int) -> torch.nn.Module:
        """The trained super-network, fully active, in eval mode: called as ``model(ids, mask, types)``."""
        if num_labels != self.build.num_labels:
            raise UserError(f"eftnas: the super-network of {self.build.folder} was trained for {self.build.task} with "
                            f"{self.build.num_labels} labels, not {num_labels}")
        return Supernet(bert_model(self.build.bert_config, self.build.weights)).eval()

    def _supernet(self, supernet: torch.nn.Module) -> Supernet:
        if not isinstance(supernet, Supernet):
            raise UserError(f"eftnas: expected the super-network build_supernet gives, got {type(supernet).__name__}")
        return supernet

    def activate(self, supernet: torch.nn.Module, arch: Arch) -> None:
        self._supernet(supernet).elastic.activate(self.config(self.check(arch)))

    def extract(self, supernet: torch.nn.Module, arch: Arch) -> torch.nn.Module:
        """``arch``'s subnetwork as a standalone smaller model (a :class:`~.model.Classifier`
        whose ``spec`` :func:`~.elastic.save_extracted` writes)."""
        model, spec = self._supernet(supernet).elastic.extract(self.config(self.check(arch)))
        return Classifier(model, spec).eval()
