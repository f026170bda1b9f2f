"""Values from data in the terminal, CSV and JSON lines: shown as text, never obeyed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from vendorscope.report.csv_writer import safe_cell, write_csv_rows
from vendorscope.report.jsonl_writer import json_line
from vendorscope.report.terminal import (
    Column,
    choose_columns,
    escape_controls,
    message,
    render_table,
    safe_console,
    terminal_text,
)

PAYLOADS = [
    "[/]",
    "[bold red]x[/]",
    "mac:3c:08:cd:71:82:04",
    "\x1b[2J",
    "\x1b]0;pwned\x07",
    "a\x00b",
    "abc\u202edef",
    "=HYPERLINK(\"http://x\")",
    "</script><script>alert(1)</script>",
    "x" * 10_000,
    b"\xff\xfe bad".decode("utf-8", "surrogateescape"),
]


def _render(rows: list[dict[str, object]], columns: list[Column], width: int = 80, max_rows: int = 50) -> str:
    out = io.StringIO()
    render_table(rows, columns, safe_console(file=out, width=width), max_rows=max_rows)
    return out.getvalue()


def test_controls_and_bidi_are_escaped_visibly() -> None:
    assert escape_controls("\x1b[2J") == "\\x1b[2J"
    assert escape_controls("\x1b]0;t\x07") == "\\x1b]0;t\\x07"
    assert escape_controls("a\u202eb") == "a\\u202eb"
    assert escape_controls("a\x00b") == "a\\x00b"
    assert escape_controls(b"\xff".decode("utf-8", "surrogateescape")) == "\\xff"
    assert escape_controls("华为 Huawei") == "华为 Huawei"


def test_long_values_are_cut_with_an_ellipsis() -> None:
    assert terminal_text("x" * 500, 10) == "x" * 9 + "…"
    assert terminal_text("short", 10) == "short"
    assert terminal_text(None) == ""


def test_message_escapes_each_value() -> None:
    assert message("{}: bad row {}", "missing[/]\x1b.pcap", 3) == "missing[/]\\x1b.pcap: bad row 3"


def test_markup_and_emoji_in_values_print_verbatim() -> None:
    cols = [Column("asset", "asset", priority=0, unbreakable=True), Column("value", "value")]
    text = _render([{"asset": "mac:3c:08:cd:71:82:04", "value": "[bold]x[/] :cd:"}], cols, width=120)
    assert "mac:3c:08:cd:71:82:04" in text
    assert "[bold]x[/] :cd:" in text
    assert "💿" not in text


def test_every_payload_renders_as_text_without_raw_controls() -> None:
    cols = [Column("asset", "asset", priority=0, unbreakable=True), Column("value", "value", priority=1)]
    rows = [{"asset": f"ip:192.0.2.{i}", "value": p} for i, p in enumerate(PAYLOADS)]
    text = _render(rows, cols, width=80)
    for raw in ("\x1b", "\x07", "\x00", "\u202e"):
        assert raw not in text
    assert "\\x1b[2J" in text.replace("\n", "").replace("│", "").replace(" ", "") or "\\x1b" in text
    assert "[/]" in text
    assert "=HYPERLINK" in text.replace("\n", "").replace("│", "").replace(" ", "")


def test_narrow_terminal_drops_low_priority_columns_and_never_breaks_ids() -> None:
    cols = [
        Column("asset", "asset", priority=0, unbreakable=True),
        Column("ip", "ip", priority=1, unbreakable=True),
        Column("vendor", "vendor", priority=1),
        Column("product", "product", priority=3),
        Column("version", "version", priority=4),
        Column("device_type", "device type", priority=4),
        Column("evidence", "evidence", priority=6),
    ]
    row = {
        "asset": "mac:3c:08:cd:71:82:04",
        "ip": "2001:db8:1234:5678:9abc:def0:1234:5678",
        "vendor": "huawei",
        "product": "VRP SSH server",
        "version": "1.5",
        "device_type": "router",
        "evidence": "ssh.banner, snmp.sysdescr, mac",
    }
    text = _render([row], cols, width=80)
    assert "mac:3c:08:cd:71:82:04" in text
    assert "2001:db8:1234:5678:9abc:def0:1234:5678" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    chosen = choose_columns(cols, [{k: str(v) for k, v in row.items()}], 80)
    assert [c.key for c in chosen][:2] == ["asset", "ip"]
    assert "evidence" not in [c.key for c in chosen]


def test_too_narrow_for_a_table_prints_blocks() -> None:
    cols = [Column(k, k, priority=i, unbreakable=(k == "asset")) for i, k in enumerate(("asset", "vendor", "reason"))]
    rows = [{"asset": "serial:ABCDEFGHIJKLMNOP1234", "vendor": "zte", "reason": "covered by pack x " * 3}]
    text = _render(rows, cols, width=30)
    assert "asset: serial:ABCDEFGHIJKLMNOP1234" in text
    assert "vendor: zte" in text


def test_only_the_first_rows_are_kept_and_the_rest_counted() -> None:
    cols = [Column("asset", "asset", priority=0, unbreakable=True)]
    rows = ({"asset": f"ip:198.51.100.{i % 250}"} for i in range(40_000))
    text = _render(list(rows)[:0] or [], cols)  # empty input still prints a header-only table
    assert "asset" in text
    out = io.StringIO()
    summary = render_table(({"asset": f"id{i}"} for i in range(40_000)), cols, safe_console(file=out, width=80),
                           max_rows=50)
    assert (summary.shown, summary.total) == (50, 40_000)
    assert "… 39,950 more" in out.getvalue()


def test_a_known_total_is_not_read_past_the_rows_shown() -> None:
    """A long import's table: the store knows how many devices there are, so the rows after the
    ones shown are not read back at all."""
    cols = [Column("asset", "asset", priority=0, unbreakable=True)]
    read: list[int] = []

    def rows() -> Iterator[dict[str, str]]:
        for i in range(40_000):
            read.append(i)
            yield {"asset": f"id{i}"}

    out = io.StringIO()
    summary = render_table(rows(), cols, safe_console(file=out, width=80), max_rows=50, total=40_000)
    assert (summary.shown, summary.total) == (50, 40_000)
    assert "… 39,950 more" in out.getvalue()
    assert len(read) <= 51


def test_csv_cells_never_run_as_formulas() -> None:
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "＝1+1"):
        assert str(safe_cell(bad)).startswith("'")
    assert safe_cell(0.5) == 0.5
    assert safe_cell(12) == 12
    assert safe_cell("Huawei") == "Huawei"
    out = io.StringIO()
    write_csv_rows([{"a": p, "b": 1} for p in PAYLOADS], ["a", "b"], out)
    back = list(csv.reader(io.StringIO(out.getvalue())))
    assert back[0] == ["a", "b"]
    assert len(back) == len(PAYLOADS) + 1
    for row in back[1:]:
        assert not row[0].startswith(("=", "+", "-", "@"))
    out.getvalue().encode("utf-8")


def test_json_lines_are_valid_utf8_for_undecodable_bytes() -> None:
    bad = b"\xff\xfe".decode("utf-8", "surrogateescape")
    line = json_line({"value": bad, "tags": {bad}, "n": 1})
    line.encode("utf-8")
    assert json.loads(line) == {"value": "\\xff\\xfe", "tags": ["\\xff\\xfe"], "n": 1}


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text())
def test_terminal_text_never_holds_a_control_character(value: str) -> None:
    text = terminal_text(value, None)
    assert all(ch.isprintable() or ch == " " for ch in text), repr(text)
    assert "\u202e" not in text


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=6), st.integers(min_value=20, max_value=140))
def test_tables_fit_the_width_whatever_the_values(values: list[str], width: int) -> None:
    cols = [Column(f"c{i}", f"c{i}", priority=i) for i in range(len(values))]
    text = _render([{f"c{i}": v for i, v in enumerate(values)}], cols, width=width)
    for line in text.splitlines():
        assert cell_len(line) <= width, (width, line)  # display cells, not code points
