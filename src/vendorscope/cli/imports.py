"""`vendorscope import KIND FILE...`: nmap XML, inventory tables, SBOMs, scan data, NetBox.

Each importer yields observations; they stream through the same pipeline as
every collector (identify → resolve → store, batch by batch, so memory stays
flat however large the input) and the command prints one device table.
Bad records are warned about one line each (the first few) and skipped;
``--strict`` makes the first one fail the import with nothing written.
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from itertools import chain
from pathlib import Path

import typer

from vendorscope.cli import verbosity
from vendorscope.cli.application import app
from vendorscope.cli.collecting import store_and_show
from vendorscope.cli.common import (
    DB_OPTION,
    NO_DB_OPTION,
    OutputFormat,
    byte_progress,
    err_console,
    fail,
    note,
    say,
    warn,
)
from vendorscope.collect.imports.common import (
    BadRecord,
    Collector,
    ImportFailure,
    StrictAbort,
    source_name,
)
from vendorscope.collect.imports.readers import read_file
from vendorscope.model import Observation

MAX_SHOWN = 20
TOKEN_ENV = "VENDORSCOPE_NETBOX_TOKEN"
PROGRESS_MIN_BYTES = 4 << 20
# Without a terminal, a long import says how far it got every this many observations.
PROGRESS_LINE_EVERY = 200_000


class ImportKind(StrEnum):
    nmap = "nmap"
    table = "table"
    sbom = "sbom"
    scandata = "scandata"
    netbox = "netbox"


class _Warnings:
    """Prints the first bad records as they come (all of them with -v), counts the rest.

    The very first is held back until another record or the end: when it is the
    only thing an import produced, it becomes the import's one-line error instead.
    """

    def __init__(self) -> None:
        self.shown = 0
        self.hidden = 0
        self.held: BadRecord | None = None

    def __call__(self, record: BadRecord) -> None:
        if self.held is None and self.shown == 0 and self.hidden == 0:
            self.held = record
            return
        self.flush()
        self._show(record)

    def _show(self, record: BadRecord) -> None:
        if self.shown < MAX_SHOWN or verbosity.verbose():
            self.shown += 1
            warn(str(record))
        else:
            self.hidden += 1

    def flush(self) -> None:
        if self.held is not None:
            record, self.held = self.held, None
            self._show(record)


class _Progress:
    """A byte progress bar on a terminal (long imports only, never with -q); elsewhere a line now and then."""

    def __init__(self, kind: ImportKind, total: int) -> None:
        self.label = f"import {kind.value}"
        self.bar = byte_progress("import", total, enabled=total >= PROGRESS_MIN_BYTES and err_console.is_terminal
                                 and not verbosity.quiet())
        self.task = self.bar.add_task(self.label, total=total)
        self.lines = not err_console.is_terminal
        self.next_line = PROGRESS_LINE_EVERY

    def read(self, n: int) -> None:
        self.bar.update(self.task, advance=n)

    def stored(self, observations: int, devices: int) -> None:
        self.bar.update(self.task, description=f"{self.label}: {devices:,} devices")
        if self.lines and observations >= self.next_line:
            self.next_line = observations + PROGRESS_LINE_EVERY
            note(f"{self.label}: {observations:,} observations, {devices:,} devices stored so far")


def _collect_files(kind: ImportKind, paths: list[Path], collector: Collector, now: datetime,
                   mapping: dict[str, str] | None, sheet: str | None, progress: _Progress) -> Iterator[Observation]:
    for path in paths:
        source = source_name(kind.value, path.name)
        try:
            yield from read_file(kind.value, path, source, collector, now, mapping, sheet, progress.read)
        except (StrictAbort, ImportFailure, GeneratorExit):
            raise
        except (EOFError, zlib.error) as exc:
            collector.bad(str(path), "", f"compressed data ends early or is damaged ({exc}); "
                          "the records before it were read")
        except OSError as exc:
            collector.bad(str(path), "", f"cannot read: {exc.strerror or exc}")
        except Exception as exc:  # a parser bug must not become a traceback; the file is reported
            collector.bad(str(path), "", f"unexpected {type(exc).__name__}: {exc}")


@app.command("import", rich_help_panel="Collect")
def import_(
    kind: ImportKind = typer.Argument(..., help="What the input is: nmap, table, sbom, scandata or netbox."),
    inputs: list[str] = typer.Argument(
        ..., help="Files to import (gzip is read too); for netbox the server URL.", show_default=False
    ),
    db: str = DB_OPTION,
    no_db: bool = NO_DB_OPTION,
    strict: bool = typer.Option(False, "--strict", help="Any bad record fails the whole import; nothing is written."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the device table to this file."),
    observations_file: Path = typer.Option(
        None, "--observations", help="Also write every observation as JSON lines to this file."
    ),
    mapping_text: str = typer.Option(
        None, "--map", help="table: name columns, e.g. manufacturer=Hersteller,hostname=Gerätename."
    ),
    sheet: str = typer.Option(None, "--sheet", help="table: the XLSX sheet to read (default: every sheet "
                              "with a recognisable header)."),
    token: str = typer.Option(None, "--token", help=f"netbox: API token (or set {TOKEN_ENV})."),
    verify_tls: bool = typer.Option(True, "--verify-tls/--no-verify-tls", help="netbox: check the server's "
                                    "TLS certificate."),
    recorded_at: datetime = typer.Option(
        None, "--recorded-at", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
        help="When the data describes the network (e.g. the date of an inventory export); default: now.",
    ),
    source_label: str = typer.Option(
        None, "--source", help="Name of this source in the inventory. A later snapshot of the same source "
        "replaces the earlier one in the current view (default: kind and file names).",
    ),
) -> None:
    """Import devices from nmap XML, inventories, SBOMs, internet-scan data or NetBox.

    Examples:

      vendorscope import nmap scan.xml

      vendorscope import table cmdb.xlsx --sheet Devices --map manufacturer=Hersteller

      vendorscope import sbom camera.cdx.json firmware.spdx.json

      vendorscope import scandata shodan-export.json.gz --no-db --format csv -o devices.csv

      vendorscope import netbox https://netbox.example --token $TOKEN
    """
    now = datetime.now(UTC)
    if recorded_at is not None:
        now = recorded_at if recorded_at.tzinfo else recorded_at.replace(tzinfo=UTC)
    if kind is not ImportKind.table and (mapping_text or sheet):
        fail("--map and --sheet apply to `import table` only")
    if kind is not ImportKind.netbox and token:
        fail("--token applies to `import netbox` only")
    mapping: dict[str, str] | None = None
    if mapping_text:
        from vendorscope.collect.imports.table import parse_mapping

        try:
            mapping = parse_mapping(mapping_text)
        except ValueError as exc:
            fail(str(exc))
    warnings = _Warnings()
    collector = Collector(strict=strict, on_bad=warnings)
    paths: list[Path] = [] if kind is ImportKind.netbox else _check_files(inputs)
    progress = _Progress(kind, sum(p.stat().st_size for p in paths))
    stats: dict[str, object] = {"kind": kind.value, "inputs": len(inputs), "records": 0, "bad_records": 0}

    def finished() -> None:
        # At the end of the stream, before the snapshot is marked complete: its stats are final.
        stats.update(records=collector.records, bad_records=collector.bad_count)
        warnings.flush()

    with progress.bar:
        try:
            if kind is ImportKind.netbox:
                stream, source = _collect_netbox(inputs, token, verify_tls, collector, now)
            else:
                stream = _collect_files(kind, paths, collector, now, mapping, sheet, progress)
                names = ",".join(p.name for p in paths)
                source = source_name(kind.value, names if len(names) <= 200 else f"{paths[0].name}+{len(paths) - 1}")
            if source_label:
                source = source_name(kind.value, source_label)
            first = next(stream, None)
        except StrictAbort as exc:
            fail(f"{exc.record} (--strict: nothing was written)", code=1)
        except ImportFailure as exc:
            fail(str(exc))
        if warnings.held is not None and first is None and not collector.records:
            # Nothing could be read at all (e.g. `import nmap` of a file that is not nmap XML): store no empty snapshot.
            fail(f"{warnings.held}; nothing was stored", code=1)
        observations = _then(chain(() if first is None else (first,), stream), finished)
        try:
            result = store_and_show(
                observations, source=source, db=None if no_db else db, started_at=now, stats=stats, fmt=fmt,
                output=output, title=lambda n: f"{kind.value} import: {n} devices",
                observations_path=observations_file, passthrough=(StrictAbort, ImportFailure),
                progress=progress.stored,
            )
        except StrictAbort as exc:
            fail(f"{exc.record} (--strict: nothing was written)", code=1)
        except ImportFailure as exc:
            fail(str(exc))
    _summary(kind, inputs, collector, warnings, result.observations, result.asset_count, result.identified,
             result.snapshot_id, None if no_db else db)
    if collector.bad_count:
        raise typer.Exit(1)


def _then(observations: Iterator[Observation], done: Callable[[], None]) -> Iterator[Observation]:
    yield from observations
    done()


def _check_files(inputs: list[str]) -> list[Path]:
    paths = []
    for text in inputs:
        path = Path(text)
        if not path.exists():
            fail(f"{text}: no such file")
        if path.is_dir():
            fail(f"{text}: is a directory")
        paths.append(path)
    return paths


def _collect_netbox(inputs: list[str], token: str | None, verify: bool, collector: Collector,
                    now: datetime) -> tuple[Iterator[Observation], str]:
    if len(inputs) != 1:
        fail("import netbox takes one server URL, e.g. https://netbox.example")
    url = inputs[0]
    if not url.startswith(("http://", "https://")):
        fail(f"{url}: a NetBox URL starts with http:// or https://")
    token = token or os.environ.get(TOKEN_ENV) or None
    if token is None:
        warn(f"no --token and no {TOKEN_ENV}: trying NetBox without authentication")
    from vendorscope.collect.imports.netbox import read_netbox

    host = url.split("://", 1)[1].rstrip("/")
    source = source_name("netbox", host)
    return iter(read_netbox(url, token, source, collector, now, verify=verify)), source


def _summary(kind: ImportKind, inputs: list[str], collector: Collector, warnings: _Warnings, observations: int,
             devices: int, identified: int, snapshot: int | None, db: str | None) -> None:
    if warnings.hidden:
        warn(f"{warnings.hidden} more bad records not shown")
    what = "server" if kind is ImportKind.netbox else ("file" if len(inputs) == 1 else "files")
    count = "" if kind is ImportKind.netbox else f"{len(inputs)} "
    parts = [f"import {kind.value}: {count}{what}, {collector.records:,} records, {observations:,} observations, "
             f"{devices:,} devices ({identified:,} with a vendor)"]
    if collector.bad_count:
        parts.append(f"{collector.bad_count:,} bad records skipped")
    if db:
        parts.append(f"snapshot {snapshot} stored in {db}" if snapshot is not None else f"stored in {db}")
    else:
        parts.append("nothing stored (--no-db)")
    say("; ".join(parts), err=True)
    sys.stderr.flush()
