"""JSON lines that are always valid UTF-8, whatever the values hold.

Values decoded with ``surrogateescape`` keep bytes that were not UTF-8 as lone
surrogates, which no UTF-8 file can hold; they are written as the text ``\\xNN``
(the same spelling the terminal uses), so every line parses.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import IO, Any

from vendorscope.report.csv_writer import utf8_text


def json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return utf8_text(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [_clean(v) for v in sorted(value, key=str)]
    return value


def json_line(obj: Any) -> str:
    """One JSON document on one line, valid UTF-8 (no trailing newline)."""
    try:
        text = json.dumps(obj, ensure_ascii=False, default=json_default)
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return json.dumps(_clean(obj), ensure_ascii=False, default=json_default)


def write_jsonl(rows: Any, out: IO[str]) -> int:
    count = 0
    for row in rows:
        out.write(json_line(row) + "\n")
        count += 1
    return count
