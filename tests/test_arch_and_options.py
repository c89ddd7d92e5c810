from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import OptionError
from nasbench_txf.core.options import options_dict, options_help, parse_options, split_pairs


def test_arch_is_canonical_and_stable() -> None:
    a = Arch.from_card("s", {"b": [1, 2], "a": "x"})
    b = Arch.from_card("s", {"a": "x", "b": [1, 2]})
    assert a == b and hash(a) == hash(b) and a.id == b.id
    assert a.canonical == '{"a":"x","b":[1,2]}'
    # the id is part of stored data: it must never change between versions
    assert a.id == "aa39f3ff01311a34dc7d"
    assert Arch.from_card("other", a.card) != a
    card = a.card
    card["a"] = "changed"
    assert a.card["a"] == "x", "the card of an arch cannot be changed through a copy"


@dataclass(frozen=True)
class Opts:
    k: int = field(default=3, metadata={"help": "how many"})
    rate: float = 0.5
    flag: bool = False
    mode: Literal["ei", "ucb"] = "ei"

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")


def test_options_parse_typed_values() -> None:
    opts = parse_options("demo", Opts, {"k": "5", "rate": "1e-3", "flag": "yes", "mode": "UCB"})
    assert opts == Opts(k=5, rate=1e-3, flag=True, mode="ucb")
    assert options_dict(opts) == {"k": 5, "rate": 1e-3, "flag": True, "mode": "ucb"}
    assert options_help(Opts)[0] == {"name": "k", "type": "int", "default": "3", "help": "how many"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"kk": "1"}, r"unknown option 'kk' \(did you mean k\?\); known options: flag, k, mode, rate"),
        ({"k": "two"}, r"k='two' is not a valid int"),
        ({"k": "1.5"}, r"is not a valid int"),
        ({"flag": "maybe"}, r"is not a valid bool"),
        ({"mode": "pi"}, r"is not a valid ei\|ucb"),
        ({"k": "0"}, r"k must be at least 1"),
    ],
)
def test_bad_options_name_the_problem(given: dict[str, str], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        parse_options("demo", Opts, given)


def test_pairs_must_have_an_equals_sign() -> None:
    assert split_pairs(["a=1", "b = x=y"], "--x") == {"a": "1", "b": "x=y"}
    with pytest.raises(OptionError, match="--space-opt takes KEY=VALUE, got 'level'"):
        split_pairs(["level"], "--space-opt")
