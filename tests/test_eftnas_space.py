"""The ``eftnas`` space on the tiny build: cards, decisions, presets, graph, refusals, and the
super-network protocol (activate computes what extract gives as a smaller model)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from nbt_testing import shared_eftnas_build

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import InvalidCardError, UserError
from nasbench_txf.core.registry import get_benchmark, get_space
from nasbench_txf.core.space import SuperNetwork

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def space():  # type: ignore[no-untyped-def]
    cls = get_space("eftnas")
    return cls(cls.make_options({"build": str(shared_eftnas_build())}))


def test_cards_decisions_and_presets_follow_the_generated_choices(space) -> None:
    heads, ffn = space.choices.heads, space.choices.ffn
    assert [d.name for d in space.decisions()] == ["heads-1", "heads-2", "ffn-1", "ffn-2"]
    assert [d.choices for d in space.decisions()] == [*heads, *ffn]
    assert space.cardinality() == math.prod(len(c) for c in heads + ffn) == len(list(space.enumerate()))
    presets = space.presets()
    assert presets["largest"] == {"heads": [4, 4], "ffn": [64, 64]}  # Algorithm 1's top target is the full model
    assert presets["smallest"] == {"heads": [1, 1], "ffn": [1, 1]}
    assert sum(name.startswith("config-") for name in presets) == 5
    for name in presets:
        arch = space.resolve(name)
        assert space.from_decisions(space.to_decisions(arch)) == arch


def test_bad_cards_name_the_layer_and_the_allowed_values(space) -> None:
    allowed = ", ".join(map(str, space.choices.heads[1]))
    bad = {"heads": [4, 5], "ffn": [64, 64]}
    with pytest.raises(InvalidCardError, match=rf"layer 2: heads=5 is not allowed; allowed: {allowed}$"):
        space.arch(bad)
    with pytest.raises(InvalidCardError, match=r"ffn must be a list of 2 entries .* got 3 entries"):
        space.arch({"heads": [4, 4], "ffn": [64, 64, 64]})
    with pytest.raises(InvalidCardError, match="fields heads and ffn, one entry per layer; missing ffn; unknown width"):
        space.arch({"heads": [4, 4], "width": [1]})
    with pytest.raises(InvalidCardError, match=r"layer 1: ffn=True is not allowed"):
        space.arch({"heads": [4, 4], "ffn": [True, 64]})
    with pytest.raises(InvalidCardError, match=r"belongs to space"):
        space.check(Arch.from_card("flexibert", {"heads": [4, 4], "ffn": [64, 64]}))


def test_graph_has_a_node_per_active_head_and_a_labelled_ffn(space) -> None:
    arch = space.arch({"heads": [space.choices.heads[0][-1], 1], "ffn": [space.choices.ffn[0][1], 64]})
    graph = space.graph(arch)
    labels = [label for _, label in graph.nodes(data="label")]
    assert labels.count("head") == arch.card["heads"][0] + 1
    assert labels.count("add-norm") == 4 and labels.count("ffn-64") == 1
    assert f"ffn-{arch.card['ffn'][0]}" in labels
    assert [n for n in graph if graph.in_degree(n) == 0] == ["input"]
    assert [n for n in graph if graph.out_degree(n) == 0] == ["output"]
    assert space.block_complexity("ffn-64") == 2 * space.block_complexity("ffn-32") > 0
    assert space.block_complexity("head") > 0 and space.block_complexity("add-norm") == 0


def test_the_build_option_is_checked(tmp_path: Path) -> None:
    cls = get_space("eftnas")
    with pytest.raises(UserError, match="no such build folder"):
        cls(cls.make_options({"build": str(tmp_path / "missing")}))
    with pytest.raises(UserError, match=r"no build\.json, so not an EFTNAS build folder"):
        cls(cls.make_options({"build": str(tmp_path)}))
    unfinished = tmp_path / "unfinished"
    shutil.copytree(shared_eftnas_build(), unfinished)
    record = json.loads((unfinished / "build.json").read_text())
    del record["stages"]["supernet"]
    (unfinished / "build.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match=r"the build is not finished \(stages supernet to do\)"):
        cls(cls.make_options({"build": str(unfinished)}))


def test_activated_subnetwork_equals_the_extracted_smaller_model(space) -> None:
    assert isinstance(space, SuperNetwork)
    supernet = space.build_supernet(num_labels=2)
    rng = np.random.default_rng(0)
    ids = torch.tensor(rng.integers(5, 30, (4, 10)))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        full = supernet(ids, mask)
        for arch in [space.resolve("smallest"), space.resolve("config-3"), space.sample(rng)]:
            space.activate(supernet, arch)
            active = supernet(ids, mask)
            small = space.extract(supernet, arch)
            assert (small(ids, mask) - active).abs().max() <= 1e-5
            params = sum(p.numel() for p in small.parameters())
            assert params == space.supernet_costs(arch)["params"]
        space.activate(supernet, space.resolve("largest"))
        assert (supernet(ids, mask) - full).abs().max() <= 1e-6
    assert space.supernet_costs(space.resolve("smallest"))["macs"] < space.supernet_costs(space.resolve("largest"))[
        "macs"]
    with pytest.raises(UserError, match="trained for sst2 with 2 labels, not 3"):
        space.build_supernet(num_labels=3)


def test_an_exported_space_is_the_same_space_without_weights(space, tmp_path: Path) -> None:
    """An export (what ships with the package) keeps the cards, costs and key, drops the local
    paths, and refuses what needs the weights with one line that says what to give instead."""
    from nasbench_txf.spaces.eftnas.folder import export_space

    copy = tmp_path / "elsewhere"
    shutil.copytree(shared_eftnas_build(), copy)
    export_space(space.build, tmp_path / "export")
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == ["bert_config.json", "build.json", "space.json"]
    record = json.loads((tmp_path / "export" / "build.json").read_text())
    assert "path" not in record["base"] and "data_dir" not in record["task_options"]
    cls = get_space("eftnas")
    exported, moved = (cls(cls.make_options({"build": str(folder)})) for folder in (tmp_path / "export", copy))
    assert exported.key() == moved.key() == space.key()  # where the folder lies is not part of the space
    arch = space.sample(np.random.default_rng(3))
    assert exported.supernet_costs(arch) == space.supernet_costs(arch)
    assert exported.to_decisions(arch) == space.to_decisions(arch) and exported.presets() == space.presets()
    with pytest.raises(UserError, match=r"without its super-network weights .* not for building the super-network"):
        exported.build_supernet(num_labels=2)
    with pytest.raises(UserError, match="not for scoring subnetworks with inherited weights"):
        get_benchmark("supernet")(exported)
