from __future__ import annotations

import csv
import json
import math

import networkx as nx
import numpy as np
import pytest
import torch
from nbt_testing import GLUE, sample_archs, space
from torch.utils.flop_counter import FlopCounterMode

from nasbench_txf.core.errors import InvalidCardError
from nasbench_txf.core.registry import get_space
from nasbench_txf.graphs.hashing import graph_hash
from nasbench_txf.spaces.flexibert.model import FlexiBERTModel
from nasbench_txf.spaces.flexibert.presets import INITIAL_MODELS


def flexibert(level: int = 1):
    cls = get_space("flexibert")
    return cls(cls.make_options({"level": str(level)}))


def space2021(monotone: bool):
    cls = get_space("flexibert-2021")
    return cls(cls.make_options({"monotone": monotone}))


def test_cardinalities_follow_table_2(cli) -> None:
    counts = [json.loads(cli("space", "info", "flexibert", "--space-opt", f"level={lv}", "--json",
                             check=True).stdout)["cardinality"] for lv in (1, 2, 3)]
    assert counts == [96 + 96**2, 96**2 + 96**4, 240**2 + 240**4]
    assert counts[0] == 9312 and round(counts[2] / 1e9, 2) == 3.32
    assert space2021(False).cardinality() == 332_352
    assert space2021(True).cardinality() == 2037


def test_level_1_enumeration_is_complete_and_distinct() -> None:
    archs = list(flexibert(1).enumerate())
    assert len(set(archs)) == 9312
    assert flexibert(1).resolve("bert-tiny") in set(archs)


def test_monotone_2021_graphs_are_2037_distinct_hashes() -> None:
    sp = space2021(True)
    assert len({graph_hash(sp.graph(a)) for a in sp.enumerate()}) == 2037


def test_hash_is_equal_for_isomorphic_graphs_and_differs_otherwise() -> None:
    sp = flexibert(2)
    mini = sp.resolve("flexibert-mini")
    graph = sp.graph(mini)
    order = np.random.default_rng(0).permutation(graph.number_of_nodes())
    shuffled = nx.relabel_nodes(graph, dict(zip(graph.nodes, order.tolist(), strict=True)))
    assert graph_hash(shuffled) == graph_hash(graph)
    card = mini.card
    swapped = {k: (v[2:] + v[:2] if isinstance(v, list) else v) for k, v in card.items()}
    assert graph_hash(sp.graph(sp.arch(swapped))) != graph_hash(graph)  # same blocks, other order
    relabelled = graph.copy()
    relabelled.nodes[1]["label"] = "h-256/SA-WMA"
    assert graph_hash(relabelled) != graph_hash(graph)


def test_graph_follows_fig_2_for_bert_tiny() -> None:
    sp = flexibert()
    g = sp.graph(sp.resolve("bert-tiny"))
    labels = [g.nodes[n]["label"] for n in nx.topological_sort(g)]
    assert labels.count("h-128/SA-SDP") == 4 and labels.count("ff-512") == 2
    assert labels.count("add-norm") == 4 and labels.count("proj-128-128") == 1
    assert labels[0] == "input" and labels[-1] == "output"


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ({"l": 2, "o": ["SA"], "h": [128, 128], "n": [2, 2], "f": [[512], [512]], "p": ["SDP", "SDP"]},
         "o must be a list of l=2 entries, got 1"),
        ({"l": 2, "o": ["SA", "SA"], "h": [128, 512], "n": [2, 2], "f": [[512], [512]], "p": ["SDP", "SDP"]},
         "layer 2: h=512 is not allowed; allowed: 128, 256"),
        ({"l": 2, "o": ["SA", "LT"], "h": [128, 128], "n": [2, 2], "f": [[512], [512]], "p": ["SDP", "SDP"]},
         "layer 2: p='SDP' is not a parameter of LT; allowed: DFT, DCT"),
        ({"l": 3, "o": ["SA"] * 3, "h": [128] * 3, "n": [2] * 3, "f": [[512]] * 3, "p": ["SDP"] * 3},
         "l=3 is not allowed; allowed: 2, 4"),
        ({"l": 2, "o": ["SA", "SA"], "h": [128, 128], "n": [2, 4], "f": [[512], [512]], "p": ["SDP", "SDP"]},
         "level 1 ties layers 1 and 2 (s=2) but they differ in n"),
        ({"l": 2, "o": ["SA", "SA"], "h": [128, 128], "n": [2, 2], "f": [[512, 1024], [512, 1024]],
          "p": ["SDP", "SDP"]}, "f has a stack of 2 feed-forward layers; allowed stack sizes: 1, 3"),
        ({"l": 2, "a": [2, 2], "h": [128, 128], "s": ["sdp", "sdp"], "f": [512, 512]},
         "this looks like a flexibert-2021 card"),
    ],
)
def test_invalid_cards_name_what_is_wrong(card: dict, message: str) -> None:
    with pytest.raises(InvalidCardError) as info:
        flexibert(1).arch(card)
    assert message in str(info.value)


def test_heterogeneous_stacks_need_level_3() -> None:
    card = {"l": 2, "o": ["SA", "SA"], "h": [128, 128], "n": [2, 2], "f": [[512, 1024, 512], [512, 512, 512]],
            "p": ["SDP", "SDP"]}
    with pytest.raises(InvalidCardError, match="heterogeneous feed-forward stack, which only level 3 allows"):
        flexibert(2).arch(card)
    assert flexibert(3).arch(card).card["f"][0] == [512, 1024, 512]


def test_2021_cards_in_the_papers_format() -> None:
    card = {"l": 2, "a": [2, 2], "h": [128, 128], "s": ["sdp", "sdp"], "f": [512, 512]}
    assert space2021(True).arch(card).card == card
    with pytest.raises(InvalidCardError, match="f=\\[1024, 512\\] decreases with depth"):
        space2021(True).arch({**card, "f": [1024, 512]})
    assert space2021(False).arch({**card, "f": [1024, 512]})
    with pytest.raises(InvalidCardError, match="looks like a flexibert card"):
        space2021(False).arch(flexibert().resolve("bert-tiny").card)


def test_presets_include_the_twelve_initial_models() -> None:
    assert len(INITIAL_MODELS) == 12
    sp = flexibert(1)
    assert {sp.resolve(name).card["o"][0] for name in INITIAL_MODELS} == {"SA", "LT", "DSC"}
    assert sp.resolve("BERT-2/256") == sp.resolve("bert-2-256")
    with pytest.raises(InvalidCardError, match="preset flexibert-mini-wo-s is not a card of this space"):
        sp.resolve("flexibert-mini-wo-s")
    assert flexibert(2).resolve("flexibert-mini-wo-s").card["p"] == ["SDP", "WMA"]


def test_sampling_is_uniform_over_cards() -> None:
    sp, rng = flexibert(1), np.random.default_rng(0)
    shallow = sum(sp.sample(rng).card["l"] == 2 for _ in range(20_000))
    expected = 20_000 * 96 / 9312  # 206
    assert abs(shallow - expected) < 4 * np.sqrt(expected)


def test_crossover_spans_the_parents_choices_at_each_depth() -> None:
    sp = flexibert(1)
    parents = [sp.resolve("bert-tiny"), sp.resolve("fnet-mini")]
    child = sp.child_space(parents)
    assert child.level == 2 and child.depths == (2, 4)
    children = list(child.enumerate())
    assert len(children) == child.cardinality()
    lifted = {child.arch(p.card) for p in parents}
    assert lifted <= set(children)
    allowed_ops = {("SA", "SDP"), ("LT", "DFT")}
    for arch in children:
        layers = child.layers(arch)
        assert all((x.op, x.param) in allowed_ops for x in layers)
        assert all(x.hidden == 256 for x in layers[2:])  # only fnet-mini reaches depth 3-4
    rng = np.random.default_rng(1)
    for _ in range(20):
        kid = sp.crossover(parents[0], parents[1], rng)
        sp.check(kid)
        assert {(x.op, x.param) for x in sp.layers(kid)} <= allowed_ops


def sst2_batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    with (GLUE / "SST-2" / "train.tsv").open(newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1 : n + 1]
    vocab: dict[str, int] = {"[PAD]": 0, "[CLS]": 1}
    seqs = [[1] + [vocab.setdefault(w, len(vocab)) for w in text.split()] for text, _ in rows]
    length = max(map(len, seqs))
    ids = torch.tensor([s + [0] * (length - len(s)) for s in seqs])
    return ids, (ids != 0).long(), torch.tensor([int(label) for _, label in rows]), len(vocab)


@pytest.mark.parametrize("preset", ["bert-tiny", "fnet-tiny", "convbert-tiny"])
@pytest.mark.parametrize("variant", ["paper", "other-parameter"])
def test_every_operation_trains_on_real_sst2(preset: str, variant: str) -> None:
    sp = flexibert(2)
    card = sp.resolve(preset).card
    if variant == "other-parameter":  # WMA, DCT, kernel 5; and a projection between hidden sizes
        card["p"] = [{"SDP": "WMA", "DFT": "DCT", 9: 5}[p] for p in card["p"]]
        card["h"], card["n"], card["f"] = [128, 256], [2, 4], [[512], [1024]]
    arch = sp.arch(card)
    ids, mask, labels, vocab = sst2_batch()
    torch.manual_seed(0)
    model = sp.build_model(arch, vocab_size=vocab, num_labels=2, dropout=0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(25):
        loss = torch.nn.functional.cross_entropy(model(ids, mask), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_padding_does_not_change_the_output() -> None:
    sp = flexibert(2)
    for preset in ("bert-tiny", "convbert-tiny"):
        torch.manual_seed(0)
        model = sp.build_model(sp.resolve(preset), vocab_size=50, num_labels=2).eval()
        ids = torch.randint(1, 50, (1, 9))
        padded = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], 1)
        mask = (padded != 0).long()
        torch.testing.assert_close(model(ids), model(padded, mask), atol=1e-5, rtol=1e-4)


def test_counts_of_parameters_and_flops() -> None:
    sp = space("flexibert")
    tiny, mini = sp.resolve("bert-tiny"), sp.resolve("bert-mini")
    # Turc et al. (2019): BERT-Tiny 4.4M, BERT-Mini 11.3M parameters with BERT's vocabulary
    assert sp.count_parameters(tiny, vocab_size=30522) == pytest.approx(4.4e6, rel=0.02)
    assert sp.count_parameters(mini, vocab_size=30522) == pytest.approx(11.3e6, rel=0.03)
    flops_tiny = sp.count_flops(tiny, vocab_size=30522, seq_len=128)
    assert sp.count_flops(mini, vocab_size=30522, seq_len=128) > 4 * flops_tiny
    assert sp.count_flops(tiny, vocab_size=30522, seq_len=64) < flops_tiny


@pytest.mark.parametrize("sp", [flexibert(3), space2021(False)], ids=["flexibert-level-3", "flexibert-2021"])
def test_counts_summed_from_parts_equal_the_built_models(sp) -> None:
    """Counts are summed per layer configuration (fast enough for a surrogate to answer);
    they must equal the whole model's parameters and torch's FLOP counter on its forward
    pass (plus 5 N log2 N per DFT layer, which the counter does not see)."""
    for arch in sample_archs(sp, 12, seed=4):
        layers = sp.layers(arch)
        model = FlexiBERTModel(layers, vocab_size=500, num_labels=3, max_len=32).eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(torch.zeros(1, 32, dtype=torch.long))
        fft = sum(5 * n * math.log2(n) for x in layers if x.param == "DFT" for n in [32 * x.hidden])
        assert sp.count_parameters(arch, vocab_size=500, num_labels=3, max_len=32) == sum(
            p.numel() for p in model.parameters())
        assert sp.count_flops(arch, vocab_size=500, seq_len=32, num_labels=3) == int(counter.get_total_flops() + fft)


def test_space_cli_show_and_bad_card(cli) -> None:
    shown = json.loads(cli("space", "show", "flexibert", "--card", "bert-tiny", "--json", check=True).stdout)
    assert shown["graph"]["nodes"] == 13 and shown["parameters"] > 4e6
    bad = cli("space", "show", "flexibert", "--card", '{"l": 2, "o": ["SA", "XX"]}')
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    sampled = json.loads(cli("space", "sample", "flexibert", "--n", "3", "--seed", "4", "--json", check=True).stdout)
    assert len(sampled) == 3 and all(set(c) == {"l", "o", "h", "n", "f", "p"} for c in sampled)
