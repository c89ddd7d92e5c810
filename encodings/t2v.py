"""Transformer2vec [FLEXIBERT23 §3.3.1–3.3.2]: embeddings whose distances fit graph edit distances.

Fitting, for the archs of the space (all of them up to ``fit_archs``, else a random sample):

1. Blocks are sorted by the space's ``block_complexity``; edit costs follow that order
   (:mod:`nasbench_txf.graphs.ged`). A space with no complexity order gets uniform costs.
2. GEDs are computed for all pairs of archs when there are at most ``pairs`` of them, else
   for ``pairs`` random pairs, with the bipartite approximation (exact on small graphs; its
   error on FlexiBERT graphs is measured in the docs), and for the pairs of each arch with up
   to ``neighbour_pairs`` of its one-step neighbours (``Space.neighbours``). ``held_out``
   further random pairs are kept aside to measure fidelity. The paper trains on random pairs
   alone; among 43 million pairs of level-1 FlexiBERT, random ones are almost never
   neighbours, so the embedding placed the archs that a search compares (an arch and its
   mutations) at distances off by 300% on average, and the neighbours in embedding space
   were not the neighbours in GED. With neighbour pairs the error is 49% and a predictor
   on the embedding ranks as well as one on the GED itself (docs/encoding-study.md).
   When the space is too large to enumerate, half of the ``fit_archs`` are random archs and
   the other half one random neighbour of each, so that neighbour pairs exist.
3. One ``dim``-dimensional vector per arch is trained (Adam, full batch) to minimise the mean
   squared difference between Euclidean distance and GED (the loss of §3.3.2). ``dim=0``
   picks d by knee-point detection (``kneed``) on the held-out error of d = 2..32 (§4.1
   reports d = 16 this way).
4. Fidelity: Spearman ρ between embedding distance and GED on the held-out pairs.

An arch outside the fitted set (spaces too large to enumerate) is placed by computing its GED
to ``anchors`` fitted archs and minimising the same loss over its coordinates alone, started
from the anchors nearest in GED. The fit is cached as ``.npz`` (no pickle) keyed by space,
options and version; a damaged or foreign cache file is refitted.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.files import atomic_path
from nasbench_txf.core.options import option
from nasbench_txf.core.progress import announce
from nasbench_txf.core.space import Space
from nasbench_txf.core.threads import one_thread
from nasbench_txf.graphs.features import block_graph, cache_file, fit_archs, label_hash
from nasbench_txf.graphs.ged import CostGraph, ged_bipartite

KNEE_DIMS = (2, 4, 8, 16, 32)


@dataclass(frozen=True)
class T2VOptions:
    dim: int = option(16, "embedding dimension (§4.1: 16); 0 = knee point of 2..32")
    pairs: int = option(200_000, "GED pairs trained on (all pairs when fewer)")
    held_out: int = option(5_000, "GED pairs kept aside for the fidelity report")
    fit_archs: int = option(10_000, "archs embedded (a random sample above)")
    anchors: int = option(64, "fitted archs a new arch is placed against")
    neighbour_pairs: int = option(8, "pairs of each arch with its one-step neighbours (0: random pairs only, "
                                  "as [FLEXIBERT23 §3.3.2])")
    edge_cost: float = option(1.0, "cost of inserting or deleting an edge")
    epochs: int = option(500, "full-batch Adam steps")
    seed: int = option(0, "seed of samples, pairs and initialisation")
    workers: int = option(0, "processes computing GEDs; 0 = all cores")

    def __post_init__(self) -> None:
        if self.dim < 0 or self.pairs < 10 or self.held_out < 10 or self.fit_archs < 5 or self.anchors < 2:
            raise ValueError("dim >= 0, pairs >= 10, held_out >= 10, fit_archs >= 5 and anchors >= 2")
        if self.edge_cost < 0 or self.epochs < 1 or self.workers < 0 or self.neighbour_pairs < 0:
            raise ValueError("edge_cost >= 0, epochs >= 1, workers >= 0, neighbour_pairs >= 0")


class BlockCosts:
    """Cost index of every block label: its 1-based rank by complexity, or uniform label ids."""

    def __init__(self, space: Space, index: dict[str, float], uniform: bool) -> None:
        self.space, self.index, self.uniform = space, dict(index), uniform
        self._ranked = sorted(index, key=index.__getitem__)

    @classmethod
    def rank(cls, space: Space, labels: set[str]) -> BlockCosts:
        uniform = any(space.block_complexity(label) is None for label in labels)
        order = sorted(labels, key=lambda label: (0.0 if uniform else space.block_complexity(label), label))
        return cls(space, {label: float(i + 1) for i, label in enumerate(order)}, uniform)

    def _order(self, label: str) -> tuple[float, str]:
        return (float(self.space.block_complexity(label) or 0.0), label)

    def of(self, label: str) -> float:
        """The index of a label; one not seen when fitting sits between its neighbours in the order."""
        if label not in self.index:
            if self.uniform:
                self.index[label] = float(1_000_000 + label_hash(label) % 1_000_000)
            else:
                below = [x for x in self._ranked if self._order(x) < self._order(label)]
                self.index[label] = (self.index[below[-1]] if below else 0.0) + 0.5
        return self.index[label]

    def graph(self, space: Space, arch: Arch) -> CostGraph:
        g = block_graph(space, arch)
        return CostGraph.of(g, {label: self.of(label) for _, label in g.nodes(data="label")}, self.uniform)


_GRAPHS: list[CostGraph] = []


def _start(graphs: list[CostGraph]) -> None:
    global _GRAPHS
    _GRAPHS = graphs


def _geds(args: tuple[np.ndarray, float]) -> np.ndarray:
    pairs, edge_cost = args
    return np.array([ged_bipartite(_GRAPHS[i], _GRAPHS[j], edge_cost) for i, j in pairs])


def pairwise_geds(graphs: list[CostGraph], pairs: np.ndarray, edge_cost: float, workers: int) -> np.ndarray:
    """GEDs of index pairs, on a process pool when there are many."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(pairs) < 20_000:
        _start(graphs)
        return _geds((pairs, edge_cost))
    chunks = np.array_split(pairs, 8 * workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(graphs,)) as pool:
        return np.concatenate(list(pool.map(_geds, [(c, edge_cost) for c in chunks])))


def choose_pairs(n: int, budget: int, held_out: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out index pairs: all pairs when affordable, else random distinct pairs."""
    total = n * (n - 1) // 2
    if total <= budget + held_out:
        i, j = np.triu_indices(n, k=1)
        everything = rng.permutation(np.stack([i, j], axis=1))
        held = min(held_out, total // 5)
        return everything[held:], everything[:held]
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < budget + held_out:
        a = rng.integers(n, size=budget + held_out)
        b = rng.integers(n, size=budget + held_out)
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            if x != y:
                chosen.add((min(x, y), max(x, y)))
    pairs = rng.permutation(np.array(sorted(chosen))[: budget + held_out])
    return pairs[held_out:], pairs[:held_out]


def neighbour_pairs(space: Space, archs: list[Arch], per_arch: int, rng: np.random.Generator) -> np.ndarray:
    """Index pairs (i < j) of each arch with up to ``per_arch`` random neighbours among ``archs``."""
    if per_arch == 0:
        return np.zeros((0, 2), dtype=int)
    row = {arch: i for i, arch in enumerate(archs)}
    pairs: set[tuple[int, int]] = set()
    for i, arch in enumerate(archs):
        known = [row[b] for b in space.neighbours(arch) if b in row]
        for j in rng.permutation(np.array(known, dtype=int))[:per_arch].tolist():
            pairs.add((min(i, j), max(i, j)))
    return np.array(sorted(pairs), dtype=int).reshape(-1, 2)


def without(pairs: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """``pairs`` less those in ``excluded`` (a held-out pair must not be trained on)."""
    gone = set(map(tuple, excluded.tolist()))
    return np.array([p for p in pairs.tolist() if tuple(p) not in gone], dtype=int).reshape(-1, 2)


def archs_with_neighbours(space: Space, limit: int, per_arch: int, seed: int) -> list[Arch]:
    """The ``limit`` archs a fit embeds: the whole space up to ``limit``; else, when neighbour
    pairs are asked for, ``limit // 2`` random archs and a random neighbour of each (random
    archs of a large space are never one another's neighbours), the rest random; else
    ``limit`` random archs."""
    if per_arch == 0 or space.cardinality() <= limit:
        return fit_archs(space, limit, seed)
    rng = np.random.default_rng([seed, 1])
    chosen = dict.fromkeys(fit_archs(space, limit // 2, seed))
    for arch in list(chosen):
        options = space.neighbours(arch)
        if options:
            chosen[options[int(rng.integers(len(options)))]] = None
    for _ in range(50 * limit):  # a neighbour drawn twice leaves room: random archs fill it
        if len(chosen) >= limit:
            break
        chosen[space.sample(rng)] = None
    return list(chosen)[:limit]


def train_embedding(n: int, pairs: np.ndarray, geds: np.ndarray, dim: int, epochs: int, seed: int) -> np.ndarray:
    """Vectors whose Euclidean distances fit the GEDs in the least-squares sense (§3.3.2)."""
    scale = float(geds.mean()) or 1.0
    generator = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, dim, generator=generator) * scale / np.sqrt(2 * dim)).requires_grad_()
    left, right = torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])
    target = torch.from_numpy(geds.astype(np.float32))
    optimizer = torch.optim.Adam([x], lr=0.05 * scale)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    for _ in range(epochs):
        optimizer.zero_grad()
        distance = torch.sqrt(((x[left] - x[right]) ** 2).sum(1) + 1e-12)
        loss = ((distance - target) ** 2).mean()
        loss.backward()
        optimizer.step()
        schedule.step()
    return x.detach().numpy().astype(np.float64)


def neighbour_fidelity(predicted: np.ndarray, geds: np.ndarray) -> dict[str, float]:
    """How well the embedding keeps the distances between neighbours (trained on, so a fit,
    not a held-out measure): Spearman ρ and mean relative error."""
    if len(geds) < 2:
        return {}
    return {"neighbour_spearman": float(stats.spearmanr(predicted, geds).statistic),
            "neighbour_relative_error": float(np.mean(np.abs(predicted - geds) / np.maximum(geds, 1e-9)))}


def distances(vectors: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    return np.linalg.norm(vectors[pairs[:, 0]] - vectors[pairs[:, 1]], axis=1)


class Transformer2vec(Encoding):
    """Embeddings fitted to domain-aware graph edit distances between block graphs."""

    name = "t2v"
    Options = T2VOptions
    version = "3"

    def fit(self) -> None:
        self.cache_path = cache_file(self, "npz")
        if self._load(self.cache_path):
            self.loaded_from_cache = True
            return
        started = time.perf_counter()
        o = self.options
        rng = np.random.default_rng(o.seed)
        archs = archs_with_neighbours(self.space, o.fit_archs, o.neighbour_pairs, o.seed)
        announce(f"fitting t2v for space {self.space.name} ({len(archs):,} archs, graph edit distances of "
                 f"{o.pairs + o.held_out:,} random pairs and of up to {o.neighbour_pairs} neighbours per arch, "
                 f"then the embedding); it is cached for later runs in "
                 f"{self.cache_path.parent}")
        labels = {label for a in archs for _, label in block_graph(self.space, a).nodes(data="label")}
        self.costs = BlockCosts.rank(self.space, labels)
        graphs = [self.costs.graph(self.space, a) for a in archs]
        train, held = choose_pairs(len(archs), o.pairs, o.held_out, rng)
        local = without(neighbour_pairs(self.space, archs, o.neighbour_pairs, rng), held)
        geds = pairwise_geds(graphs, np.concatenate([train, held, local]), o.edge_cost, o.workers)
        held_geds, local_geds = geds[len(train):len(train) + len(held)], geds[len(train) + len(held):]
        train, train_geds = np.concatenate([train, local]), np.concatenate([geds[: len(train)], local_geds])
        ged_seconds = time.perf_counter() - started
        knee: dict[str, float] = {}
        dim = o.dim
        if dim == 0:
            dim, knee = self._knee(len(archs), train, train_geds, held, held_geds)
        with one_thread():
            vectors = train_embedding(len(archs), train, train_geds, dim, o.epochs, o.seed)
        predicted = distances(vectors, held)
        self.report = {
            "archs": len(archs), "train_pairs": len(train), "neighbour_pairs": len(local),
            "held_out_pairs": len(held), "dim": dim,
            "spearman": float(stats.spearmanr(predicted, held_geds).statistic),
            **neighbour_fidelity(distances(vectors, local), local_geds),
            "rmse": float(np.sqrt(np.mean((predicted - held_geds) ** 2))), "mean_ged": float(held_geds.mean()),
            "uniform_costs": self.costs.uniform, "ged_seconds": ged_seconds,
            "fit_seconds": time.perf_counter() - started, "knee": knee,
        }
        self._set(archs, vectors, rng)
        self._save(self.cache_path)

    def _knee(self, n: int, train: np.ndarray, train_geds: np.ndarray, held: np.ndarray,
              held_geds: np.ndarray) -> tuple[int, dict[str, float]]:
        from kneed import KneeLocator

        errors = {}
        for d in KNEE_DIMS:
            with one_thread():
                vectors = train_embedding(n, train, train_geds, d, max(100, self.options.epochs // 3),
                                          self.options.seed)
            errors[d] = float(np.mean((distances(vectors, held) - held_geds) ** 2))
        knee = KneeLocator(list(errors), list(errors.values()), curve="convex", direction="decreasing").knee
        return int(knee or 16), {str(d): e for d, e in errors.items()}

    def _set(self, archs: list[Arch], vectors: np.ndarray, rng: np.random.Generator) -> None:
        self.vectors = vectors
        self.row = {a.id: i for i, a in enumerate(archs)}
        count = min(self.options.anchors, len(archs))
        self.anchor_rows = np.sort(rng.choice(len(archs), size=count, replace=False))
        self._set_anchors([archs[i] for i in self.anchor_rows])

    def _set_anchors(self, anchors: list[Arch]) -> None:
        self.anchors = anchors
        self.anchor_graphs = [self.costs.graph(self.space, a) for a in anchors]
        self.placed: dict[str, np.ndarray] = {}

    # -- cache -------------------------------------------------------------------------------------
    def _save(self, path: Path) -> None:
        ids = sorted(self.row, key=self.row.__getitem__)
        with atomic_path(path) as partial, partial.open("wb") as handle:
            np.savez(handle, vectors=self.vectors, ids=np.array(ids), anchor_rows=self.anchor_rows,
                     labels=np.array(list(self.costs.index)), label_index=np.array(list(self.costs.index.values())),
                     meta=np.array(json.dumps({"key": self.key(), "report": self.report,
                                               "uniform": self.costs.uniform,
                                               "anchors": [a.card for a in self.anchors]})))

    def _load(self, path: Path) -> bool:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("key") != self.key():
                    return False
                vectors, ids, anchor_rows = data["vectors"], data["ids"], data["anchor_rows"]
                index = dict(zip(data["labels"].tolist(), data["label_index"].tolist(), strict=True))
        except Exception:  # missing, damaged, or not ours: refit
            return False
        self.report = meta["report"]
        self.costs = BlockCosts(self.space, index, bool(meta["uniform"]))
        self.vectors, self.row = vectors, {str(i): n for n, i in enumerate(ids.tolist())}
        self.anchor_rows = anchor_rows
        self._set_anchors([self.space.arch(card) for card in meta["anchors"]])
        return True

    # -- encoding ----------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def encode(self, archs: list[Arch]) -> np.ndarray:  # type: ignore[override]
        return np.array([self.vectors[self.row[a.id]] if a.id in self.row else self._place(a) for a in archs],
                        dtype=np.float64).reshape(len(archs), self.dim)

    def _place(self, arch: Arch) -> np.ndarray:
        """Coordinates of an arch outside the fit, from its GEDs to the anchors."""
        if arch.id not in self.placed:
            graph = self.costs.graph(self.space, arch)
            target = torch.tensor([ged_bipartite(graph, a, self.options.edge_cost) for a in self.anchor_graphs])
            anchors = torch.from_numpy(self.vectors[self.anchor_rows])
            nearest = torch.argsort(target)[:3]
            x = anchors[nearest].mean(0).clone().requires_grad_()
            optimizer = torch.optim.LBFGS([x], max_iter=100, line_search_fn="strong_wolfe")

            def closure() -> torch.Tensor:
                optimizer.zero_grad()
                loss = ((torch.sqrt(((anchors - x) ** 2).sum(1) + 1e-12) - target) ** 2).mean()
                loss.backward()
                return loss

            optimizer.step(closure)
            self.placed[arch.id] = x.detach().numpy()
        return self.placed[arch.id]

    def fit_info(self) -> dict[str, Any]:
        return dict(self.report)
