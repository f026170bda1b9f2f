"""The command line: one Typer app; each command module is thin glue over a stage.

Command modules live in this package and register themselves on the app when
imported. ``vendorscope CMD`` imports only the module of CMD (start-up time
matters on every run); ``from vendorscope.cli import app`` and ``--help``
import them all.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

# Which module holds each top-level command. tests/test_cli_identify.py checks
# this against what the modules register, so a new command cannot be missed.
COMMAND_MODULES: dict[str, str] = {
    "identify": "identify",
    "vendors": "identify",
    "rules": "identify",
    "data": "identify",
    "pcap": "pcap",
    "probe": "probe",
    "import": "imports",
    "assets": "inventory",
    "asset": "inventory",
    "snapshots": "inventory",
    "history": "inventory",
    "diff": "inventory",
    "policies": "policies",
    "findings": "policies",
    "report": "report",
    "lab": "lab",
    "demo": "demo",
    "scale": "scale",
    "serve": "web",
    "watch": "web",
    "user": "accounts",
    "token": "accounts",
}
_NOT_COMMANDS = {"application", "common", "judging"}


def load_commands(names: list[str] | None = None) -> None:
    """Import the command modules named (all when None), registering their commands."""
    if names is None:
        names = [i.name for i in pkgutil.iter_modules(__path__) if i.name not in _NOT_COMMANDS]
    for name in sorted(set(names)):
        importlib.import_module(f"{__name__}.{name}")


def main() -> None:
    from vendorscope.cli.application import app

    command = sys.argv[1] if len(sys.argv) > 1 else None
    load_commands([COMMAND_MODULES[command]] if command in COMMAND_MODULES else None)
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except ValueError as exc:
        # A broken recog folder ($VENDORSCOPE_RECOG, `rules add-recog`) reaches every collecting
        # command through the engine: one line, not a traceback.
        from vendorscope.identify.recog import RecogError

        if not isinstance(exc, RecogError):
            raise
        sys.stderr.write(f"error: recog ($VENDORSCOPE_RECOG or `rules add-recog`): {exc}\n")
        sys.exit(2)


def __getattr__(name: str) -> Any:
    if name == "app":
        from vendorscope.cli.application import app

        load_commands()
        return app
    raise AttributeError(name)
