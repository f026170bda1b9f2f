"""`demo`: the whole pipeline on the bundled demo data (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path

import typer

from vendorscope.cli.application import app
from vendorscope.cli.common import fail


@app.command(rich_help_panel="Demo")
def demo(
    work: Path = typer.Option(Path("demo-out"), "--work-dir", help="Where the demo keeps its inventory and files."),
    report: Path = typer.Option(Path("demo-report.html"), "--report", help="Where the HTML report goes."),
) -> None:
    """Run the whole pipeline on a fictional operator: identify, capture, lab probe, imports, findings, report.

    Everything it probes is an emulated device on 127.77.0.0/24 (loopback).
    """
    from vendorscope.cli.lab import require_lab_extra

    require_lab_extra()
    from vendorscope.lab.demo import DemoPaths, run_demo

    try:
        run_demo(DemoPaths.under(work, report))
    except RuntimeError as exc:
        fail(str(exc))
