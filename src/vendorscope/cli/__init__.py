"""The command line: one Typer app; each command module is thin glue over a stage.

Command modules live in this package and register themselves on the app when
imported. ``vendorscope CMD`` imports only the module of CMD (start-up time
matters on every run); ``from vendorscope.cli import app`` and ``--help``
import them all.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

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
_NOT_COMMANDS = {"application", "coercion", "common", "judging", "verbosity"}


def load_commands(names: list[str] | None = None) -> None:
    """Import the command modules named (all when None), registering their commands."""
    if names is None:
        import pkgutil  # only `--help` and `from vendorscope.cli import app` load every module

        names = [i.name for i in pkgutil.iter_modules(__path__) if i.name not in _NOT_COMMANDS]
    for name in sorted(set(names)):
        importlib.import_module(f"{__name__}.{name}")
    from vendorscope.cli.application import app, describe_parameters

    describe_parameters(app)


def _command_name(args: list[str]) -> str | None:
    """The command a command line runs: its first word that is not a global option."""
    return next((a for a in args if not a.startswith("-")), None)


def main() -> None:
    """The `vendorscope` program: every way a run ends is an exit code and at most one line on stderr.

    Exit codes: 0 ok, 1 a ``--fail-on`` finding or bad input records, 2 a usage or
    input error, 70 an internal error (VENDORSCOPE_DEBUG=1 shows its traceback),
    130 interrupted.
    """
    from vendorscope.cli.application import INTERNAL_ERROR, app, run_guarded

    try:
        command = _command_name(sys.argv[1:])
        if command is None and "--version" in sys.argv[1:]:
            load_commands([])
        else:
            load_commands([COMMAND_MODULES[command]] if command in COMMAND_MODULES else None)
        group = typer.main.get_command(app)
    except Exception as exc:  # a broken install: still one line, never a traceback
        sys.stderr.write(f"internal error: {type(exc).__name__}: {exc} (please report)\n")
        sys.exit(INTERNAL_ERROR)
    sys.exit(run_guarded(group, None, "vendorscope"))


def __getattr__(name: str) -> Any:
    if name == "app":
        from vendorscope.cli.application import app

        load_commands()
        return app
    raise AttributeError(name)
