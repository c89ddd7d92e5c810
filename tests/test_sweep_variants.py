"""Parsing a sweep's strategy list: top-level commas, variants with options."""

from __future__ import annotations

import pytest

from nasbench_txf.core.errors import OptionError
from nasbench_txf.run.variants import Variant, parse_strategies, split_top_level


def test_commas_inside_brackets_braces_and_quotes_do_not_split() -> None:
    text = 'rs, optuna(sampler=tpe, sampler_opts={"a": [1, 2], "b": "x,y"}), es'
    assert split_top_level(text, "t") == ["rs", 'optuna(sampler=tpe, sampler_opts={"a": [1, 2], "b": "x,y"})', "es"]


def test_variants_keep_their_options_as_text_in_order() -> None:
    assert parse_strategies('all, optuna(sampler=cmaes), optuna(sampler_opts={"n_startup_trials": 5}, sampler=gp)') == [
        Variant("all"), Variant("optuna", {"sampler": "cmaes"}),
        Variant("optuna", {"sampler_opts": '{"n_startup_trials": 5}', "sampler": "gp"})]
    assert Variant("optuna", {"sampler": "cmaes", "against": "auto"}).label == "optuna(sampler=cmaes, against=auto)"
    assert Variant("rs").label == "rs"


@pytest.mark.parametrize("text", ["es(a=1", "es(a=[1)", "es(a={1]})", "es(a='1)", "es)"])
def test_unbalanced_text_is_an_option_error(text: str) -> None:
    with pytest.raises(OptionError):
        parse_strategies(text)
