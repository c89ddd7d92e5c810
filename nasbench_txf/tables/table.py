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
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nasbench_txf import __version__
from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import DataError
from nasbench_txf.core.files import contained, read_text, write_atomic
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.safe_json import excerpt, parse, shown

FORMAT = "nasbench-txf table"
FORMAT_VERSION = 1
METADATA, ROWS = "metadata.json", "rows.jsonl"
#: how far below the chance loss a row's loss must be for its model to have learned something
CHANCE_MARGIN = 0.01
#: a metric name: it names the surrogate's model files (``<name>.lgb.txt``), so no path
#: separator, no leading dot or dash, and short enough for a file name with its suffixes
METRIC_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
#: names the surrogate keeps for itself beside the table's metrics
RESERVED_NAMES = frozenset({"cost_seconds"})
#: the statuses a row may have
STATUSES = ("ok", "failed")
#: the largest size of a measured number: far above any measurement (FLOPs are about 1e12),
#: far enough below float64's limit that the surrogate's squares and sums stay finite
MAX_MAGNITUDE = 1e100


def check_metric_name(name: Any) -> str:
    """``name`` if it can name a metric, else ``ValueError`` saying why: a table is shared,
    and a metric name that became ``../../x`` in a file name would write outside it."""
    if not isinstance(name, str):
        raise ValueError(f"a metric name is a string, got {type(name).__name__}")
    if not METRIC_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"metric name {excerpt(name)} is not a plain name (letters, digits, '_', '.' and '-', "
                         "not starting with '.' or '-', no '..', at most 100 characters)")
    if name in RESERVED_NAMES:
        raise ValueError(f"metric name {name!r} is reserved (the surrogate's name for the cost)")
    return name


def problem(exc: Exception) -> str:
    """What an error met in a file's fields says: the missing field of a ``KeyError``, else
    its message."""
    return f"no field {exc}" if isinstance(exc, KeyError) else str(exc)


@dataclass(frozen=True)
class TableMeta:
    """What a table measured and how (see the module docstring for the file format)."""

    space: dict[str, Any]
    task: str
    source: dict[str, Any]
    metrics: tuple[Metric, ...]
    package_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        """Refuse, with ``ValueError`` naming the field, what later code would trip over or
        turn into a path: metric names become file names of the surrogate."""
        name, options = self.space.get("name"), self.space.get("options", {})
        if not isinstance(name, str) or not isinstance(options, dict):
            raise ValueError('"space" is {"name": NAME, "options": {...}}')
        if not self.metrics:
            raise ValueError('"metrics" names no metric')
        for i, metric in enumerate(self.metrics):
            try:
                check_metric_name(metric.name)
            except ValueError as exc:
                raise ValueError(f"metrics[{i}]: {exc}") from None
            if not (isinstance(metric.maximize, bool) and isinstance(metric.timed, bool)
                    and isinstance(metric.unit, str)):
                raise ValueError(f"metrics[{i}]: \"maximize\" and \"timed\" are true or false, \"unit\" a string")
        names = [m.name for m in self.metrics]
        if len(set(names)) < len(names):
            raise ValueError(f'"metrics" names a metric twice: {", ".join(names)}')

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
            raise DataError(f"{where}: table format version {shown(version)} is newer than this nasbench-txf reads "
                            f"({FORMAT_VERSION}); upgrade nasbench-txf")
        try:
            return cls(space=dict(data["space"]), task=str(data["task"]), source=dict(data["source"]),
                       metrics=tuple(Metric(**m) for m in data["metrics"]),
                       package_version=str(data["package_version"]), created=str(data["created"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{where}: malformed table metadata ({problem(exc)})") from None

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

        A training at chance level is a failure of the recipe, not a property of the arch:
        the same card trains normally at its other seeds, and a run that learned something
        comes well below the chance loss. Counted as measurements, such runs would swamp the
        seed noise of the whole table.
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
    data = parse(line, f"{where}, line {number}")
    try:
        if not isinstance(data, dict):
            raise TypeError(f"a row is a JSON object, got {type(data).__name__}")
        row = Row(_typed(data, "arch_id", str), _typed(data, "card", dict), parse_seed(data["seed"]),
                  _typed(data, "status", str), data.get("reason"),
                  {k: _number(v, f"metric {excerpt(k)}") for k, v in _typed(data, "metrics", dict).items()},
                  _number(data["cost_seconds"], "cost_seconds"), _typed(data, "info", dict, {}))
        _check_row(row)
        return row
    except (KeyError, ValueError, TypeError) as exc:
        raise DataError(f"{where}, line {number}: not a table row ({problem(exc)})") from None


def _typed(data: Mapping[str, Any], key: str, kind: type, default: Any = ...) -> Any:
    """``data[key]``, which must be of ``kind`` (``TypeError`` naming the field); ``default``
    where the field is missing or null, when one is given (else ``KeyError``)."""
    value = data[key] if default is ... else data.get(key)
    if value is None and default is not ...:
        return default
    if not isinstance(value, kind):
        raise TypeError(f'"{key}" is a {kind.__name__}, got {type(value).__name__}')
    return value


def _number(value: Any, what: str) -> float:
    """``value``, a JSON number, as a float (``TypeError`` naming ``what`` for anything else),
    checked by :func:`measured`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} is a number, got {type(value).__name__}")
    try:
        return measured(float(value), what)
    except OverflowError:
        raise ValueError(f"{what} is too large") from None


def measured(value: float, what: str) -> float:
    """``value`` if a measurement can be it: finite, and at most :data:`MAX_MAGNITUDE` in size
    (a table's writer never stores NaN; a value near float64's limit breaks every fit)."""
    if not (math.isfinite(value) and abs(value) <= MAX_MAGNITUDE):
        raise ValueError(f"{what} is {value!r}, not a finite number of at most {MAX_MAGNITUDE:g} in size")
    return value


def parse_seed(value: Any) -> int:
    """A seed from a row or an imported cell: a whole number that is not negative (an integral
    float such as ``3.0``, or text holding one, as CSV cells are, is taken); else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"the seed is a whole number, got {type(value).__name__}")
    number: int | float = value
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"the seed is a whole number, got {shown(value)}") from None
    if isinstance(number, float):
        if not number.is_integer():
            raise ValueError(f"the seed is a whole number, got {shown(value)}")
        number = int(number)
    if number < 0:
        raise ValueError(f"the seed is not negative, got {number}")
    return number


def _check_row(row: Row) -> None:
    """``TypeError``/``ValueError`` for values of a row that readers of tables interpret: the
    status, the reason, and the info fields ``chance_loss`` and ``splits``."""
    if row.status not in STATUSES:
        raise ValueError(f'"status" is one of {", ".join(STATUSES)}, got {excerpt(row.status)}')
    if row.reason is not None and not isinstance(row.reason, str):
        raise TypeError(f'"reason" is a string or null, got {type(row.reason).__name__}')
    if "chance_loss" in row.info:
        _number(row.info["chance_loss"], "info.chance_loss")
    splits = row.info.get("splits", {})
    if not isinstance(splits, dict) or not all(isinstance(scored, dict) for scored in splits.values()):
        raise TypeError('"info.splits" is {split: {metric: value}}')
    for split, scored in splits.items():
        for metric, value in scored.items():
            _number(value, f"info.splits.{excerpt(split)}.{excerpt(metric)}")


class Table:
    """A table folder: its metadata and rows, readable and appendable."""

    def __init__(self, folder: Path, meta: TableMeta, rows: list[Row]) -> None:
        self.folder, self.meta, self.rows = folder, meta, rows

    @classmethod
    def read(cls, folder: str | Path) -> Table:
        folder = Path(folder)
        if not (folder / METADATA).is_file():
            raise DataError(f"{folder}: not a table folder (no {METADATA})")
        meta_path = contained(folder, METADATA, "the table's metadata")
        meta = TableMeta.from_json(parse(read_text(meta_path), str(meta_path)), meta_path)
        rows_path = folder / ROWS
        if not rows_path.exists() and not rows_path.is_symlink():
            return cls(folder, meta, [])  # a table whose build has measured nothing yet
        return cls(folder, meta, list(read_rows(contained(folder, ROWS, "the table's rows"))))

    @classmethod
    def create(cls, folder: str | Path, meta: TableMeta) -> Table:
        """A new table folder, or the existing one when it measured the same thing (resume)."""
        folder = Path(folder)
        check_out_folder(folder)
        if (folder / METADATA).is_file():
            table = cls.read(folder)
            if not table.meta.same_measurement(meta):
                raise DataError(f"{folder} holds a table of another space, task, recipe or metrics; "
                                "give another --out to start a new one")
            return table
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / METADATA, json.dumps(meta.to_json(), indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            raise DataError(f"{folder}: cannot write the table there ({exc.strerror or exc})") from None
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
    text = read_text(path)
    lines = text.split("\n")
    complete = lines[:-1]  # the part after the last newline is empty, or a half-written row
    for number, line in enumerate(complete, start=1):
        if line.strip():
            yield _parse_row(line, number, path)


def check_out_folder(folder: Path) -> None:
    """Refuse a table folder to write that is not one: a file, or a folder that holds files
    but no table (its files are someone else's, and a ``rows.jsonl`` there would be appended to)."""
    if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
        raise DataError(f"{folder} exists and is not a folder; give a new folder (or a table's) for the table")
    try:
        foreign = folder.is_dir() and not (folder / METADATA).is_file() and any(folder.iterdir())
    except OSError as exc:
        raise DataError(f"{folder}: cannot look into it ({exc.strerror or exc})") from None
    if foreign:
        raise DataError(f"{folder} is a folder that holds files but no table (no {METADATA}); "
                        "give a new or empty folder for the table")


def cut_partial_line(path: Path) -> None:
    """Drop a half-written last line so the next append starts on a line of its own."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def lookup(rows_by_arch: Mapping[str, list[Row]], arch: Arch, seed: int) -> Row:
    """The row measured for ``arch`` at ``seed``, or at a measured seed chosen by ``seed``."""
    rows = rows_by_arch.get(arch.id)
    if not rows:
        raise DataError(f"arch {arch.id} is not in the table: {arch.canonical}")
    for row in rows:
        if row.seed == seed:
            return row
    return rows[seed % len(rows)]
