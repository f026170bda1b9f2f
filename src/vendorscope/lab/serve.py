"""Run a lab in the foreground until SIGTERM/SIGINT (`python -m vendorscope.lab serve ...`).

`vendorscope lab up` starts this detached; it writes scope.toml and, once every
device listens, lab.json (which is the signal that the lab is ready).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from vendorscope.lab.model import DEFAULT_BASE, PORT_MODES, SCOPE_FILE, STATE_FILE, LabError
from vendorscope.lab.runner import Lab


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def serve(count: int | None, base: str, state_dir: Path, ports: str, faults: bool) -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        lab = Lab(count=count, base=base, state_dir=state_dir, ports=ports, faults=faults)
        lab.start()
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        scope = lab.write_scope(state_dir / SCOPE_FILE)
        state = {"pid": os.getpid(), "scope": str(scope.resolve()), **lab.as_dict()}
        write_atomically(state_dir / STATE_FILE, json.dumps(state, indent=1) + "\n")
        print(f"lab ready: {lab.count} devices on {lab.base}", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        lab.stop()
        state_path = state_dir / STATE_FILE
        try:  # leave the file alone if another lab has taken the directory over
            if json.loads(state_path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                state_path.unlink()
        except (OSError, ValueError):
            pass
    print("lab stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vendorscope.lab")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run a lab until SIGTERM or SIGINT")
    run.add_argument("--count", type=int, default=None)
    run.add_argument("--base", default=DEFAULT_BASE)
    run.add_argument("--state-dir", type=Path, default=Path(".lab"))
    run.add_argument("--ports", choices=PORT_MODES, default="auto")
    run.add_argument("--no-faults", action="store_true")
    args = parser.parse_args(argv)
    return serve(args.count, args.base, args.state_dir, args.ports, not args.no_faults)
