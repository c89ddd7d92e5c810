"""Optional libraries that plugins and adapters need, imported when they are.

A plugin module calls :func:`require` at its top (an adapter function when it is called).
Where the library is missing it raises
:class:`~nasbench_txf.core.errors.MissingDependencyError` with the install command, so
``list`` shows the plugin as not installed (and why), ``sweep --strategies all`` leaves it
out, and asking for it by name is one line saying how to install it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from nasbench_txf.core.errors import MissingDependencyError


def require(module: str, extra: str, needed_by: str, package: str | None = None) -> ModuleType:
    """``module`` imported, or a :class:`MissingDependencyError` naming the extra of this
    package that installs it; ``needed_by`` names who needs it (``"strategy optuna"``),
    ``package`` the name pip knows it by (default: the module's top-level name)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.partition(".")[0]
        package = package or top
        if getattr(exc, "name", None) in (None, module, top):
            why = f"{package} is not installed"
        else:  # the library is there but one of its own imports fails
            why = f"{package} does not import here ({type(exc).__name__}: {exc})"
        raise MissingDependencyError(
            f"{needed_by} needs {package}: {why}; install it with pip install 'nasbench-txf[{extra}]'"
        ) from None
