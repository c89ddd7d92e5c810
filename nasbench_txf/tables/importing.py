"""Import published measurements (CSV or JSON Lines of cards and metrics) as a table.

Each input row holds a card in the space's own format — either one ``card`` column with the
card as JSON, or one column per card field (list values as JSON, e.g. ``[128, 256]``) — and
the metric columns named by ``--metric``; optional ``seed`` and ``cost_seconds`` columns, and
``status`` and ``reason`` (what ``bench export`` writes): a row whose status is not ``ok`` is
a failed evaluation, not a measurement, and is skipped like a bad row. Every card is
validated by the space. Bad rows are reported with their line numbers and skipped; the rest
is imported: among them a row whose seed is negative or not a whole number, and a row of the
same card and seed as an earlier one (which of two measurements is meant cannot be told). A
file with no valid row imports nothing.

The file is someone else's: a card given as text is at most :data:`MAX_CARD_CHARS` long and
parsed in linear time, and messages quote only an excerpt of what they refuse.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasbench_txf.core.errors import DataError, OptionError, UserError
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.safe_json import excerpt, parse
from nasbench_txf.core.space import Space
from nasbench_txf.tables.table import Row, Table, TableMeta, check_out_folder, measured, parse_seed, problem

#: the longest card accepted as text (a FlexiBERT card is about 200 characters as JSON)
MAX_CARD_CHARS = 4096
#: how deep lists nest in a card in the papers' notation (a list of per-layer lists is 2)
MAX_NESTING = 4
#: the longest message about one row or the columns (a card's problems can name many fields)
MAX_PROBLEM_CHARS = 300


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
                record = parse(line, f"{path}, line {number}")
                if not isinstance(record, dict):
                    raise DataError(f"{path}, line {number}: expected a JSON object per line")
                yield number, record
        return
    reader = csv.DictReader(text.splitlines())
    try:
        if not reader.fieldnames:
            raise DataError(f"{path}: empty file, expected a CSV header")
        for record in reader:
            yield reader.line_num, {k: v for k, v in record.items() if k is not None}
    except csv.Error as exc:
        raise DataError(f"{path}, line {reader.line_num}: not CSV ({exc})") from None


def _json(text: str) -> Any:
    """``text`` (a card, or a cell of one) as JSON, or ``ValueError``, also for a text longer
    than :data:`MAX_CARD_CHARS`."""
    try:
        return parse(text, "the card", error=DataError, max_chars=MAX_CARD_CHARS)
    except DataError as exc:
        raise ValueError(str(exc)) from None


def _value(text: Any, depth: int = 0) -> Any:
    """A CSV cell as JSON, or in the papers' notation: ``4``, ``[256, 256]``, ``[SDP, SDP]``,
    ``sdp``; lists nest at most :data:`MAX_NESTING` deep (deeper text is kept as it is)."""
    if not isinstance(text, str):
        return text
    text = text.strip()
    try:
        return _json(text)
    except ValueError:
        pass
    if text.startswith("[") and text.endswith("]") and depth < MAX_NESTING:
        return [_value(item.strip().strip("'\""), depth + 1) for item in text[1:-1].split(",") if item.strip()]
    return text


#: ``key: value`` of a card in the papers' notation, the value a ``[...]`` list or text up to
#: the next ``,`` or ``}``. Linear in the card's length: a key starts only where a word does
#: and the quantifiers are possessive, so no part of the text is scanned again from each of
#: its positions (a greedy pattern would be quadratic on a long run of letters).
CARD_ENTRY = re.compile(r"(?<!\w)(\w++)\s*+:\s*+(\[[^\]\[:]*+\]|[^,}]++)")


def _card(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The card of a row: a ``card`` column (JSON, or ``{l: 4, h: [...], ...}`` as the papers
    print it), or one column per card field."""
    if "card" not in record:
        return {name: _value(record[name]) for name in fields}
    card = record["card"]
    if not isinstance(card, str):
        return card
    if len(card) > MAX_CARD_CHARS:
        raise ValueError(f"the card is {len(card):,} characters long, more than the {MAX_CARD_CHARS:,} a card "
                         "can be")
    try:
        return _json(card)
    except ValueError:
        entries = CARD_ENTRY.findall(card)
        if not entries:
            raise ValueError(f"card {excerpt(card)} is neither JSON nor {{key: value, ...}}") from None
        return {key: _value(value) for key, value in entries}


def _shortened(message: str) -> str:
    """``message``, or an excerpt of it when it is longer than :data:`MAX_PROBLEM_CHARS`."""
    return message if len(message) <= MAX_PROBLEM_CHARS else excerpt(message, MAX_PROBLEM_CHARS)


def import_table(path: str | Path, space: Space, metrics: list[Metric], task: str, out: str | Path) -> ImportReport:
    """Import the rows of ``path`` into the table folder ``out`` (new, or a table of the same
    import to add to); what is wrong with the request is refused before the file is read."""
    path, out = Path(path), Path(out)
    try:
        meta = TableMeta(space=space.key(), task=task, source={"imported": path.name}, metrics=tuple(metrics))
    except ValueError as exc:
        raise OptionError(f"--metric: {exc}") from None
    check_out_folder(out)
    records = list(_records(path))
    if not records:
        raise DataError(f"{path}: no rows")
    columns = set(records[0][1])
    missing = [m.name for m in metrics if m.name not in columns]
    if missing:
        raise DataError(f"{path}: no column(s) {', '.join(missing)}; the file has "
                        f"{_shortened(', '.join(sorted(columns)))}")
    not_card = {m.name for m in metrics} | {"seed", "cost_seconds", "status", "reason"}
    fields = [] if "card" in columns else sorted(columns - not_card)
    rows, skipped = [], []
    first_line: dict[tuple[str, int], int] = {}  # the line each (arch, seed) was first read from
    for number, record in records:
        if (status := record.get("status") or "ok") != "ok":
            skipped.append(f"line {number}: " + _shortened(f"not a successful evaluation (status {status}: "
                                                            f"{record.get('reason')})"))
            continue
        try:
            arch = space.arch(_card(record, fields))
            values = {m.name: measured(float(record[m.name]), m.name) for m in metrics}
            seed = parse_seed(record.get("seed") or 0)
            cost = measured(float(record.get("cost_seconds") or 0.0), "cost_seconds")
        except (UserError, ValueError, TypeError, KeyError, OverflowError) as exc:
            skipped.append(f"line {number}: {_shortened(problem(exc))}")
            continue
        if (arch.id, seed) in first_line:
            skipped.append(f"line {number}: the same card and seed {seed} as line {first_line[arch.id, seed]}")
            continue
        first_line[arch.id, seed] = number
        rows.append(Row.of(arch, seed, Result(values, cost, info={"imported_from": path.name})))
    if not rows:
        raise DataError(f"{path}: no valid row; first problems: {'; '.join(skipped[:3])}")
    table = Table.create(out, meta)
    done = table.done()
    table.append(r for r in rows if (r.arch_id, r.seed) not in done)
    return ImportReport(len(rows), skipped)
