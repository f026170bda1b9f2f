"""`report`: the inventory, judged, as HTML, JSON, CSV or a CycloneDX hardware BOM."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import typer

from vendorscope.cli.application import app
from vendorscope.cli.common import DB_OPTION, err_console, fail, say
from vendorscope.cli.judging import (
    AS_OF_OPTION,
    AUDIENCE_OPTION,
    JURISDICTION_OPTION,
    MODE_OPTION,
    PACKS_OPTION,
    POLICY_OPTION,
    JudgeMode,
    criteria_or_fail,
    parse_day,
)
from vendorscope.report.data import ReportData, build_report, history_points


class ReportFormat(StrEnum):
    html = "html"
    json = "json"
    csv = "csv"
    cyclonedx = "cyclonedx"


def _writer(fmt: ReportFormat) -> Callable[[ReportData, IO[str]], Any]:
    if fmt is ReportFormat.html:
        from vendorscope.report.html import write_html

        return write_html
    if fmt is ReportFormat.json:
        from vendorscope.report.json_report import write_json

        return write_json
    if fmt is ReportFormat.csv:
        from vendorscope.report.csv_report import write_csv

        return write_csv
    from vendorscope.report.cyclonedx_bom import write_bom

    return write_bom


def _write(path: str, render: Callable[[IO[str]], Any]) -> None:
    """Write to ``path`` through a temporary file, so a failed report never leaves half a file."""
    if path == "-":
        render(sys.stdout)
        sys.stdout.flush()
        return
    target = Path(path).expanduser()
    if target.is_dir():
        fail(f"{path}: is a directory")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        fail(f"{path}: no such directory {str(folder)!r}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="") as out:
            render(out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        fail(f"{path}: {exc.strerror or exc}")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _high_risk_vendors() -> frozenset[str]:
    from vendorscope.identify.registry import RegistryError, default_registry

    try:
        registry = default_registry()
    except (RegistryError, OSError) as exc:
        fail(f"vendor registry: {exc}")
    return frozenset(v.id for v in registry.vendors.values() if v.high_risk)


@app.command(rich_help_panel="Report")
def report(
    fmt: ReportFormat = typer.Option(ReportFormat.html, "--format", "-f", help="html, json, csv or cyclonedx."),
    output: str = typer.Option(..., "--output", "-o", help="File to write ('-' for standard output)."),
    db: str = DB_OPTION,
    as_of: str = AS_OF_OPTION,
    policy: list[str] = POLICY_OPTION,
    jurisdiction: list[str] = JURISDICTION_OPTION,
    mode: JudgeMode = MODE_OPTION,
    audience: list[str] = AUDIENCE_OPTION,
    include_clear: bool = typer.Option(False, "--all", help="Also list (and count) clear findings."),
    history: bool = typer.Option(
        True, "--history/--no-history",
        help="Judge every stored snapshot for the burn-down (slower on long histories).",
    ),
    extra: list[Path] = PACKS_OPTION,
) -> None:
    """Write a report: a self-contained HTML page, JSON (docs/report-schema.json), CSV of the
    findings, or a CycloneDX 1.6 hardware BOM of the inventory.

    Examples:

      vendorscope report -o report.html

      vendorscope report --format json -o report.json --as-of 2027-01-01

      vendorscope report --format csv -o findings.csv --policy uk-tsa-huawei-dvd

      vendorscope report --format cyclonedx -o inventory.cdx.json
    """
    day = parse_day(as_of)
    from vendorscope.assess import assess_inventory
    from vendorscope.assess import history as judged_history
    from vendorscope.store.inventory import InventoryError, open_inventory

    criteria = criteria_or_fail(extra, policy, jurisdiction, mode, audience, include_clear)
    high_risk = _high_risk_vendors()
    with err_console.status("reading and judging the inventory…"):
        try:
            with open_inventory(db, create=False) as inv:
                assessment = assess_inventory(inv, criteria, day)
                snapshots = inv.snapshots()
                entries = judged_history(inv, criteria) if history and snapshots else []
        except InventoryError as exc:
            fail(str(exc))
    with err_console.status("building the report…"):
        data = build_report(
            assessment.assets,
            assessment.findings,
            day,
            packs=criteria.packs,
            history=history_points(entries),
            snapshots=snapshots,
            high_risk_vendors=high_risk,
            include_clear=include_clear,
        )
    writer = _writer(fmt)
    with err_console.status(f"writing {fmt.value}…"):
        _write(output, lambda out: writer(data, out))
    if output != "-":
        h = data.headline
        say(
            f"wrote {output}: {fmt.value} report as of {day}, {h.assets} assets, {h.covered} covered, "
            f"{h.review} to review, {h.findings} findings",
            err=True,
        )
