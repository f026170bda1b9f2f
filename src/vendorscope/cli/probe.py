"""`probe`: actively probe the ranges a scope file allows, one row per device."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import IO, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vendorscope.cli.application import app
from vendorscope.cli.collecting import store_and_show
from vendorscope.cli.common import (
    DB_OPTION,
    NO_DB_OPTION,
    OutputFormat,
    err_console,
    fail,
    say,
    write_observations,
    write_rows,
)
from vendorscope.collect.probe.audit import AuditLog
from vendorscope.collect.probe.runner import HostResult, default_concurrency, plan, run_probe
from vendorscope.collect.probe.scope import ScopeError, ScopeViolation, load_scope

AUDIT_NAME = "probe-audit.jsonl"
PLAN_COLUMNS = ("target", "tcp_ports", "udp_ports", "probes")


def default_audit_path(db: str | None) -> Path:
    """probe-audit.jsonl next to a file database, else in the working directory."""
    if db and "://" not in db:
        return Path(db).expanduser().resolve().parent / AUDIT_NAME
    if db and db.startswith("sqlite:///"):
        return Path(db[len("sqlite:///") :]).expanduser().resolve().parent / AUDIT_NAME
    return Path.cwd() / AUDIT_NAME


@app.command(rich_help_panel="Collect")
def probe(
    targets: list[str] = typer.Argument(
        None,
        help="Addresses, CIDRs, ranges (a.b.c.d-e) or host names; default: everything the scope allows.",
        show_default=False,
    ),
    scope_file: Path = typer.Option(
        None, "--scope", "-s", help="Scope file (TOML) listing the ranges you may probe. Required.",
        show_default=False,
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be probed and send nothing."),
    audit_log: Path = typer.Option(
        None, "--audit-log", help=f"Append one JSON line per probe here (default: {AUDIT_NAME} next to the db, "
        "or in the working directory).", show_default=False,
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the device rows to this file."),
    observations_path: Path = typer.Option(
        None, "--observations", help="Also write every observation as JSON lines to this file.",
        show_default=False,
    ),
    db: str = DB_OPTION,
    no_db: bool = NO_DB_OPTION,
    no_deep: bool = typer.Option(False, "--no-deep", help="Skip the read-only vendor endpoints "
                                 "(ISAPI, magicBox, HiLink, Redfish, ONVIF time, TR-064) after the HTTP probe."),
    concurrency: int = typer.Option(
        None, "--concurrency", "-c", min=1, max=65536,
        help="Connections in flight at once (default: from the open-file limit, at most 512).",
        show_default=False,
    ),
) -> None:
    """Probe authorised ranges and name every device's vendor, with the evidence.

    Nothing is sent to an address the scope file does not allow; there is no default
    scope. Every probe is written to the audit log.

    Examples:

      vendorscope probe --scope scope.toml --dry-run

      vendorscope probe --scope scope.toml 192.0.2.0/28 --format jsonl -o devices.jsonl
    """
    if scope_file is None:
        fail("no scope: probing needs --scope FILE naming the ranges you are allowed to examine "
             "(there is no default scope)")
    try:
        scope = load_scope(scope_file)
    except ScopeError as exc:
        fail(str(exc))
    if no_deep:
        scope = dataclasses.replace(scope, deep=False)
    try:
        addresses = scope.expand(targets or ())
    except ScopeViolation as exc:
        fail(f"refused, nothing was sent: {exc}")
    if not addresses:
        fail(f"nothing to probe: no address of {', '.join(targets or ()) or 'the scope'} is allowed by {scope_file}")
    out: IO[str] = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if dry_run:
            _dry_run(scope, addresses, fmt, out)
            return
        _run(scope, addresses, fmt, out, audit_log, observations_path, None if no_db else db,
             concurrency or default_concurrency())
    finally:
        if output:
            out.close()


def _dry_run(scope: Any, addresses: list[str], fmt: OutputFormat, out: IO[str]) -> None:
    hosts = plan(scope, addresses)
    rows = ({"target": h.target, "tcp_ports": list(h.tcp_ports), "udp_ports": list(h.udp_ports),
             "probes": list(h.probes)} for h in hosts)
    write_rows(rows, PLAN_COLUMNS, fmt, out=out, title="dry run: nothing was sent")
    connections = len(hosts) * len(scope.ports)
    say(
        f"dry run: {len(hosts)} hosts, {len(scope.ports)} TCP ports each ({connections} connections at least), "
        f"UDP {list(scope.udp_ports) if scope.snmp else 'none'}; at most {scope.rate:g} new connections/s, "
        f"{scope.per_host} per host, {scope.timeout:g}s per probe. Nothing was sent.",
        err=True,
    )


def _run(
    scope: Any,
    addresses: list[str],
    fmt: OutputFormat,
    out: IO[str],
    audit_path: Path | None,
    observations_path: Path | None,
    db: str | None,
    concurrency: int,
) -> None:
    audit_path = audit_path or default_audit_path(db)
    try:
        audit = AuditLog.open(audit_path)
    except OSError as exc:
        fail(f"{audit_path}: cannot open the audit log ({exc.strerror or exc})")
    progress = Progress(
        TextColumn("[bold]probe"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("hosts"),
        TimeElapsedColumn(),
        console=err_console.real,
        disable=not err_console.is_terminal,
        transient=True,
    )
    task = progress.add_task("probe", total=len(addresses))

    def on_host(result: HostResult) -> None:
        progress.advance(task)

    with audit, progress:
        report = run_probe(scope, addresses, audit, concurrency=concurrency, on_host=on_host)

    def rescue() -> Path:
        fallback = audit_path.with_name(f"probe-observations-{report.run_id}.jsonl")
        write_observations(fallback, report.observations)
        return fallback

    result = store_and_show(
        report.observations, source="probe", db=db, started_at=report.started_at, stats=report.stats,
        fmt=fmt, output=out, title=lambda n: f"{n} devices from {len(addresses)} addresses",
        observations_path=observations_path, rescue=rescue,
        shown=lambda assets: [a for a in assets if a.observations],
    )
    stats = report.stats
    say(
        f"probed {stats['hosts']} hosts in {stats['seconds']}s: {stats['hosts_answering']} answered, "
        f"{stats['probes']} probes, {stats['observations']} observations; audit log: {audit_path}"
        + (f"; snapshot {result.snapshot_id} in {db}" if result.snapshot_id is not None else ""),
        err=True,
    )
