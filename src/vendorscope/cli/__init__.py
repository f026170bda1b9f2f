"""The command line: one Typer app; each command module is thin glue over a stage.

Command modules live in this package and register themselves on ``app`` when
imported; every module here is imported, so a new command is a new file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from vendorscope.cli.app import app

_SKIP = {"app", "common"}


def _load_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name not in _SKIP:
            importlib.import_module(f"{__name__}.{info.name}")


def main() -> None:
    _load_commands()
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.stderr.write("interrupted\n")
        sys.exit(130)


_load_commands()
