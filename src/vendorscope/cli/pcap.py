"""`pcap`: passive discovery: every device seen in packet captures, with its evidence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import typer

from vendorscope.cli.application import app
from vendorscope.cli.collecting import store_and_show
from vendorscope.cli.common import (
    DB_OPTION,
    NO_DB_OPTION,
    OutputFormat,
    byte_progress,
    dumps,
    err_console,
    error,
    fail,
    observation_record,
    say,
    warn,
)
from vendorscope.collect.pcap import NotACaptureError, SkipReport, read_observations
from vendorscope.collect.pcap.parallel import default_jobs
from vendorscope.model import Observation

_MAX_REPORT_LINES = 10


def _check_files(files: list[Path]) -> None:
    for path in files:
        if not path.exists():
            fail(f"{path}: no such file")
        if path.is_dir():
            fail(f"{path}: is a directory, not a capture")


@app.command(rich_help_panel="Collect")
def pcap(
    files: list[Path] = typer.Argument(..., help="pcap or pcapng captures (.gz too).", show_default=False),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="How to print the devices."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the devices to this file."),
    observations: Path = typer.Option(
        None, "--observations", help="Write every observation (JSON lines, with frame numbers) to this file."
    ),
    db: str = DB_OPTION,
    no_db: bool = NO_DB_OPTION,
    jobs: int = typer.Option(
        None, "--jobs", "-j", min=1,
        help="Processes per large uncompressed pcapng file (default: one per core, at most 4).",
    ),
) -> None:
    """Find every device in packet captures, passively: its vendor and the frames that prove it.

    Reads the files in constant memory and sends no packet. Frames that cannot
    be read are skipped and reported at the end; nothing read before them is lost.

    Examples:

      vendorscope pcap span-port.pcapng

      vendorscope pcap mirror-*.pcap.gz --format jsonl -o devices.jsonl --observations obs.jsonl
    """
    _check_files(files)
    sizes = [p.stat().st_size for p in files]
    total = sum(sizes)
    report = SkipReport()
    collected: list[Observation] = []
    obs_out: IO[str] | None = None
    if observations is not None:
        try:
            obs_out = observations.open("w", encoding="utf-8")
        except OSError as exc:
            fail(f"{observations}: {exc.strerror}")
    started = datetime.now(UTC)
    show = err_console.is_terminal and total > 4_000_000
    progress = byte_progress("pcap", total, enabled=show)
    task = progress.add_task("reading captures", total=total)
    unreadable: list[str] = []

    def advance(n: int) -> None:
        progress.update(task, advance=n)

    def stream(path: Path) -> Iterator[Observation]:
        yield from read_observations(path, progress=advance, report=report, name=path.name,
                                     jobs=jobs or default_jobs())

    try:
        with progress:
            for path in files:
                progress.update(task, description=f"reading {path.name}")
                try:
                    for obs in stream(path):
                        collected.append(obs)
                        if obs_out is not None:
                            obs_out.write(dumps(observation_record(obs)) + "\n")
                except NotACaptureError as exc:
                    unreadable.append(str(exc))
                except OSError as exc:
                    unreadable.append(f"{path}: {exc.strerror or exc}")
    finally:
        if obs_out is not None:
            obs_out.close()
    for message in unreadable:
        error(message)
    if len(unreadable) == len(files):
        raise typer.Exit(2)
    stats = {"files": [p.name for p in files], "frames": report.frames, "bytes": report.bytes,
             "skipped": report.total}
    result = store_and_show(
        collected, source="pcap:" + ",".join(p.name for p in files), db=None if no_db else db,
        started_at=started, stats=stats, fmt=fmt, output=output,
        title=lambda n: f"{n} devices in {', '.join(p.name for p in files)}",
        rescue=(lambda: observations) if observations is not None else None,  # written while reading
        shown=lambda assets: sorted(assets, key=lambda a: (a.verdict.vendor is None, -a.verdict.confidence, a.id)),
    )
    _print_report(report, result.snapshot_id)
    if unreadable:
        raise typer.Exit(2)


def _print_report(report: SkipReport, snapshot_id: int | None) -> None:
    stored = f"; stored as snapshot {snapshot_id}" if snapshot_id is not None else ""
    if not report:
        say(f"{report.frames:,} frames read from {report.files} file(s){stored}", err=True)
        return
    warn(report.summary())
    for line in report.lines()[:_MAX_REPORT_LINES]:
        say(f"  {line}", err=True)
    if len(report.counts) > _MAX_REPORT_LINES:
        say(f"  … and {len(report.counts) - _MAX_REPORT_LINES} more kinds of problem", err=True)
    say(f"everything else was read{stored}", err=True)
