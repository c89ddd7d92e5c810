"""JSON from untrusted text (cards, table files, import rows) that fails with a message.

The standard parser raises ``RecursionError`` on deeply nested input and accepts texts of
any size; both reach users as tracebacks or as minutes of work. :func:`parse` bounds the
size, turns every parse failure into the caller's error type and never echoes more than a
short excerpt of the input.
"""

from __future__ import annotations

import json
from typing import Any

from nasbench_txf.core.errors import DataError, UserError

#: the longest text parsed by default (a card or a metadata file is far smaller)
MAX_CHARS = 10_000_000
#: how much of a bad input a message quotes
EXCERPT = 60


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """``text`` quoted, cut to ``limit`` characters with its full length said when longer."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


def shown(value: Any) -> str:
    """``value`` as a message quotes it (its ``repr``), cut short as :func:`excerpt` cuts a
    text: a value from a file can be any size."""
    if isinstance(value, str):
        return excerpt(value)
    text = repr(value)
    return text if len(text) <= EXCERPT else f"{text[:EXCERPT]}… ({len(text):,} characters)"


def parse(text: str | bytes, what: str, error: type[UserError] = DataError, max_chars: int = MAX_CHARS) -> Any:
    """``text`` as JSON; ``what`` names it in the message of ``error`` when it is not valid JSON,
    too long, or nested too deeply for the parser."""
    if len(text) > max_chars:
        raise error(f"{what}: {len(text):,} characters, more than the {max_chars:,} accepted")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise error(f"{what} is nested too deeply to be read as JSON") from None
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise error(f"{what} is not valid JSON ({exc})") from None
