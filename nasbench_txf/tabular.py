"""The tabular benchmark format: measured evaluations of archs, several seeds where measured.

A table is a folder with two files, both plain text so that anyone can read, diff and
publish them (never pickle):

``metadata.json``
    ``format`` ("nasbench-txf table"), ``format_version``, ``space`` ({name, options}),
    ``task``, ``source`` (how the rows were measured: the benchmark's name and options, i.e.
    the training recipe, or where they were imported from), ``metrics`` ([{name, maximize,
    unit, timed}], the first is the objective), ``package_version`` and ``created``.
``rows.jsonl``
    one JSON object per evaluation: ``arch_id``, ``card`` (the space's own card format),
    ``seed``, ``status`` ("ok"/"failed"), ``reason``, ``metrics`` ({name: value}),
    ``cost_seconds`` and ``info``. A live row's ``info.chance_loss`` is the loss its scored
    rows would have under the training label frequencies: a successful row whose ``loss``
    metric is not at least ``CHANCE_MARGIN`` (1%) below it stayed at chance, and counts as a
    failed training, not a measurement of its arch (:attr:`Row.stayed_at_chance`). Rows are
    appended as they are measured, so a build can be stopped at any time; a half-written last
    line (a killed writer) is ignored and cut off before the next append.

Lookup is by (arch, seed); a seed that was not measured for an arch maps to one that was,
deterministically (``seed mod`` the number of measured seeds).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nasbench_txf import __version__
from nasbench_txf.arch import Arch
from nasbench_txf.errors import DataError
from nasbench_txf.result import Metric, Result

FORMAT = "nasbench-txf table"
FORMAT_VERSION = 1
METADATA, ROWS = "metadata.json", "rows.jsonl"
#: how far below the chance loss a row's loss must be for its model to have learned something
CHANCE_MARGIN = 0.01


@dataclass(frozen=True)
class TableMeta:
    """What a table measured and how (see the module docstring for the file format)."""

    space: dict[str, Any]
    task: str
    source: dict[str, Any]
    metrics: tuple[Metric, ...]
    package_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **data,
                "metrics": [asdict(m) for m in self.metrics]}

    @classmethod
    def from_json(cls, data: Any, where: Path) -> TableMeta:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(f"{where}: not a nasbench-txf table (no \"format\": \"{FORMAT}\")")
        version = data.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise DataError(f"{where}: table format version {version!r} is newer than this nasbench-txf reads "
                            f"({FORMAT_VERSION}); upgrade nasbench-txf")
        try:
            metrics = tuple(Metric(**m) for m in data["metrics"])
            meta = cls(space=dict(data["space"]), task=str(data["task"]), source=dict(data["source"]),
                       metrics=metrics, package_version=str(data["package_version"]),
                       created=str(data["created"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{where}: malformed table metadata ({type(exc).__name__}: {exc})") from None
        if not metrics:
            raise DataError(f"{where}: the table names no metrics")
        return meta

    def same_measurement(self, other: TableMeta) -> bool:
        """Whether rows of ``other`` may join this table (same space, task, source, metrics)."""
        return (self.space, self.task, self.source, self.metrics) == (
            other.space, other.task, other.source, other.metrics)


@dataclass(frozen=True)
class Row:
    arch_id: str
    card: dict[str, Any]
    seed: int
    status: str
    reason: str | None
    metrics: dict[str, float]
    cost_seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, arch: Arch, seed: int, result: Result) -> Row:
        return cls(arch.id, arch.card, seed, result.status, result.reason, dict(result.metrics),
                   float(result.cost_seconds), dict(result.info))

    @property
    def stayed_at_chance(self) -> bool:
        """Whether the training ran but its model learned nothing: its loss is within
        ``CHANCE_MARGIN`` of ``info["chance_loss"]``, or above it.

        DESIGN §10: an arch at chance level is a recipe failure, not a property of the arch.
        On the recipe-3 build two runs of cards that trained at their other seeds (84.5% and
        82.7%, 85.2% and 86.1%) predicted one class for every sentence, with a loss equal to
        the label frequencies' to four digits; the next worst run of 446 had a loss 21% below
        it. Counted as measurements, those two runs made the pooled seed noise 3.05 accuracy
        points; left out, it is 0.22.
        """
        chance, loss = self.info.get("chance_loss"), self.metrics.get("loss")
        return self.status == "ok" and chance is not None and loss is not None and loss >= (1 - CHANCE_MARGIN) * chance

    @property
    def measured(self) -> bool:
        """Whether this row measures its arch: the training succeeded and learned something."""
        return self.status == "ok" and not self.stayed_at_chance

    def result(self) -> Result:
        """The row as a benchmark answers it: a row that stayed at chance is a failed training,
        with what it scored kept in its info."""
        if self.stayed_at_chance:
            reason = (f"the training stayed at chance: loss {self.metrics['loss']:.4f}, against "
                      f"{self.info['chance_loss']:.4f} for the training label frequencies")
            return Result.failed(reason, self.cost_seconds, **{**self.info, "scored": dict(self.metrics)})
        return Result(self.metrics, self.cost_seconds, self.status, self.reason, self.info)  # type: ignore[arg-type]


def _parse_row(line: str, number: int, where: Path) -> Row:
    try:
        data = json.loads(line)
        return Row(str(data["arch_id"]), dict(data["card"]), int(data["seed"]), str(data["status"]),
                   data.get("reason"), {str(k): float(v) for k, v in data["metrics"].items()},
                   float(data["cost_seconds"]), dict(data.get("info") or {}))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{where}, line {number}: not a table row ({type(exc).__name__}: {exc})") from None


class Table:
    """A table folder: its metadata and rows, readable and appendable."""

    def __init__(self, folder: Path, meta: TableMeta, rows: list[Row]) -> None:
        self.folder, self.meta, self.rows = folder, meta, rows

    @classmethod
    def read(cls, folder: str | Path) -> Table:
        folder = Path(folder)
        meta_path, rows_path = folder / METADATA, folder / ROWS
        if not meta_path.is_file():
            raise DataError(f"{folder}: not a table folder (no {METADATA})")
        try:
            meta = TableMeta.from_json(json.loads(meta_path.read_text(encoding="utf-8")), meta_path)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{meta_path}: not JSON ({exc})") from None
        return cls(folder, meta, list(read_rows(rows_path)) if rows_path.is_file() else [])

    @classmethod
    def create(cls, folder: str | Path, meta: TableMeta) -> Table:
        """A new table folder, or the existing one when it measured the same thing (resume)."""
        folder = Path(folder)
        if (folder / METADATA).is_file():
            table = cls.read(folder)
            if not table.meta.same_measurement(meta):
                raise DataError(f"{folder} holds a table of another space, task, recipe or metrics; "
                                "give another --out to start a new one")
            return table
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / METADATA, json.dumps(meta.to_json(), indent=2, sort_keys=True) + "\n")
        return cls(folder, meta, [])

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the right to write this table's rows: a second writer (another ``bench
        build`` on the same folder, a ``bench retime`` while a build appends) is refused
        instead of losing or doubling rows. An advisory lock on ``metadata.json``, released
        when the holder exits, killed included."""
        with (self.folder / METADATA).open("rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataError(f"{self.folder}: another nasbench-txf process is writing this table "
                                "(a bench build or bench retime); try again when it has finished") from None
            yield

    def append(self, rows: Iterable[Row]) -> None:
        """Append rows durably (each line flushed and synced as it is written)."""
        path = self.folder / ROWS
        cut_partial_line(path)
        with path.open("a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(row_line(row))
                handle.flush()
                os.fsync(handle.fileno())
                self.rows.append(row)

    def rewrite(self, rows: list[Row]) -> None:
        """Replace every row at once: a crash leaves the old rows or the new, never a mix."""
        try:
            write_atomic(self.folder / ROWS, "".join(row_line(row) for row in rows))
        except OSError as exc:
            raise DataError(f"{self.folder}: cannot write the table's rows ({exc.strerror or exc}); "
                            "nothing was changed") from None
        self.rows = list(rows)

    def done(self) -> set[tuple[str, int]]:
        return {(row.arch_id, row.seed) for row in self.rows}

    def by_arch(self) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for row in self.rows:
            out.setdefault(row.arch_id, []).append(row)
        for rows in out.values():
            rows.sort(key=lambda r: r.seed)
        return out


def row_line(row: Row) -> str:
    return json.dumps(asdict(row), sort_keys=True, allow_nan=False) + "\n"


def read_rows(path: Path) -> Iterator[Row]:
    """Rows of a ``rows.jsonl``; a half-written last line is skipped, any other bad line is an error."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    complete = lines[:-1]  # the part after the last newline is empty, or a half-written row
    for number, line in enumerate(complete, start=1):
        if line.strip():
            yield _parse_row(line, number, path)


def cut_partial_line(path: Path) -> None:
    """Drop a half-written last line so the next append starts on a line of its own."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def write_atomic(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all; an error leaves it (and no temporary file) behind."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with partial.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def lookup(rows_by_arch: Mapping[str, list[Row]], arch: Arch, seed: int) -> Row:
    """The row measured for ``arch`` at ``seed``, or at a measured seed chosen by ``seed``."""
    rows = rows_by_arch.get(arch.id)
    if not rows:
        raise DataError(f"arch {arch.id} is not in the table: {arch.canonical}")
    for row in rows:
        if row.seed == seed:
            return row
    return rows[seed % len(rows)]
