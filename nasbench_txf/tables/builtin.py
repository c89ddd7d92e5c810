"""Tables shipped inside the package (``nasbench_txf/data/tables/<name>/``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from nasbench_txf.core.errors import DataError
from nasbench_txf.core.space import Space
from nasbench_txf.tables.table import METADATA, Table


def builtin_folders() -> list[Path]:
    root = Path(str(resources.files("nasbench_txf") / "data" / "tables"))
    return sorted(p for p in root.iterdir() if (p / METADATA).is_file()) if root.is_dir() else []


def resolve_table(table: str, space: Space, task: str | None) -> Table:
    """The table at path ``table``, or the built-in one for this space and task."""
    if table:
        return Table.read(Path(table).expanduser())
    for folder in builtin_folders():
        candidate = Table.read(folder)
        if candidate.meta.space == space.key() and (task is None or candidate.meta.task == task):
            return candidate
    shipped = ", ".join(f"{f.name}" for f in builtin_folders()) or "none"
    raise DataError(f"no built-in table for space {space.name} {space.key()['options']} and task {task}; "
                    f"built-in tables: {shipped}; give --benchmark-opt table=DIR (see `nasbench-txf bench build`)")
