"""Turning command-line strings into parameter values without building Pydantic adapters.

Typer (≥ 0.2x) converts every parameter value through a Pydantic ``TypeAdapter``;
importing Pydantic and building the adapters costs about 0.05 s CPU on every
run, a third of what `vendorscope pcap` may spend starting. Our parameters are
almost all plain ``str``, ``int``, ``Path``, ``bool``, enums and lists of them,
whose conversion is one call. For those, :func:`install` gives each parameter a
runtime converter that handles the ordinary value itself and hands anything else
(a malformed number, an unknown choice, a value out of range, any other type)
to Typer's own converter, so errors and edge cases read exactly as Typer writes
them. Parsing stays Click's and Typer's: the one CLI definition is unchanged.

Uses Typer's private ``_coercion`` interface; with a Typer that lacks it,
:func:`install` does nothing and Typer converts everything itself.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

try:
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path
except ImportError:  # pragma: no cover - another Typer: it converts every value itself
    RuntimeParam = None  # type: ignore[assignment,misc]

_DECIMAL = re.compile(r"-?[0-9]+\Z")  # what int() and Pydantic read alike; anything else goes to Typer


class _Delegate(Exception):  # noqa: N818 - a signal, not an error
    """This value is not an ordinary one: Typer's converter decides."""


Convert = Callable[[Any, Any, Any], Any]  # (value, param, ctx) -> converted value, or raise _Delegate


def _as_str(value: Any, param: Any, ctx: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Delegate


def _as_bool(value: Any, param: Any, ctx: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Delegate


def _int_converter(minimum: float | None, maximum: float | None) -> Convert:
    def as_int(value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.isascii() and _DECIMAL.match(value):
            number = int(value)
        else:
            raise _Delegate
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise _Delegate  # Typer words the range error
        return number

    return as_int


def _path_converter(path_type: type[Path], info: Any) -> Convert:
    def as_path(value: Any, param: Any, ctx: Any) -> Any:
        if not isinstance(value, str) or not value or "\0" in value:
            raise _Delegate
        # Typer's own checks (exists, file_okay, dir_okay, resolve_path, "-") on a ready Path
        return coerce_cli_path(path_type(value), info, path_type=path_type, param=param, ctx=ctx)

    return as_path


def _choice_converter(choices: tuple[Any, ...], case_sensitive: bool) -> Convert:
    def as_choice(value: Any, param: Any, ctx: Any) -> Any:
        try:
            return coerce_cli_choice(value, choices=choices, case_sensitive=case_sensitive, ctx=ctx)
        except ValueError:
            if not isinstance(value, str):
                raise _Delegate from None
            import typer

            from vendorscope.cli.common import did_you_mean

            # A typo in a value is an error with a suggestion (Typer's own message has none).
            names = [str(c.value) if isinstance(c, enum.Enum) else str(c) for c in choices]
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(map(repr, names))}"
                                     f"{did_you_mean(value, names)}", ctx=ctx, param=param) from None

    return as_choice


def leaf_converter(annotation: Any, info: Any) -> Convert | None:
    """The quick converter of one (non-list) annotation, or None where Typer's is needed."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _choice_converter(tuple(annotation), bool(info.case_sensitive))
    if annotation is str:
        return _as_str
    if annotation is bool:
        return _as_bool
    if annotation is int:
        return None if info.clamp else _int_converter(info.min, info.max)
    if isinstance(annotation, type) and issubclass(annotation, Path):
        path_type = info.path_type or annotation
        if isinstance(path_type, type) and issubclass(path_type, Path):
            return _path_converter(path_type, info)
    return None


def converter_for(descriptor: Any) -> tuple[Convert, bool] | None:
    """(quick converter, whether values come as a list) for a parameter, or None."""
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None or getattr(info, "click_type", None):
        return None
    annotation, is_list = descriptor.annotation, False
    if get_origin(annotation) is list:
        (annotation,), is_list = get_args(annotation), True
    if get_origin(annotation) is not None:
        return None
    convert = leaf_converter(annotation, info)
    return (convert, is_list) if convert is not None else None


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class QuickRuntimeParam(RuntimeParam):
        """Converts ordinary values itself; Typer's converter (built on first need) does the rest."""

        descriptor: TypeDescriptor
        convert: Convert
        is_list: bool

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                if self.is_list:
                    items = value if isinstance(value, (list, tuple)) else [value]
                    return [self.convert(item, param, ctx) for item in items]
                return self.convert(value, param, ctx)
            except _Delegate:
                return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def install(params: Iterable[Any]) -> None:
    """Give each parameter Typer has not converted with yet the quick converter, where one applies."""
    if RuntimeParam is None:
        return  # pragma: no cover
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", True) is not None:
            continue
        found = converter_for(descriptor)
        if found is not None:
            param._runtime_param = QuickRuntimeParam(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                descriptor=descriptor, convert=found[0], is_list=found[1])
