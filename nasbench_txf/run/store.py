"""The run store: one SQLite file, one row per finished trial.

Every trial is committed in its own transaction the moment it finishes, so a run killed at
any point (SIGKILL included) loses at most the trial in flight; the primary key
``(cell_id, trial)`` makes a duplicate impossible. WAL mode lets several worker processes
append to one store. The view ``runs`` joins each trial with its cell's keys.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from nasbench_txf import __version__
from nasbench_txf.core.arch import canonical_json
from nasbench_txf.core.errors import StoreError
from nasbench_txf.core.files import atomic_path

FORMAT = "nasbench-txf run store"
#: 2 added the simulated start and end of each trial, 3 the benchmark version of each cell,
#: 4 the compute a strategy reported for each trial (older stores are upgraded on open)
SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cells (
    cell_id TEXT PRIMARY KEY,
    key_json TEXT NOT NULL,
    space TEXT NOT NULL, space_options TEXT NOT NULL,
    benchmark TEXT NOT NULL, benchmark_options TEXT NOT NULL, task TEXT,
    strategy TEXT NOT NULL, strategy_options TEXT NOT NULL,
    encoding TEXT, encoding_options TEXT,
    seed INTEGER NOT NULL,
    objective TEXT NOT NULL, maximize INTEGER NOT NULL,
    command TEXT, package_version TEXT NOT NULL, created_at TEXT NOT NULL,
    benchmark_version TEXT
);
CREATE TABLE trials (
    cell_id TEXT NOT NULL REFERENCES cells(cell_id),
    trial INTEGER NOT NULL,
    arch_id TEXT NOT NULL, card TEXT NOT NULL, eval_seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), reason TEXT,
    metrics TEXT NOT NULL, info TEXT NOT NULL,
    cost_seconds REAL NOT NULL, strategy_seconds REAL NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
    sim_start REAL, sim_end REAL,
    reported_seconds REAL,
    PRIMARY KEY (cell_id, trial)
);
CREATE VIEW runs AS
    SELECT c.space, c.space_options, c.benchmark, c.benchmark_options, c.task, c.strategy,
           c.strategy_options, c.encoding, c.encoding_options, c.seed, c.objective, t.*
    FROM trials t JOIN cells c USING (cell_id);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """SQLite's and the file system's failures on ``path`` as one-line :class:`StoreError`\\ s."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            raise StoreError(f"{path} is read-only (or its folder is): {text}") from None
        if "locked" in text or "busy" in text:
            raise StoreError(f"{path} is locked by another process for too long ({text}); try again") from None
        if "unable to open" in text:
            raise StoreError(f"cannot open {path}: its folder is missing or not writable") from None
        raise StoreError(f"{path} is damaged and cannot be read (SQLite: {text}); restore a copy "
                         "or give another --store") from None
    except OSError as exc:
        raise StoreError(f"cannot use {path}: {exc.strerror or exc}") from None
    except (ValueError, RecursionError):  # a stored card, metric or key that no longer parses
        raise StoreError(f"{path} holds a value that is not valid JSON: the store was edited or damaged") from None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a :class:`Store` method with :func:`_sqlite_errors` on its file."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _sqlite_errors(args[0].path):  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


def _connect(path: Path, *, writable: bool) -> sqlite3.Connection:
    """A connection to an existing store file.

    A store that is only read and cannot be written (a read-only file or folder) is opened
    read-only: through its write-ahead log where one exists (a writer is at work), else as
    immutable, since SQLite cannot create the log's index file in a read-only folder.
    """
    if writable or (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    else:
        uri = path.resolve().as_uri()
        mode = "mode=ro" if path.with_name(path.name + "-wal").exists() else "immutable=1"
        conn = sqlite3.connect(f"{uri}?{mode}", uri=True, timeout=60.0, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def _add_column(conn: sqlite3.Connection, table: str, column: str) -> None:
    """Add ``column`` (name and type) to ``table`` unless it has it already."""
    name = column.split()[0]
    if name not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")


def _uninitialised(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0


def _create_file(path: Path) -> None:
    """Create an initialised store at ``path`` atomically: it is built under a temporary name
    and linked into place, so a kill at any moment leaves either no store or a whole one
    (and a store another process created meanwhile is kept)."""
    if path.exists() and path.stat().st_size == 0:  # an empty file holds nothing to lose
        path.unlink()
    with atomic_path(path, exclusive=True) as temporary:
        conn = sqlite3.connect(temporary, isolation_level=None)
        try:
            Store._create(conn)
        finally:
            conn.close()


@dataclass(frozen=True)
class TrialRow:
    """One finished trial as stored."""

    trial: int
    arch_id: str
    card: dict[str, Any]
    eval_seed: int
    status: str
    reason: str | None
    metrics: dict[str, float]
    info: dict[str, Any]
    cost_seconds: float
    strategy_seconds: float
    started_at: str
    finished_at: str
    #: the trial's start and end on the cell's simulated clock (``None`` in schema-1 stores)
    sim_start: float | None = None
    sim_end: float | None = None
    #: seconds of compute the strategy reported for the ask of this trial (its training, for a
    #: one-shot strategy), which the simulated clock counted before the trial
    reported_seconds: float = 0.0


@dataclass(frozen=True)
class CellRow:
    """A cell as stored: its id, its key and its objective."""

    cell_id: str
    key: dict[str, Any]
    objective: str
    maximize: bool
    command: str | None
    #: :attr:`Benchmark.version <nasbench_txf.core.benchmark.Benchmark.version>` when the cell
    #: started (``None`` in stores older than schema 3)
    benchmark_version: str | None = None
    #: the nasbench-txf version that created the cell
    package_version: str | None = None


class Store:
    """A run store file; open it with :meth:`open`.

    Every SQLite failure (a damaged file, a read-only file or folder, a lock held too long)
    reaches the caller as a :class:`StoreError` naming the file, never as an SQLite traceback.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> Store:
        """Open (or, with ``create``, create) a store; anything that is not a store is refused
        untouched. Without ``create`` the store is only read, so a store in a read-only
        folder can still be shown."""
        path = Path(path)
        with _sqlite_errors(path):
            return cls._open(path, create)

    @classmethod
    def _open(cls, path: Path, create: bool) -> Store:
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a run store file")
        size = path.stat().st_size if path.exists() else None
        if not size:
            if not create:
                what = "is an empty file" if size == 0 else "does not exist"
                raise StoreError(f"{path} {what}, not a nasbench-txf run store")
            _create_file(path)
        cls._check_header(path)
        if create and not os.access(path, os.W_OK):
            raise StoreError(f"{path} is read-only; a run cannot add trials to it (give another --store)")
        sidecars = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        absent = [p for p in sidecars if not p.exists()]
        conn = _connect(path, writable=create)
        try:
            if create and _uninitialised(conn):  # left by a kill of an older version mid-creation
                cls._create(conn)
            cls._check_meta(path, conn)
            if create:
                cls._upgrade(conn)
            elif cls._schema_version(conn) < SCHEMA_VERSION:
                raise StoreError(f"{path} has an older store schema; open it once in a writable folder "
                                 "(e.g. with `nasbench-txf leaderboard show`) to upgrade it")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            if all(not p.exists() or p.stat().st_size == 0 or p.name.endswith("-shm") for p in absent):
                for sidecar in absent:  # SQLite's empty scratch files from this refused open
                    sidecar.unlink(missing_ok=True)
            raise
        return cls(path, conn)

    @staticmethod
    def _check_header(path: Path) -> None:
        with path.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise StoreError(f"{path} is not a nasbench-txf run store (not an SQLite file)")

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int:
        (text,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() or ("0",)
        try:
            return int(text)
        except ValueError:
            raise StoreError(f"its schema version {text!r} is not a number (the meta table was edited)") from None

    @classmethod
    def _check_meta(cls, path: Path, conn: sqlite3.Connection) -> None:
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            meta = {}
        if meta.get("format") != FORMAT:
            raise StoreError(f"{path} is an SQLite file but not a nasbench-txf run store")
        try:
            version = cls._schema_version(conn)
        except StoreError as exc:
            raise StoreError(f"{path}: {exc}") from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} was written by a newer nasbench-txf (store schema {version}, this "
                f"version reads up to {SCHEMA_VERSION}); upgrade nasbench-txf"
            )
        if version < 1:
            raise StoreError(f"{path}: its schema version {version} is not one nasbench-txf wrote")

    @classmethod
    def _upgrade(cls, conn: sqlite3.Connection) -> None:
        """Bring an older store to this schema in one transaction (nothing stored is changed)."""
        if cls._schema_version(conn) == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = cls._schema_version(conn)
            if version < 2:
                _add_column(conn, "trials", "sim_start REAL")
                _add_column(conn, "trials", "sim_end REAL")
            if version < 3:
                _add_column(conn, "cells", "benchmark_version TEXT")
            if version < 4:
                _add_column(conn, "trials", "reported_seconds REAL")
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                conn.execute("ROLLBACK")  # another process created it meanwhile
                return
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)),
                 ("created_by", f"nasbench-txf {__version__}"), ("created_at", now())],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- meta --------------------------------------------------------------------------------
    @_guarded
    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @_guarded
    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- cells -------------------------------------------------------------------------------
    _CELL_COLUMNS = "cell_id, key_json, objective, maximize, command, benchmark_version, package_version"

    @staticmethod
    def _cell_row(r: sqlite3.Row) -> CellRow:
        return CellRow(r["cell_id"], json.loads(r["key_json"]), r["objective"], bool(r["maximize"]),
                       r["command"], r["benchmark_version"], r["package_version"])

    @_guarded
    def cells(self) -> list[CellRow]:
        rows = self._conn.execute(f"SELECT {self._CELL_COLUMNS} FROM cells ORDER BY created_at, cell_id")
        return [self._cell_row(r) for r in rows.fetchall()]

    @_guarded
    def cell(self, cell_id: str) -> CellRow | None:
        row = self._conn.execute(f"SELECT {self._CELL_COLUMNS} FROM cells WHERE cell_id = ?", (cell_id,)).fetchone()
        return None if row is None else self._cell_row(row)

    @_guarded
    def add_cell(self, cell_id: str, key: Mapping[str, Any], objective: str, maximize: bool,
                 command: str | None, benchmark_version: str | None = None) -> None:
        """Record a cell (no-op when it is already there)."""
        enc = key.get("encoding")
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO cells VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    cell_id, canonical_json(key),
                    key["space"]["name"], canonical_json(key["space"]["options"]),
                    key["benchmark"]["name"], canonical_json(key["benchmark"]["options"]),
                    key["benchmark"]["task"],
                    key["strategy"]["name"], canonical_json(key["strategy"]["options"]),
                    enc["name"] if enc else None, canonical_json(enc["options"]) if enc else None,
                    key["seed"], objective, int(maximize), command, __version__, now(),
                    benchmark_version,
                ),
            )

    # -- trials ------------------------------------------------------------------------------
    @_guarded
    def trials(self, cell_id: str) -> list[TrialRow]:
        rows = self._conn.execute(
            "SELECT * FROM trials WHERE cell_id = ? ORDER BY trial", (cell_id,)
        ).fetchall()
        return [
            TrialRow(
                trial=r["trial"], arch_id=r["arch_id"], card=json.loads(r["card"]),
                eval_seed=r["eval_seed"], status=r["status"], reason=r["reason"],
                metrics=json.loads(r["metrics"]), info=json.loads(r["info"]),
                cost_seconds=r["cost_seconds"], strategy_seconds=r["strategy_seconds"],
                started_at=r["started_at"], finished_at=r["finished_at"],
                sim_start=r["sim_start"], sim_end=r["sim_end"], reported_seconds=r["reported_seconds"] or 0.0,
            )
            for r in rows
        ]

    @_guarded
    def count_trials(self, cell_ids: list[str] | None = None) -> int:
        if cell_ids is None:
            return int(self._conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
        marks = ",".join("?" * len(cell_ids))
        query = f"SELECT COUNT(*) FROM trials WHERE cell_id IN ({marks})"
        return int(self._conn.execute(query, cell_ids).fetchone()[0])

    @_guarded
    def add_trial(self, cell_id: str, row: TrialRow) -> None:
        """Append one finished trial; its number must be the next one for its cell."""
        with self._transaction() as conn:
            (expected,) = conn.execute(
                "SELECT COUNT(*) FROM trials WHERE cell_id = ?", (cell_id,)
            ).fetchone()
            if row.trial != expected:
                raise StoreError(
                    f"{self.path}: cell {cell_id} has {expected} trials; refusing to write "
                    f"trial {row.trial} (is another process running the same cell?)"
                )
            conn.execute(
                "INSERT INTO trials VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    cell_id, row.trial, row.arch_id, canonical_json(row.card), row.eval_seed,
                    row.status, row.reason, canonical_json(row.metrics),
                    canonical_json(row.info), row.cost_seconds, row.strategy_seconds,
                    row.started_at, row.finished_at, row.sim_start, row.sim_end, row.reported_seconds,
                ),
            )
