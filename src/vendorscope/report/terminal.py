"""Values from data as terminal text, and tables that fit the terminal.

Every banner, hostname, certificate name, CMDB cell and file name is written by
whoever controls a device or a spreadsheet. This module is the one place that
turns such a value into text for a terminal:

- no Rich markup and no emoji are read from it (``[/]`` and ``:cd:`` stay text);
- control characters (ESC, BEL, NUL, C1) and bidirectional overrides are shown
  visibly escaped (``\\x1b``, ``\\u202e``), so a value cannot clear the screen,
  retitle the terminal or reverse what follows;
- bytes that were not valid UTF-8 (kept as lone surrogates by ``surrogateescape``)
  are shown as ``\\xNN``;
- long values are cut with an ellipsis.

Tables choose their columns by the terminal's width: columns of low priority are
dropped first, addresses and ids are never wrapped, and when too few columns fit
each record is printed as a block of ``name: value`` lines. Only the first rows
are kept in memory; the rest are counted and summarised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported where a console or table is made: start-up time of every command
    from rich.console import Console
    from rich.text import Text

ELLIPSIS = "…"
DEFAULT_MAX_CHARS = 200

def _escape_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_controls(value: str) -> str:
    """``value`` with every character that is not printable written as an escape.

    Python's "printable" excludes controls (Cc), format characters such as the
    bidi overrides and zero-width joiners (Cf), surrogates, unassigned code
    points and every separator but the plain space: exactly what can move the
    cursor, reorder or hide text.
    """
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in value)


def cut(value: str, max_chars: int | None) -> str:
    """``value`` cut to ``max_chars`` characters, the last one an ellipsis when cut."""
    if max_chars is None or len(value) <= max_chars:
        return value
    if max_chars <= 1:
        return ELLIPSIS[:max_chars]
    return value[: max_chars - 1] + ELLIPSIS


def terminal_text(value: object, max_chars: int | None = DEFAULT_MAX_CHARS) -> str:
    """A value from data as one line of safe terminal text (escaped, then cut)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return cut(escape_controls(text), max_chars)


def plain(value: object, max_chars: int | None = DEFAULT_MAX_CHARS, style: str = "") -> Text:
    """A Rich ``Text`` of a value from data: never parsed for markup or emoji."""
    from rich.text import Text

    return Text(terminal_text(value, max_chars), style=style, no_wrap=False)


def safe_console(file: IO[str] | None = None, stderr: bool = False, width: int | None = None) -> Console:
    """A console that reads no markup, emoji or highlighting from what it prints."""
    from rich.console import Console

    return Console(
        file=file,
        stderr=stderr,
        width=width,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=False,
    )


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its key in the row, its header, and how it may be shown.

    ``priority``: lower is more important; columns are dropped from the highest
    priority number down until the rest fit. ``unbreakable`` columns (addresses,
    ids) are never wrapped: they keep their whole width or the column is dropped.
    """

    key: str
    header: str
    priority: int = 5
    min_width: int = 6
    max_width: int | None = None
    unbreakable: bool = False
    numeric: bool = False


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (set, frozenset)):
        value = sorted(str(v) for v in value)
    if isinstance(value, (list, tuple)):
        return ", ".join(terminal_text(v, None) for v in value)
    return terminal_text(value, None)


def _natural_width(column: Column, cells: Sequence[str]) -> int:
    widest = max([len(column.header), *(len(c) for c in cells)]) if cells else len(column.header)
    return min(widest, column.max_width) if column.max_width else widest


def choose_columns(columns: Sequence[Column], rows: Sequence[Mapping[str, str]], width: int) -> list[Column]:
    """The most important columns whose widths (with borders) fit in ``width``.

    Unbreakable columns count at their natural width, others at their minimum;
    a column with no value in any row is dropped first.
    """
    used = [c for c in columns if any(row.get(c.key) for row in rows)] or list(columns[:1])
    while used:
        need = 1 + sum(3 + _planned_width(c, rows) for c in used)
        if need <= width or len(used) == 1:
            return used
        drop = max(used, key=lambda c: (c.priority, columns.index(c)))
        used.remove(drop)
    return used


def _min_width(column: Column) -> int:
    """The narrowest a breakable column gets: its minimum, and never narrower than a word of its header."""
    return max(column.min_width, *(len(word) for word in column.header.split()))


def _planned_width(column: Column, rows: Sequence[Mapping[str, str]]) -> int:
    cells = [row.get(column.key, "") for row in rows]
    natural = _natural_width(column, cells)
    if column.unbreakable:
        return natural
    # Rich wraps at spaces and will not make a column narrower than its longest word.
    longest_word = max((len(word) for cell in cells for word in cell.split()), default=0)
    return min(natural, max(_min_width(column), longest_word))


@dataclass(slots=True)
class TableSummary:
    shown: int
    total: int


def render_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    console: Console,
    title: str | None = None,
    max_rows: int = 200,
    more_hint: str = "use --format jsonl or csv for all rows",
    min_table_columns: int = 3,
    total: int | None = None,
) -> TableSummary:
    """Print rows as a table that fits ``console.width``; returns how many were shown of how many.

    Only the first ``max_rows`` rows are kept; the rest are counted (or, when the caller knows
    their ``total``, not read at all) and a line ``… N more, <hint>`` closes the output. When fewer
    than ``min_table_columns`` columns would fit, each row is printed as a block.
    """
    kept: list[dict[str, str]] = []
    counted = 0
    for row in rows:
        counted += 1
        if len(kept) < max_rows:
            kept.append({c.key: _cell_text(row.get(c.key)) for c in columns})
        elif total is not None:
            break
    total = counted if total is None else max(total, len(kept))
    width = console.width
    chosen = choose_columns(columns, kept, width)
    wanted = [c for c in columns if any(row.get(c.key) for row in kept)]
    if len(chosen) < min(min_table_columns, len(wanted)):
        _print_blocks(kept, wanted, console, title)
    else:
        _print_table(kept, chosen, console, title)
    if total > len(kept):
        from rich.text import Text

        console.print(Text(f"{ELLIPSIS} {total - len(kept):,} more, {more_hint}"))
    return TableSummary(shown=len(kept), total=total)


def column_widths(columns: Sequence[Column], rows: Sequence[Mapping[str, str]], width: int) -> list[int]:
    """Content widths that fit ``width`` (borders and padding included), or the natural ones if they fit.

    Unbreakable columns keep their natural width; the others start at their
    planned minimum and share what is left in proportion to what they lack.
    """
    natural = [_natural_width(c, [row.get(c.key, "") for row in rows]) for c in columns]
    room = width - 1 - 3 * len(columns)
    if sum(natural) <= room:
        return natural
    planned = [_planned_width(c, rows) for c in columns]
    spare = max(0, room - sum(planned))
    lacking = [n - p for n, p in zip(natural, planned, strict=True)]
    total_lack = sum(lacking) or 1
    widths = [p + (spare * lack) // total_lack for p, lack in zip(planned, lacking, strict=True)]
    return widths


def _print_table(
    rows: Sequence[Mapping[str, str]], columns: Sequence[Column], console: Console, title: str | None
) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(terminal_text(title, None)) if title else None, show_lines=False, expand=False)
    for col, col_width in zip(columns, column_widths(columns, rows, console.width), strict=True):
        table.add_column(
            Text(col.header),
            width=col_width,
            no_wrap=col.unbreakable,
            overflow="ignore" if col.unbreakable else "fold",
            justify="right" if col.numeric else "left",
        )
    for row in rows:
        table.add_row(*(Text(row.get(c.key, "")) for c in columns))
    console.print(table)


def _print_blocks(
    rows: Sequence[Mapping[str, str]], columns: Sequence[Column], console: Console, title: str | None
) -> None:
    from rich.text import Text

    if title:
        console.print(Text(terminal_text(title, None), style="bold"))
    label_width = max(len(c.header) for c in columns)
    for index, row in enumerate(rows):
        if index:
            console.print(Text(""))
        for col in columns:
            value = row.get(col.key, "")
            if value:
                line = Text(f"{col.header.rjust(label_width)}: ", style="bold")
                line.append(value)
                console.print(line, overflow="ignore" if col.unbreakable else "fold", crop=False)


def message(template: str, *values: object, max_chars: int | None = DEFAULT_MAX_CHARS) -> str:
    """A message naming values from data, each made safe: ``message("{}: bad row {}", path, row)``."""
    return template.format(*(terminal_text(v, max_chars) for v in values))

