"""A sweep's strategy list: names, ``all``, and variants with options, ``optuna(sampler=cmaes)``.

One sweep compares a strategy under several settings (two Optuna samplers, an evolution with
two population sizes) on the same terms, so each entry of ``--strategies`` may carry options in
parentheses, ``name(key=value, key=value)``, given as ``--strategy-opt`` would give them. A value
may itself hold commas inside brackets, braces or quotes (a JSON object, a list, a quoted
``'macs,params'``), so the list is split at top-level commas only, and one pair of quotes
around a whole value is removed; ``str.split`` and ``shlex`` cannot tell those apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nasbench_txf.core.errors import OptionError, UserError
from nasbench_txf.core.options import options_dict, split_pairs
from nasbench_txf.core.registry import get_strategy

_OPEN = {"(": ")", "[": "]", "{": "}"}
_QUOTES = {'"', "'"}


@dataclass(frozen=True)
class Variant:
    """One entry of the list: a strategy name and the options it was given (as text)."""

    name: str
    options: dict[str, str] = field(default_factory=dict)


def split_top_level(text: str, what: str) -> list[str]:
    """``text`` split at the commas outside brackets, braces, parentheses and quotes; an
    unbalanced bracket or quote is an :class:`OptionError` naming ``what``."""
    parts, current, closing, quote, escaped = [], [], [], None, False
    for char in text:
        if escaped:  # the character after a backslash, inside quotes: taken as it is
            escaped = False
        elif quote is not None:
            escaped = char == "\\"
            quote = None if char == quote else quote
        elif char in _QUOTES:
            quote = char
        elif char in _OPEN:
            closing.append(_OPEN[char])
        elif char in _OPEN.values():
            expected = closing.pop() if closing else None
            if expected != char:
                hint = f" (expected {expected!r})" if expected else ""
                raise OptionError(f"{what}: unbalanced {char!r}{hint} in {text!r}")
        elif char == "," and not closing:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote is not None or closing:
        raise OptionError(f"{what}: missing {quote or closing[-1]!r} in {text!r}")
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_variant(text: str, what: str = "--strategies", kind: str = "strategy") -> Variant:
    """``name`` or ``name(key=value, …)`` → a :class:`Variant`; ``what`` names the list in
    messages, ``kind`` what its entries name."""
    name, paren, rest = text.partition("(")
    name = name.strip()
    if not name:
        raise UserError(f"{what}: an entry has no {kind} name: {text!r}")
    if not paren:
        return Variant(name)
    if not rest.rstrip().endswith(")"):
        raise OptionError(f"{what}: {text!r} must end with ')' (write name(key=value, key=value))")
    inner = rest.rstrip()[:-1]
    pairs = split_pairs(split_top_level(inner, f"{what} {name}"), f"{what} {name}(…)")
    return Variant(name, {key: _unquoted(value) for key, value in pairs.items()})


def _unquoted(value: str) -> str:
    """A value without one pair of enclosing quotes: ``against='macs,params'`` gives
    ``macs,params`` (quotes group a value that holds commas)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in _QUOTES:
        return value[1:-1]
    return value


def parse_variants(text: str, what: str, kind: str) -> list[Variant]:
    """The entries of the list ``what`` (an option such as ``--strategies``), each naming a
    ``kind`` of thing, in order."""
    variants = [parse_variant(part, what, kind) for part in split_top_level(text, what)]
    if not variants:
        raise UserError(f"{what}: nothing named: give a comma-separated list of names or name(key=value, …)")
    return variants


def parse_strategies(text: str) -> list[Variant]:
    """The entries of ``--strategies`` in order (``all`` kept as an entry for the caller)."""
    return parse_variants(text, "--strategies", "strategy")



def option_changes(strategy: str, options: Mapping[str, Any]) -> list[str]:
    """``key=value`` for each option that differs from the strategy's defaults, sorted (all
    the options given, if the strategy is not installed here)."""
    try:
        cls = get_strategy(strategy)
        made, defaults = options_dict(cls.make_options(dict(options))), options_dict(cls.make_options())
    except UserError:
        made, defaults = dict(options), {}
    return [f"{k}={_shown(v)}" for k, v in sorted(made.items()) if k not in defaults or defaults[k] != v]


def variant_label(strategy: str, options: Mapping[str, Any]) -> str:
    """``strategy``, or ``strategy(key=value, …)`` with its :func:`option_changes`: one name per
    setting however it was spelled, for sweep reports and leaderboard rows alike."""
    changes = option_changes(strategy, options)
    return f"{strategy}({', '.join(changes)})" if changes else strategy


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
