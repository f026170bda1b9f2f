"""The one CSV writer for every CSV output (reports, tables, exports).

Cells are hostile input. As OWASP's CSV-injection guidance recommends, a cell
that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``,
``@``, a tab, a carriage return or a line feed, or their full-width forms
``＝ ＋ － ＠``) is prefixed with ``'`` and so is read as text; the csv module
then quotes every cell that holds a separator, a quote or a line break.
Numbers that vendorscope writes itself (confidence, days left) are not text
from data and are left alone. Bytes that were not valid UTF-8 are written as
``\\xNN`` so the file is always valid UTF-8.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def utf8_text(value: str) -> str:
    """``value`` as text any UTF-8 file can hold: bytes kept by ``surrogateescape`` become ``\\xNN``."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def safe_cell(value: Any) -> str | int | float:
    """One cell: numbers as they are, text with formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (set, frozenset)):
        value = " ".join(sorted(str(v) for v in value))
    elif isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    text = utf8_text(str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], out: IO[str]) -> int:
    """Write a header and one line per row (only ``columns``, in order); returns the row count."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
        count += 1
    return count
