"""What every plugin kind shares: a name, a one-line description and typed options."""

from __future__ import annotations

from typing import Any, ClassVar

from nasbench_txf.core.options import NoOptions, parse_options


class Plugin:
    """Base of spaces, encodings, strategies and benchmarks.

    ``name`` is the name users type; it must equal the entry-point name the plugin is
    registered under. ``Options`` is a frozen dataclass (see :mod:`nasbench_txf.core.options`);
    the first line of the class docstring is the description ``nasbench-txf list`` shows.
    """

    name: ClassVar[str]
    Options: ClassVar[type] = NoOptions

    @classmethod
    def description(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @classmethod
    def make_options(cls, given: dict[str, Any] | None = None) -> Any:
        """Parse ``KEY=VALUE`` options (strings or typed values) into ``cls.Options``."""
        return parse_options(f"{cls.name}", cls.Options, given or {})
