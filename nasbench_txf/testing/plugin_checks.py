"""What every plugin, of any kind, must declare: a name, a description and typed options."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any, Literal, get_origin

from nasbench_txf.core.options import options_dict
from nasbench_txf.core.plugin import Plugin
from nasbench_txf.testing.subject import Subject, as_subject

#: the option types ``KEY=VALUE`` strings are parsed into
OPTION_TYPES = (int, float, bool, str)


def check_declares_name_description_and_options(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """The class sets its own ``name`` (the name users type, which must equal its entry-point
    name), has a docstring (its first line is what ``nasbench-txf list`` shows), implements
    every abstract method, and declares ``Options`` as a frozen dataclass whose every field
    has a help text and a type ``KEY=VALUE`` strings parse into; its options survive the
    run store (stored as a dict, parsed back to the same options)."""
    subject = as_subject(plugin, **settings)
    cls = subject.plugin
    label = cls.__qualname__
    name = vars(cls).get("name")
    assert isinstance(name, str) and name and not any(c.isspace() for c in name), (
        f"{label} must set its own class attribute `name` (got {name!r}): the name users type, the same as "
        "its entry-point name in pyproject.toml, e.g. name = \"local-search\""
    )
    assert cls.description(), (
        f"{name}: {label} has no docstring; its first line is the description `nasbench-txf list` shows"
    )
    abstract = sorted(getattr(cls, "__abstractmethods__", ()))
    assert not inspect.isabstract(cls), f"{name}: {label} does not implement {', '.join(abstract)}"
    options_type = cls.Options
    assert dataclasses.is_dataclass(options_type) and options_type.__dataclass_params__.frozen, (  # type: ignore[attr-defined]
        f"{name}: Options must be a frozen dataclass (@dataclass(frozen=True)), got {options_type!r}"
    )
    hints = typing.get_type_hints(options_type)
    for f in dataclasses.fields(options_type):
        assert f.metadata.get("help"), (
            f"{name}: option {f.name} has no help text; declare it as "
            f"{f.name}: {getattr(hints[f.name], '__name__', hints[f.name])} = field(default=..., metadata={{\"help\": "
            "\"what it does\"}) or with nasbench_txf.core.options.option(default, \"what it does\")"
        )
        tp = hints[f.name]
        assert tp in OPTION_TYPES or get_origin(tp) is Literal, (
            f"{name}: option {f.name} has type {tp!r}; options are int, float, bool, str or Literal[...] "
            "(they are parsed from KEY=VALUE strings)"
        )
    options = subject.make_options()
    again = cls.make_options(options_dict(options))
    assert again == options, (
        f"{name}: options {options_dict(options)} parse back to other options ({options_dict(again)}); a run "
        "store records the options as a dict and a resumed run parses them again"
    )


CHECKS = (check_declares_name_description_and_options,)
