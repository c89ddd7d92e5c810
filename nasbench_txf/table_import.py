"""Import published measurements (CSV or JSON Lines of cards and metrics) as a table.

Each input row holds a card in the space's own format — either one ``card`` column with the
card as JSON, or one column per card field (list values as JSON, e.g. ``[128, 256]``) — and
the metric columns named by ``--metric``; optional ``seed`` and ``cost_seconds`` columns, and
``status`` and ``reason`` (what ``bench export`` writes): a row whose status is not ``ok`` is
a failed evaluation, not a measurement, and is skipped like a bad row. Every card is
validated by the space. Bad rows are reported with their line numbers and skipped; the rest
is imported. A file with no valid row imports nothing.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasbench_txf.errors import DataError, UserError
from nasbench_txf.result import Metric, Result
from nasbench_txf.space import Space
from nasbench_txf.tabular import Row, Table, TableMeta


@dataclass(frozen=True)
class ImportReport:
    imported: int
    skipped: list[str]


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    if path.suffix in (".jsonl", ".json", ".ndjson"):
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}, line {number}: not JSON ({exc.msg}); expected JSON Lines") from None
                if not isinstance(record, dict):
                    raise DataError(f"{path}, line {number}: expected a JSON object per line")
                yield number, record
        return
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise DataError(f"{path}: empty file, expected a CSV header")
    for number, record in enumerate(reader, start=2):
        yield number, {k: v for k, v in record.items() if k is not None}


def _value(text: Any) -> Any:
    """A CSV cell as JSON, or in the papers' notation: ``4``, ``[256, 256]``, ``[SDP, SDP]``, ``sdp``."""
    if not isinstance(text, str):
        return text
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if text.startswith("[") and text.endswith("]"):
        return [_value(item.strip().strip("'\"")) for item in text[1:-1].split(",") if item.strip()]
    return text


CARD_ENTRY = re.compile(r"(\w+)\s*:\s*(\[[^\]]*\]|[^,}]+)")


def _card(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The card of a row: a ``card`` column (JSON, or ``{l: 4, h: [...], ...}`` as the papers
    print it), or one column per card field."""
    if "card" not in record:
        return {name: _value(record[name]) for name in fields}
    card = record["card"]
    if not isinstance(card, str):
        return card
    try:
        return json.loads(card)
    except json.JSONDecodeError:
        entries = CARD_ENTRY.findall(card)
        if not entries:
            raise ValueError(f"card {card!r} is neither JSON nor {{key: value, ...}}") from None
        return {key: _value(value) for key, value in entries}


def import_table(path: str | Path, space: Space, metrics: list[Metric], task: str, out: str | Path) -> ImportReport:
    path = Path(path)
    records = list(_records(path))
    if not records:
        raise DataError(f"{path}: no rows")
    columns = set(records[0][1])
    missing = [m.name for m in metrics if m.name not in columns]
    if missing:
        raise DataError(f"{path}: no column(s) {', '.join(missing)}; the file has {', '.join(sorted(columns))}")
    not_card = {m.name for m in metrics} | {"seed", "cost_seconds", "status", "reason"}
    fields = [] if "card" in columns else sorted(columns - not_card)
    rows, skipped = [], []
    for number, record in records:
        if (status := record.get("status") or "ok") != "ok":
            skipped.append(f"line {number}: not a successful evaluation (status {status}: {record.get('reason')})")
            continue
        try:
            arch = space.arch(_card(record, fields))
            values = {m.name: float(record[m.name]) for m in metrics}
            if not all(math.isfinite(v) for v in values.values()):
                raise ValueError("a metric is not a finite number")
            seed = int(record.get("seed") or 0)
            cost = float(record.get("cost_seconds") or 0.0)
        except (UserError, ValueError, TypeError, KeyError) as exc:
            skipped.append(f"line {number}: {exc}")
            continue
        rows.append(Row.of(arch, seed, Result(values, cost, info={"imported_from": path.name})))
    if not rows:
        raise DataError(f"{path}: no valid row; first problems: {'; '.join(skipped[:3])}")
    meta = TableMeta(space=space.key(), task=task, source={"imported": path.name}, metrics=tuple(metrics))
    table = Table.create(out, meta)
    done = table.done()
    table.append(r for r in rows if (r.arch_id, r.seed) not in done)
    return ImportReport(len(rows), skipped)
