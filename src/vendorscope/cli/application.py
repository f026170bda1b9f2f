"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="vendorscope",
    help=(
        "Find high-risk vendors' equipment (Huawei, ZTE, Hikvision, Dahua, Hytera, ...) in your "
        "networks, prove each finding with evidence, judge it against each jurisdiction's rules "
        "and track its removal."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    # A callback keeps the app a group of commands even when a run loads only one
    # command module (Typer would otherwise run a lone command without its name).
    pass
