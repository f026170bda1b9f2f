"""The Typer application every command module registers on, and how it talks when things go wrong.

Errors are one line on stderr: a usage error is ``error: … (see `CMD --help`)``
(exit 2); any exception nobody expected is ``internal error: … (please
report)`` (exit 70) and shows its traceback only with VENDORSCOPE_DEBUG=1.
Help is plain text with metavars that say what a value is (``--db PATH|URL``),
not the Python type (``<str>``).
"""

from __future__ import annotations

import enum
import inspect
import os
import sys
import traceback
import typing
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

try:  # recent Typer carries its own copy of Click: its classes and exceptions are the ones in use
    from typer._click import core as click_core
    from typer._click import exceptions as click_exceptions
    from typer._click import formatting as click_formatting
except ImportError:  # pragma: no cover - older Typer uses Click itself
    import click.core as click_core  # type: ignore[no-redef]
    import click.exceptions as click_exceptions  # type: ignore[no-redef]
    import click.formatting as click_formatting  # type: ignore[no-redef]
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import CommandInfo, ParameterInfo

from vendorscope.cli import coercion, verbosity

DEBUG_ENV = "VENDORSCOPE_DEBUG"
INTERNAL_ERROR = 70
USAGE_ERROR = 2


def _problem(prefix: str, message: str) -> None:
    """One line on stderr, whatever the message holds (controls escaped, newlines joined)."""
    from vendorscope.report.terminal import terminal_text

    one_line = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    sys.stderr.write(f"{prefix}{terminal_text(one_line, None)}\n")
    sys.stderr.flush()


def _usage_hint(exc: click_exceptions.ClickException) -> str:
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "vendorscope"
    return f" (see `{path} --help`)"


def run_guarded(command: click_core.Command, args: Sequence[str] | None, prog_name: str | None, **extra: Any) -> int:
    """Run ``command`` and turn every way it can end into an exit code and at most one line on stderr."""
    try:
        result = TyperGroup.main(command, args=args, prog_name=prog_name, standalone_mode=False,  # type: ignore[arg-type]
                                 **extra)
        return result if isinstance(result, int) and not isinstance(result, bool) else 0
    except click_exceptions.NoArgsIsHelpError as exc:  # `vendorscope` alone: its help, as Click prints it
        sys.stdout.write(exc.ctx.get_help() + "\n")
        return 0
    except click_exceptions.UsageError as exc:
        _problem("error: ", exc.format_message() + _usage_hint(exc))
        return exc.exit_code if exc.exit_code is not None else USAGE_ERROR
    except click_exceptions.ClickException as exc:
        _problem("error: ", exc.format_message())
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt, EOFError):
        _problem("", "interrupted")
        return 130
    except ValueError as exc:
        # A broken recog folder ($VENDORSCOPE_RECOG, `rules add-recog`) reaches every collecting
        # command through the engine: an input error, one line.
        from vendorscope.identify.recog import RecogError

        if not isinstance(exc, RecogError):
            return _internal_error(exc)
        _problem("error: ", f"recog ($VENDORSCOPE_RECOG or `rules add-recog`): {exc}")
        return USAGE_ERROR
    except BrokenPipeError:  # `vendorscope … | head`: the reader has gone, nothing to say
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stderr at exit
        return 1
    except Exception as exc:  # the last resort: no traceback for users, one line to report
        return _internal_error(exc)


def _internal_error(exc: BaseException) -> int:
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        traceback.print_exception(exc)
    detail = str(exc).strip()
    _problem("internal error: ", f"{type(exc).__name__}" + (f": {detail}" if detail else "")
             + f" (please report; {DEBUG_ENV}=1 shows where)")
    return INTERNAL_ERROR


class VendorscopeGroup(TyperGroup):
    """The root group: every run ends through :func:`run_guarded`."""

    def parse_args(self, ctx: click_core.Context, args: list[str]) -> list[str]:
        coercion.install(self.get_params(ctx))  # -q, -v, --version, --help without Pydantic (cli/coercion.py)
        return super().parse_args(ctx, args)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        sys.exit(run_guarded(self, args, prog_name, complete_var=complete_var, **extra))


# ---------------------------------------------------------------- help text


# What a value is, by option name, where the parameter's type does not say it.
_METAVARS: dict[str, str] = {
    "db": "PATH|URL", "snapshot": "ID", "as_of": "YYYY-MM-DD", "policy": "PACK", "pack": "PACK",
    "jurisdiction": "CODE", "audience": "ID", "vendor": "VENDOR", "site": "SITE", "set_site": "SITE",
    "tag": "TAG", "untag": "TAG", "map": "FIELD=COLUMN,...", "mapping_text": "FIELD=COLUMN,...",
    "sheet": "NAME", "token": "TOKEN", "source_label": "NAME", "kind": "KIND", "master": "URL",
    "ports": "PORTS", "organisation": "NAME", "base": "ADDRESS",
}
# Argument names as one item (a list argument repeats it).
_ARGUMENT_NAMES: dict[str, str] = {"inputs": "INPUT", "ids": "ID", "files": "FILE", "pack_id": "ID",
                                   "asset_id": "ASSET", "values": "VALUE", "paths": "FILE"}


def _item_type(annotation: Any) -> Any:
    """``list[X]`` and ``X | None`` as ``X``."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (list, tuple, Sequence) or (args and len(args) == 1):
        return _item_type(args[0]) if args else str
    return annotation


def metavar_for(name: str, annotation: Any, info: ParameterInfo) -> str | None:
    """What the value of parameter ``name`` is, for help; None for flags."""
    item = _item_type(annotation)
    if item is bool or getattr(info, "is_flag", False) or getattr(info, "count", False):
        return None
    if isinstance(item, type) and issubclass(item, enum.Enum):
        choices = "|".join(str(m.value) for m in item)
        return choices if isinstance(info, typer.models.ArgumentInfo) else f"[{choices}]"
    if name in _METAVARS:
        return _METAVARS[name]
    if isinstance(info, typer.models.ArgumentInfo):
        return _ARGUMENT_NAMES.get(name, name.upper())
    if isinstance(item, type) and issubclass(item, Path):
        return "DIR" if "dir" in name else "FILE"
    if item in (datetime, date):
        return "DATE"
    if item is int:
        return "N"
    if item is float:
        return "NUMBER"
    return name.upper()


def _commands(app: typer.Typer) -> Iterator[CommandInfo]:
    yield from app.registered_commands
    for group in app.registered_groups:
        if group.typer_instance is not None:
            yield from _commands(group.typer_instance)


def describe_parameters(app: typer.Typer) -> None:
    """Give every command readable metavars and the help layout of :class:`VendorscopeCommand`."""
    for info in _commands(app):
        if info.callback is None:
            continue
        if info.cls in (None, TyperCommand):
            info.cls = VendorscopeCommand
        hints = typing.get_type_hints(info.callback)
        for name, parameter in inspect.signature(info.callback).parameters.items():
            default = parameter.default
            if isinstance(default, ParameterInfo) and default.metavar is None:
                default.metavar = metavar_for(name, hints.get(name, str), default)


class VendorscopeCommand(TyperCommand):
    """Plain help: ``KIND INPUT...`` in usage; ``CMD CHOICE --help`` shows that choice's options only.

    An option whose help starts with ``CHOICE:`` (e.g. ``table: the XLSX sheet``)
    belongs to that choice of the first argument.
    """

    def parse_args(self, ctx: click_core.Context, args: list[str]) -> list[str]:
        coercion.install(self.get_params(ctx))  # ordinary values converted without Pydantic (cli/coercion.py)
        args = _take_global_options(args, {o for p in self.params for o in getattr(p, "opts", ())})
        choices = self._first_choices()
        if args and args[0] in choices and any(a in ("--help", "-h") for a in args):
            ctx.meta["vendorscope.choice"] = args[0]
        return super().parse_args(ctx, args)

    def _first_choices(self) -> list[str]:
        first = next((p for p in self.params if isinstance(p, TyperArgument)), None)
        if first is None or first.metavar is None or "|" not in first.metavar:
            return []
        return first.metavar.strip("[]").split("|")

    def _belongs_elsewhere(self, param: click_core.Parameter, choice: str | None) -> bool:
        if choice is None or not isinstance(param, TyperOption):
            return False
        owner = (param.help or "").split(":", 1)[0]
        return owner in self._first_choices() and owner != choice

    def get_params(self, ctx: click_core.Context) -> list[click_core.Parameter]:
        choice = ctx.meta.get("vendorscope.choice")
        return [p for p in super().get_params(ctx) if not self._belongs_elsewhere(p, choice)]

    def collect_usage_pieces(self, ctx: click_core.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        choice = ctx.meta.get("vendorscope.choice")
        for i, param in enumerate(a for a in self.get_params(ctx) if isinstance(a, TyperArgument)):
            if i == 0 and choice:
                pieces.insert(0, choice)
                continue
            name = _argument_name(param, repeat=False)
            name = name if param.required else f"[{name}]"
            pieces.append(f"{name}..." if param.nargs != 1 else name)
        return pieces

    def format_help_text(self, ctx: click_core.Context, formatter: click_formatting.HelpFormatter) -> None:
        choice = ctx.meta.get("vendorscope.choice")
        if choice is None or self.help is None:
            return super().format_help_text(ctx, formatter)
        # `import table --help`: only the examples of that choice.
        others = [f" {ctx.info_name} {c} " for c in self._first_choices() if c != choice]
        kept = [p for p in inspect.cleandoc(self.help).split("\n\n") if not any(o in p for o in others)]
        full, self.help = self.help, "\n\n".join(kept)
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = full

    def format_options(self, ctx: click_core.Context, formatter: click_formatting.HelpFormatter) -> None:
        arguments, options = [], []
        choice = ctx.meta.get("vendorscope.choice")
        for i, param in enumerate(self.get_params(ctx)):
            if getattr(param, "hidden", False):
                continue
            if isinstance(param, TyperArgument):
                if not (i == 0 and choice):
                    arguments.append((_argument_name(param), _argument_help(param)))
            else:
                record = param.get_help_record(ctx)
                if record is not None:
                    options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


_GLOBAL_FLAGS = {"-q": -1, "--quiet": -1, "-v": 1, "--verbose": 1}


def _take_global_options(args: list[str], own: set[str]) -> list[str]:
    """-q/-v given after the command name (``vendorscope findings -q``) act as the global options.

    Only before a ``--`` and only when the command has no option of that name.
    """
    end = args.index("--") if "--" in args else len(args)
    taken = [a for a in args[:end] if a in _GLOBAL_FLAGS and a not in own]
    if not taken:
        return args
    level = max(verbosity.level(), 0) + sum(_GLOBAL_FLAGS[a] for a in taken if _GLOBAL_FLAGS[a] > 0)
    _set_verbosity(quiet=any(_GLOBAL_FLAGS[a] < 0 for a in taken) or verbosity.quiet(), verbose=level)
    return [a for a in args[:end] if a not in taken] + args[end:]


def _set_verbosity(quiet: bool, verbose: int) -> None:
    if quiet and verbose:
        raise click_exceptions.UsageError("--quiet and --verbose contradict each other")
    verbosity.set_level(-1 if quiet else verbose)
    from vendorscope.cli.common import err_console

    err_console.quiet = quiet  # progress and summaries; errors and warnings have their own console


def _argument_name(param: TyperArgument, repeat: bool = True) -> str:
    name = param.metavar or param.name or "ARG"
    if "|" in name:
        name = (param.name or "arg").upper()
    return f"{name}..." if repeat and param.nargs != 1 else name


def _argument_help(param: TyperArgument) -> str:
    text = param.help or ""
    if param.metavar and "|" in param.metavar:
        text += f" One of: {param.metavar.replace('|', ', ')}."
    return text.strip()


# ---------------------------------------------------------------- the app


def _version() -> str:
    # Imported here: importlib.metadata costs every command's start-up, and only --version reads it.
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("vendorscope")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"vendorscope {_version()}\n")
        raise typer.Exit(0)


app = typer.Typer(
    name="vendorscope",
    cls=VendorscopeGroup,
    help=(
        "Find high-risk vendors' equipment (Huawei, ZTE, Hikvision, Dahua, Hytera, ...) in your "
        "networks, prove each finding with evidence, judge it against each jurisdiction's rules "
        "and track its removal."
    ),
    epilog=(
        "Exit codes: 0 ok; 1 a --fail-on finding or bad input records; 2 usage or input error; "
        "70 internal error. Environment: VENDORSCOPE_DB (--db), VENDORSCOPE_PACKS (extra packs), "
        "VENDORSCOPE_DEBUG=1 (traceback of an internal error)."
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary lines on stderr "
                               "(errors and warnings still show)."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More detail on stderr (repeatable)."),
) -> None:
    # A callback also keeps the app a group of commands even when a run loads only one
    # command module (Typer would otherwise run a lone command without its name).
    _set_verbosity(quiet, verbose)
