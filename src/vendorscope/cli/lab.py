"""`lab up`, `lab down`, `lab status`: emulated devices on loopback in a background process."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer

from vendorscope.cli.application import app
from vendorscope.cli.common import OutputFormat, fail, say, write_rows
from vendorscope.lab.model import (
    DEFAULT_BASE,
    PORT_MODES,
    SCOPE_FILE,
    STATE_FILE,
    LabDevice,
    LabError,
    parse_base,
)

lab_app = typer.Typer(
    help="Emulated devices on 127.0.0.0/8 (loopback only) to try the tool on.",
    no_args_is_help=True,
)
app.add_typer(lab_app, name="lab", rich_help_panel="Lab")

DEVICE_COLUMNS = ("name", "ip", "vendor", "role", "product", "services", "note")
READY_POLL = 0.1
STOP_WAIT = 30.0
LOG_FILE = "lab.log"
# Packages of the `lab` extra that the emulated devices import.
LAB_PACKAGES = ("aiohttp", "asyncssh")

# Labs this process started; kept so their exit status is collected (no zombies,
# no "subprocess still running" warnings when `up` and `down` run in one process).
_spawned: dict[int, subprocess.Popen[bytes]] = {}


def read_state(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        fail(f"{path}: unreadable lab state ({exc})")
    if not isinstance(state, dict) or not isinstance(state.get("pid"), int):
        fail(f"{path}: not a lab state file")
    return state


def is_lab_process(pid: int) -> bool:
    """Whether `pid` is alive and is a lab server (a recycled pid is somebody else's process)."""
    if pid in _spawned and _spawned[pid].poll() is not None:
        del _spawned[pid]
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":  # exited, not yet reaped
        return False
    return b"vendorscope.lab" in cmdline and b"serve" in cmdline


def device_rows(devices: list[LabDevice]) -> list[dict[str, Any]]:
    rows = []
    for d in devices:
        note = []
        if d.fault:
            note.append(f"fault: {d.fault}")
        if d.conflict:
            note.append(f"labelled {d.label}")
        services = " ".join(
            f"{name}:{port}{'/udp' if name in d.udp_services else ''}" for name, port in d.services.items()
        )
        rows.append(
            {
                "name": d.name,
                "ip": d.ip,
                "vendor": d.vendor or "",
                "role": d.role,
                "product": d.product,
                "services": services,
                "note": ", ".join(note),
            }
        )
    return rows


def require_lab_extra() -> None:
    """The lab's servers need the `lab` extra; without it, say so in one line."""
    missing = [name for name in LAB_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        fail(f"the lab needs {' and '.join(missing)}: pip install 'vendorscope[lab]'")


def _last_log_line(state_dir: Path) -> str:
    try:
        lines = [ln for ln in (state_dir / LOG_FILE).read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    errors = [ln for ln in lines if ln.startswith("error:")]
    return (errors or lines or ["no output"])[-1].removeprefix("error: ")


@lab_app.command()
def up(
    count: int | None = typer.Option(None, "--count", "-n", min=1, help="Devices (default: one per profile)."),
    base: str = typer.Option(DEFAULT_BASE, "--base", help="Loopback network the devices get addresses in."),
    state_dir: Path = typer.Option(Path(".lab"), "--state-dir", help="Where lab.json, scope.toml and the log go."),
    ports: str = typer.Option("auto", "--ports", help="standard, high (+10000) or auto (high if not root)."),
    faults: bool = typer.Option(True, "--faults/--no-faults", help="Include misbehaving devices."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for the lab to listen."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Device list format."),
) -> None:
    """Start the lab in the background and write a scope file for it."""
    require_lab_extra()
    if ports not in PORT_MODES:
        fail(f"--ports must be one of {', '.join(PORT_MODES)}")
    try:
        parse_base(base)
    except LabError as exc:
        fail(str(exc))
    state_dir.mkdir(parents=True, exist_ok=True)
    state = read_state(state_dir)
    if state is not None:
        if is_lab_process(state["pid"]):
            fail(f"a lab is already running from {state_dir} (pid {state['pid']}); run `vendorscope lab down` first")
        (state_dir / STATE_FILE).unlink(missing_ok=True)  # left by a lab that died
    command = [
        sys.executable,
        "-m",
        "vendorscope.lab",
        "serve",
        "--base",
        base,
        "--state-dir",
        str(state_dir),
    ]
    command += ["--ports", ports] + (["--count", str(count)] if count else []) + ([] if faults else ["--no-faults"])
    with (state_dir / LOG_FILE).open("wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    _spawned[process.pid] = process
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            del _spawned[process.pid]
            fail(f"the lab did not start: {_last_log_line(state_dir)}")
        state = read_state(state_dir)
        if state is not None and state.get("pid") == process.pid:
            break
        if time.monotonic() > deadline:
            process.terminate()
            process.wait(STOP_WAIT)
            del _spawned[process.pid]
            fail(f"the lab did not get ready within {timeout:g} s (log: {state_dir / LOG_FILE})")
        time.sleep(READY_POLL)
    devices = [LabDevice.from_dict(d) for d in state["devices"]]
    write_rows(device_rows(devices), DEVICE_COLUMNS, fmt, title=f"lab: {len(devices)} devices on {state['base']}")
    if fmt is OutputFormat.table:
        say(f"lab running (pid {process.pid}); scope file: {state_dir / SCOPE_FILE}")


@lab_app.command()
def down(
    state_dir: Path = typer.Option(Path(".lab"), "--state-dir", help="The directory `lab up` used."),
) -> None:
    """Stop the lab started from this state directory."""
    state = read_state(state_dir)
    if state is None:
        fail(f"no lab running from {state_dir}", code=1)
    pid = state["pid"]
    if is_lab_process(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT
        while is_lab_process(pid) and time.monotonic() < deadline:
            time.sleep(READY_POLL)
        if is_lab_process(pid):
            os.kill(pid, signal.SIGKILL)
        if pid in _spawned:
            _spawned.pop(pid).wait(STOP_WAIT)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    say(f"lab stopped (pid {pid})")


@lab_app.command()
def status(
    state_dir: Path = typer.Option(Path(".lab"), "--state-dir", help="The directory `lab up` used."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Device list format."),
) -> None:
    """Show whether the lab runs, and its devices."""
    state = read_state(state_dir)
    if state is None or not is_lab_process(state["pid"]):
        fail(f"no lab running from {state_dir}", code=1)
    devices = [LabDevice.from_dict(d) for d in state["devices"]]
    write_rows(
        device_rows(devices),
        DEVICE_COLUMNS,
        fmt,
        title=f"lab (pid {state['pid']}): {len(devices)} devices on {state['base']}",
    )
