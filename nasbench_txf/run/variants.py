"""A sweep's strategy list: names, ``all``, and variants with options, ``optuna(sampler=cmaes)``.

One sweep compares a strategy under several settings (two Optuna samplers, an evolution with
two population sizes) on the same terms, so each entry of ``--strategies`` may carry options in
parentheses, ``name(key=value, key=value)``, given as ``--strategy-opt`` would give them. A value
may itself hold commas inside brackets, braces or quotes (a JSON object, a list), so the list is
split at top-level commas only; ``str.split`` and ``shlex`` cannot tell those apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nasbench_txf.core.errors import OptionError, UserError
from nasbench_txf.core.options import split_pairs

_OPEN = {"(": ")", "[": "]", "{": "}"}
_QUOTES = {'"', "'"}


@dataclass(frozen=True)
class Variant:
    """One entry of the list: a strategy name and the options it was given (as text)."""

    name: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How the entry is written: ``name`` or ``name(key=value, …)``."""
        if not self.options:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.options.items())})"


def split_top_level(text: str, what: str) -> list[str]:
    """``text`` split at the commas outside brackets, braces, parentheses and quotes; an
    unbalanced bracket or quote is an :class:`OptionError` naming ``what``."""
    parts, current, closing, quote = [], [], [], None
    for char in text:
        if quote is not None:
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


def parse_variant(text: str) -> Variant:
    """``name`` or ``name(key=value, …)`` → a :class:`Variant`."""
    name, paren, rest = text.partition("(")
    name = name.strip()
    if not name:
        raise UserError(f"--strategies: an entry has no strategy name: {text!r}")
    if not paren:
        return Variant(name)
    if not rest.rstrip().endswith(")"):
        raise OptionError(f"--strategies: {text!r} must end with ')' (write name(key=value, key=value))")
    inner = rest.rstrip()[:-1]
    return Variant(name, split_pairs(split_top_level(inner, f"--strategies {name}"), f"--strategies {name}(…)"))


def parse_strategies(text: str) -> list[Variant]:
    """The entries of ``--strategies`` in order (``all`` kept as an entry for the caller)."""
    variants = [parse_variant(part) for part in split_top_level(text, "--strategies")]
    if not variants:
        raise UserError("no strategies named: give a comma-separated list, 'all', or name(key=value, …)")
    return variants

