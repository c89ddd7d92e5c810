"""MkDocs hook: gives the API reference the package as it is installed.

Four of the package's subpackages live in top-level folders of the repository
(``spaces/`` is installed as ``nasbench_txf.spaces``, and so on: the ``package-dir`` mapping
in ``pyproject.toml``). mkdocstrings reads source files without importing them, so it would
not find those subpackages inside ``nasbench_txf/``. Before each build this hook copies the
package's Python files, mapped as an install maps them, into ``build/docs-src/``, the folder
``mkdocs.yml`` gives mkdocstrings to read.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[2]
MIRROR = ROOT / "build" / "docs-src"


def _package_dirs() -> dict[str, Path]:
    """Package name → source folder, from ``[tool.setuptools.package-dir]``."""
    with open(ROOT / "pyproject.toml", "rb") as handle:
        mapping = tomllib.load(handle)["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / folder for name, folder in mapping.items()}


def _not_python(folder: str, names: list[str]) -> list[str]:
    """What not to copy: everything but Python files and the folders of subpackages."""
    return [n for n in names if not (n.endswith(".py") or Path(folder, n, "__init__.py").is_file())]


def mirror_packages() -> Path:
    """Copy every mapped package's ``.py`` files to where the installed package has them."""
    if MIRROR.exists():
        shutil.rmtree(MIRROR)
    # outer packages first, so that a mapped subpackage is copied over its parent's folder
    for name, source in sorted(_package_dirs().items(), key=lambda item: item[0].count(".")):
        target = MIRROR.joinpath(*name.split("."))
        shutil.copytree(
            source,
            target,
            dirs_exist_ok=True,
            ignore=_not_python,
        )
    return MIRROR


@event_priority(100)  # before mkdocstrings' own on_config, which looks for the mirror's folder
def on_config(config: Any, **kwargs: Any) -> Any:
    mirror_packages()
    return config
