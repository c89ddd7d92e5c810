"""Files the suite writes and reads: atomic writes, the cache folder, names inside a folder.

Every file the suite writes is written through :func:`atomic_path` (or :func:`write_atomic`
for text): under a unique temporary name beside its target, flushed to disk, then renamed
into place, so a reader, another worker or a killed process never sees half a file, and a
failure leaves no temporary file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from nasbench_txf.core.errors import DataError
from nasbench_txf.core.safe_json import excerpt, shown


def cache_root() -> Path:
    """Where fitted encodings, surrogates and tokenizers are cached: ``$NASBENCH_TXF_CACHE``
    or ``~/.cache/nasbench-txf``."""
    env = os.environ.get("NASBENCH_TXF_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "nasbench-txf"


def umask() -> int:
    """The process's file-creation mask (read by setting it, and set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path, *, exclusive: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; on leaving the block it is synced and moved
    to ``path``, or removed if the block failed.

    ``exclusive``: never replace an existing ``path`` (the move is a hard link, which fails
    when ``path`` exists); the caller then finds the other writer's file in place. The file
    gets the permissions a plain ``open`` would give it, not ``mkstemp``'s 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        temporary.chmod(0o666 & ~umask())
        if exclusive:
            with suppress(FileExistsError):  # another writer's file is kept
                os.link(temporary, path)
        else:
            temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``path`` whole or not at all (text as UTF-8)."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def contained(folder: Path, name: Any, what: str) -> Path:
    """``folder / name``, where ``name`` is a relative path that stays inside ``folder`` once
    ``..`` and symbolic links are resolved; else a :class:`DataError` naming ``what``. Shared
    folders (tables, surrogates) name their files, and a name must not reach files elsewhere
    (``../../x``, ``/etc/shadow``)."""
    if not isinstance(name, str) or not name or "\0" in name:
        raise DataError(f"{folder}: {what} {shown(name)} is not a file name")
    path = folder / name
    try:
        root, target = folder.resolve(), path.resolve()
        inside = target != root and target.is_relative_to(root)
    except (OSError, RuntimeError):  # a loop of symbolic links
        inside = False
    if not inside:
        raise DataError(f"{folder}: {what} {excerpt(name)} does not lie inside the folder; a shared folder "
                        "names only files of its own")
    return path


def read_text(path: Path) -> str:
    """The text of a file the suite reads; one that is missing, no regular file (a folder, or
    a named pipe that would block the read), unreadable or not UTF-8 is a :class:`DataError`."""
    try:
        if not path.is_file():
            raise DataError(f"{path}: not a file")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from None
