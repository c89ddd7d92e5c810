"""Typed plugin options, parsed from ``KEY=VALUE`` strings.

Each plugin declares its options as a frozen dataclass (``Options``); the field types say how
a value is parsed (``int``, ``float``, ``bool``, ``str``, ``Literal[...]``) and field
``metadata["help"]`` says what it does. The CLI and the run store only see plain dicts, so
the same cell is described the same way wherever it came from. Hand-written rather than
pydantic: the whole job is a dozen lines of type dispatch and pulls in no dependency.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args, get_origin

from nasbench_txf.core.errors import OptionError


def option(default: Any, help: str, *, keyed_at_default: bool = True) -> Any:
    """A dataclass field with a default and the help text ``list`` and the docs show.

    ``keyed_at_default=False``: at its default the option is left out of
    :func:`options_dict`, and so of every key built from it (run stores, tables, checkpoints):
    keys made before the option existed stay valid.
    """
    return dataclasses.field(default=default, metadata={"help": help, "keyed_at_default": keyed_at_default})


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """The options of a plugin that takes none."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def option_fields(options_type: type) -> dict[str, tuple[Any, dataclasses.Field[Any]]]:
    """Name → (resolved type, field) for an options dataclass."""
    hints = typing.get_type_hints(options_type)
    return {f.name: (hints[f.name], f) for f in dataclasses.fields(options_type)}


def describe_type(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "|".join(str(a).lower() if isinstance(a, bool) else str(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def parse_value(owner: str, key: str, tp: Any, raw: Any) -> Any:
    """Convert ``raw`` (a string from the CLI, or an already typed value) to ``tp``."""
    try:
        if get_origin(tp) is Literal:
            allowed = get_args(tp)
            for choice in allowed:
                if raw == choice or str(raw).lower() == str(choice).lower():
                    return choice
            raise ValueError
        if tp is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError
        if tp is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw)
        if tp is float:
            value = float(raw)
            if not math.isfinite(value):  # no option means anything by nan or inf
                raise ValueError
            return value
        if tp is str:
            return str(raw)
    except ValueError:
        raise OptionError(
            f"{owner}: option {key}={raw!r} is not a valid {describe_type(tp)}"
        ) from None
    raise TypeError(f"{owner}: option {key} has an unsupported type {tp!r}")


def parse_options(owner: str, options_type: type, given: Mapping[str, Any]) -> Any:
    """Build ``options_type`` from ``given``; unknown keys are errors that name the known ones."""
    fields = option_fields(options_type)
    values: dict[str, Any] = {}
    for key, raw in given.items():
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise OptionError(f"{owner}: unknown option {key!r}{hint}; known options: {known}")
        values[key] = parse_value(owner, key, fields[key][0], raw)
    try:
        return options_type(**values)
    except (TypeError, ValueError) as exc:  # __post_init__ checks of ranges and combinations
        raise OptionError(f"{owner}: {exc}") from None


def split_pairs(pairs: Iterable[str], flag: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``; a malformed pair is an error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"{flag} takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def options_dict(options: Any) -> dict[str, Any]:
    """Options as a plain JSON-able dict, every field with its value (defaults included, but
    for an option declared ``keyed_at_default=False`` at its default)."""
    values = dataclasses.asdict(options)
    for f in dataclasses.fields(options):
        if not f.metadata.get("keyed_at_default", True) and values[f.name] == f.default:
            del values[f.name]
    return values


def options_help(options_type: type) -> list[dict[str, str]]:
    """One entry per option: name, type, default and help (for ``list`` and the docs)."""
    rows = []
    for name, (tp, f) in option_fields(options_type).items():
        default = f.default if f.default is not dataclasses.MISSING else None
        rows.append(
            {
                "name": name,
                "type": describe_type(tp),
                "default": str(default).lower() if isinstance(default, bool) else str(default),
                "help": str(f.metadata.get("help", "")),
            }
        )
    return rows
