"""Shared CLI plumbing: consoles, one-line errors, output formats.

Every value from data reaches the terminal through vendorscope.report.terminal
(no markup, no emoji, control characters escaped), CSV through the one CSV
writer and JSON lines through the one JSON-lines writer.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable, Sequence
from enum import Enum, StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

import typer

from vendorscope.cli import verbosity
from vendorscope.model import Asset, Observation
from vendorscope.report.csv_writer import write_csv_rows
from vendorscope.report.jsonl_writer import json_line
from vendorscope.report.terminal import Column, render_table, safe_console, terminal_text
from vendorscope.store import DEFAULT_DB

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


def certainly_not_a_terminal(stream: IO[str]) -> bool:
    """Whether rich would also find ``stream`` is no terminal (its rules, without importing it):
    TTY_COMPATIBLE=0, FORCE_COLOR empty, or neither variable set and no tty."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "0"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color == ""
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


class LazyConsole:
    """A safe rich Console (see report.terminal.safe_console) made on first use.

    Importing rich and making a console costs about 0.02 s of every start-up, and
    most runs print a line or two to a pipe or file: :meth:`line` writes those
    itself, exactly as rich would (no terminal: no styles, no wrapping), and only
    a terminal, a table or a progress bar makes the real console.
    """

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None
        self._quiet = False

    @property
    def real(self) -> Console:
        if self._console is None:
            self._console = safe_console(stderr=self._stderr)
            self._console.quiet = self._quiet
        return self._console

    @property
    def stream(self) -> IO[str]:
        return sys.stderr if self._stderr else sys.stdout

    @property
    def quiet(self) -> bool:
        return self._quiet if self._console is None else self._console.quiet

    @quiet.setter
    def quiet(self, value: bool) -> None:
        self._quiet = value
        if self._console is not None:
            self._console.quiet = value

    @property
    def is_terminal(self) -> bool:
        if self._console is None and certainly_not_a_terminal(self.stream):
            return False
        return self.real.is_terminal

    def line(self, *parts: tuple[str, str]) -> None:
        """Print one line of ``(text, style)`` parts, the text already made safe (terminal_text)."""
        if self._console is None and certainly_not_a_terminal(self.stream):
            stream = self.stream
            if not self._quiet and stream is not None:  # no stream at all (pythonw): rich writes nowhere too
                stream.write("".join(text for text, _ in parts) + "\n")
            return
        from rich.text import Text

        self.real.print(Text.assemble(*parts), soft_wrap=True)

    def __getattr__(self, name: str) -> Any:  # everything else is the real console's
        return getattr(self.real, name)


# No console reads markup or emoji from what it prints: values from data show as text.
# err_console carries progress and summaries (silent with -q); problem_console errors and warnings.
console = LazyConsole(stderr=False)
err_console = LazyConsole(stderr=True)
problem_console = LazyConsole(stderr=True)

DB_ENV = "VENDORSCOPE_DB"


# --db and --no-db, declared once for every command that reads or writes the inventory.
DB_OPTION = typer.Option(
    DEFAULT_DB, "--db", envvar=DB_ENV, show_envvar=True,
    help="Inventory: a SQLite file or a postgresql:// URL (collecting commands create it).",
)
NO_DB_OPTION = typer.Option(False, "--no-db", help="Do not store anything; just print the devices.")


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


def say(message: str, style: str = "", err: bool = False) -> None:
    """Print one message that may name values from data: shown as text, controls escaped."""
    (err_console if err else console).line((terminal_text(message, None), style))


def say_parts(*parts: tuple[str, str] | str, err: bool = False) -> None:
    """Print one line made of ``(text, style)`` and plain parts, each shown as text (controls escaped)."""
    safe = [(terminal_text(text, None), style) for text, style in ((p, "") if isinstance(p, str) else p for p in parts)]
    (err_console if err else console).line(*safe)


def error(message: str) -> None:
    """Print a one-line error and go on (``fail`` also exits)."""
    problem_console.line(("error: ", "bold red"), (terminal_text(message, None), ""))


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit: users get no tracebacks."""
    error(message)
    raise typer.Exit(code)


def warn(message: str) -> None:
    problem_console.line(("warning: ", "yellow"), (terminal_text(message, None), ""))


def note(message: str, detail: bool = False) -> None:
    """A progress or summary line on stderr: silent with -q; a ``detail`` shows only with -v."""
    if verbosity.quiet() or (detail and not verbosity.verbose()):
        return
    err_console.line((terminal_text(message, None), ""))


def close_match(word: str, known: Iterable[str]) -> str | None:
    """The known word closest to a typo (case ignored), if any is close enough to suggest."""
    by_lower = {k.lower(): k for k in known}
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[found[0]] if found else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a typo close to a known word, else ''."""
    match = close_match(word, known)
    return f" (did you mean {match!r}?)" if match else ""


class HiddenProgress:
    """What a progress bar that is not shown does: nothing (the calls of rich's Progress that commands use)."""

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        return 0

    def update(self, task_id: int, **changes: Any) -> None:
        pass

    def __enter__(self) -> HiddenProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        pass


def byte_progress(description: str, total: int | None, enabled: bool = True) -> Progress:
    """A progress bar by bytes, on stderr, hidden when not a terminal or disabled."""
    if not enabled:
        # rich.progress costs start-up time, and most runs (not a terminal, small input) show no bar.
        return cast("Progress", HiddenProgress())  # the same calls, so callers need not tell them apart
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}", markup=False, style="bold"),  # descriptions name files
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console.real,
        disable=not enabled,
        transient=True,
    )


def dumps(obj: Any) -> str:
    """One JSON document on one line, always valid UTF-8 (the one JSON-lines writer)."""
    return json_line(obj)


# A terminal table shows this many rows and counts the rest (--format jsonl/csv streams them all).
TABLE_ROWS = 100


def write_rows(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: OutputFormat,
    out: IO[str] | None = None,
    title: str | None = None,
    max_rows: int = TABLE_ROWS,
    total: int | None = None,
) -> int:
    """Write rows as a table that fits the terminal, JSON lines or CSV; returns the row count.

    A table keeps only its first ``max_rows`` rows in memory and says how many
    more there were (given as ``total`` when the caller knows it: the rest are then not read);
    JSON lines and CSV stream every row.
    """
    out = out or sys.stdout
    if fmt is OutputFormat.jsonl:
        count = 0
        for row in rows:
            out.write(dumps(row) + "\n")
            count += 1
        return count
    if fmt is OutputFormat.csv:
        return write_csv_rows(({k: _csv_value(row.get(k)) for k in columns} for row in rows), columns, out)
    target = console.real if out is sys.stdout else safe_console(file=out)
    summary = render_table(rows, [table_column(c) for c in columns], target, title=title, max_rows=max_rows,
                           total=total)
    return summary.total


# How each column may be shown in a narrow terminal: lower priority numbers are kept
# longer; addresses and ids are never wrapped.
_UNBREAKABLE = frozenset({"asset", "asset_id", "id", "mac", "ips", "ip", "snapshot", "rule", "policy", "requirement"})
_PRIORITY: dict[str, int] = {
    "asset": 0, "asset_id": 0, "id": 0, "kind": 0, "vendor": 1, "status": 1, "ips": 1, "ip": 1, "value": 1,
    "policy": 2, "requirement": 2, "deadline": 2, "days_left": 2, "product": 2, "mac": 3, "reason": 3,
    "role": 3, "site": 3, "force": 4, "version": 4, "device_type": 4, "confidence": 4, "hostnames": 5,
    "severity": 5, "conflicts": 5, "group": 5, "evidence": 6, "rule": 6,
}


def table_column(key: str) -> Column:
    """How column ``key`` is shown in a terminal table."""
    return Column(
        key=key,
        header=key.replace("_", " "),
        priority=_PRIORITY.get(key, 5),
        unbreakable=key in _UNBREAKABLE,
        numeric=key in ("confidence", "days_left", "count", "observations"),
        min_width=12 if key in ("reason", "value", "evidence", "conflicts") else 6,
    )


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ", ".join(str(v) for v in items)
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


DEVICE_COLUMNS = (
    "asset",
    "mac",
    "ips",
    "hostnames",
    "vendor",
    "product",
    "version",
    "device_type",
    "confidence",
    "evidence",
    "conflicts",
)


def device_row(asset: Asset) -> dict[str, Any]:
    """One device as a row: the shape `pcap` and `probe` print."""
    v = asset.verdict
    return {
        "asset": asset.id,
        "mac": sorted(asset.keys.get("mac", ())) or None,
        "ips": sorted(asset.keys.get("ip", ())),
        "hostnames": sorted(asset.keys.get("hostname", ())),
        "vendor": v.vendor,
        "vendor_name": v.vendor_name,
        "group": v.group,
        "product": v.product,
        "version": v.version,
        "device_type": v.device_type,
        "confidence": v.confidence,
        "evidence": sorted({a.observation.kind for a in asset.attributions if a.observation}),
        "conflicts": [c.detail for c in asset.conflicts],
        "observations": len(asset.observations),
    }


def observation_record(obs: Observation) -> dict[str, Any]:
    """An observation as one flat JSON object: what `--observations FILE` writes.

    Context (frame, file, port, probe id, row) and asset keys sit beside kind and
    value, so the file feeds `vendorscope identify FILE` and jq alike.
    """
    return {
        **obs.context,
        **obs.keys.as_dict(),
        "kind": obs.kind,
        "value": obs.value,
        "source": obs.source,
        "seen_at": obs.seen_at.isoformat() if obs.seen_at else None,
    }


def write_observations(path: Path, observations: Iterable[Observation]) -> None:
    """Write observations as JSON lines; a path that cannot be written is a one-line error."""
    try:
        with path.open("w", encoding="utf-8") as out:
            for obs in observations:
                out.write(dumps(observation_record(obs)) + "\n")
    except OSError as exc:
        fail(f"{path}: cannot write observations: {exc.strerror or exc}")


def vendor_or_fail(text: str, option: str = "--vendor") -> str:
    """The registry's vendor id for ``text`` (an id or a company name), or a one-line error with a suggestion."""
    from vendorscope.identify.registry import RegistryError, default_registry

    try:
        registry = default_registry()
    except (RegistryError, OSError) as exc:
        fail(f"vendor registry: {exc}")
    by_id = {vendor_id.lower(): vendor_id for vendor_id in registry.vendors}
    found = by_id.get(text.strip().lower()) or registry.find_by_name(text)
    if found is not None:
        return found
    names = {name: v.id for v in registry.vendors.values() for name in (v.id, v.name, *v.aliases)}
    match = close_match(text.strip(), names)
    hint = f" (did you mean {names[match]!r}?)" if match else ""
    fail(f"{option} {text!r}: no such vendor{hint}; `vendorscope vendors` lists them")
