"""Parsing a sweep's strategy list: top-level commas, variants with options."""

from __future__ import annotations

import pytest

from nasbench_txf.core.errors import OptionError
from nasbench_txf.run.variants import Variant, parse_strategies, split_top_level, variant_label


def test_commas_inside_brackets_braces_and_quotes_do_not_split() -> None:
    text = 'rs, optuna(sampler=tpe, sampler_opts={"a": [1, 2], "b": "x,y"}), es'
    assert split_top_level(text, "t") == ["rs", 'optuna(sampler=tpe, sampler_opts={"a": [1, 2], "b": "x,y"})', "es"]


def test_variants_keep_their_options_as_text_in_order() -> None:
    assert parse_strategies('all, optuna(sampler=cmaes), optuna(sampler_opts={"n_startup_trials": 5}, sampler=gp)') == [
        Variant("all"), Variant("optuna", {"sampler": "cmaes"}),
        Variant("optuna", {"sampler_opts": '{"n_startup_trials": 5}', "sampler": "gp"})]


def test_a_variant_is_named_by_the_options_that_differ_from_the_defaults_however_spelled() -> None:
    assert variant_label("es", {"sample_size": "2", "population": "8"}) == "es(population=8, sample_size=2)"
    assert variant_label("es", {"population": 30}) == "es"
    assert variant_label("not-installed", {"b": 1, "a": True}) == "not-installed(a=true, b=1)"


@pytest.mark.parametrize("text", ["es(a=1", "es(a=[1)", "es(a={1]})", "es(a='1)", "es)"])
def test_unbalanced_text_is_an_option_error(text: str) -> None:
    with pytest.raises(OptionError):
        parse_strategies(text)


def test_quotes_group_a_value_and_are_removed_and_escapes_inside_quotes_are_kept() -> None:
    assert parse_strategies("optuna(against='macs,params', sampler=tpe), rs") == [
        Variant("optuna", {"against": "macs,params", "sampler": "tpe"}), Variant("rs")]
    text = 'optuna(sampler_opts={"a": "x\\"y,z"})'
    assert parse_strategies(text) == [Variant("optuna", {"sampler_opts": '{"a": "x\\"y,z"}'})]
