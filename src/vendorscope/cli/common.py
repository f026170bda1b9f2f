"""Shared CLI plumbing: consoles, one-line errors, output formats."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from enum import Enum, StrEnum
from pathlib import Path
from typing import IO, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from vendorscope.model import Asset, Observation
from vendorscope.store import DEFAULT_DB

console = Console()
err_console = Console(stderr=True)


# --db and --no-db, declared once for every command that reads or writes the inventory.
DB_OPTION = typer.Option(
    DEFAULT_DB, "--db", help="Inventory: a SQLite file or a postgresql:// URL (collecting commands create it)."
)
NO_DB_OPTION = typer.Option(False, "--no-db", help="Do not store anything; just print the devices.")


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit: users get no tracebacks."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def byte_progress(description: str, total: int | None, enabled: bool = True) -> Progress:
    """A progress bar by bytes, on stderr, hidden when not a terminal or disabled."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not enabled,
        transient=True,
    )


def json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=json_default)


def write_rows(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: OutputFormat,
    out: IO[str] | None = None,
    title: str | None = None,
) -> int:
    """Write rows as a Rich table, JSON lines or CSV; returns the row count."""
    out = out or sys.stdout
    count = 0
    if fmt is OutputFormat.jsonl:
        for row in rows:
            out.write(dumps(row) + "\n")
            count += 1
    elif fmt is OutputFormat.csv:
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})
            count += 1
    else:
        table = Table(title=title, show_lines=False)
        for col in columns:
            # Long evidence values are cut, not folded: the row stays readable.
            if col in _CUT_COLUMNS:
                table.add_column(col.replace("_", " "), overflow="ellipsis", no_wrap=True, max_width=40)
            else:
                table.add_column(col.replace("_", " "), overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
            count += 1
        Console(file=out).print(table) if out is not sys.stdout else console.print(table)
    return count


_CUT_COLUMNS = frozenset({"value", "reason", "evidence"})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in (sorted(value) if isinstance(value, (set, frozenset)) else value))
    return str(value)


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
