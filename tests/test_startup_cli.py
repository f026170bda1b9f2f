"""Start-up of the command line: what `vendorscope pcap` imports, and the quick value
converters (cli/coercion.py) agreeing with Typer's own on every value they accept."""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from vendorscope.cli import coercion
from vendorscope.lab.capture import DEMO_PATH

SRC = str(Path(__file__).resolve().parents[1] / "src")


class Colour(enum.StrEnum):
    red = "red"
    dark_blue = "dark-blue"


def _app() -> typer.Typer:
    from vendorscope.cli.application import VendorscopeCommand

    app = typer.Typer(add_completion=False)

    @app.command(cls=VendorscopeCommand)
    def show(
        files: list[Path] = typer.Argument(..., help="files"),
        colour: Colour = typer.Option(Colour.red, "--colour"),
        jobs: int = typer.Option(None, "--jobs", min=1, max=64),
        count: int = typer.Option(3, "--count"),
        name: str = typer.Option("x", "--name"),
        out: Path = typer.Option(None, "--out"),
        existing: Path = typer.Option(None, "--existing", exists=True, dir_okay=False),
        flag: bool = typer.Option(False, "--flag"),
    ) -> None:
        typer.echo(json.dumps({"files": [str(f) for f in files], "types": [type(f).__name__ for f in files],
                               "colour": repr(colour), "jobs": jobs, "count": count, "name": name,
                               "out": repr(out), "existing": repr(existing), "flag": flag}))

    @app.command()
    def other() -> None:  # two commands: `show` keeps its name
        pass

    return app


CASES = [
    ["a.pcap", "b.pcap"],
    ["a", "--colour", "dark-blue", "--jobs", "4", "--count", "-2", "--name", "ünï", "--out", "o.txt", "--flag"],
    ["a", "--jobs", "0"],  # below min: Typer's range error
    ["a", "--jobs", "65"],
    ["a", "--jobs", "007"],
    ["a", "--jobs", " 5"],
    ["a", "--jobs", "+5"],
    ["a", "--jobs", "1_0"],
    ["a", "--jobs", "4.0"],
    ["a", "--jobs", "٣"],  # an Arabic-Indic digit: int() reads it, the quick path leaves it to Typer
    ["a", "--count", "x"],
    ["a", "--out", ""],
    ["a", "--existing", "/nonexistent/file"],
    ["a", "--existing", "/"],  # a directory where a file is wanted
    ["a", "--existing", __file__],
    [],
]


def _run(args: list[str], quick: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    if not quick:
        monkeypatch.setattr(coercion, "install", lambda params: None)
    result = CliRunner().invoke(_app(), ["show", *args])
    monkeypatch.undo()
    return result.exit_code, result.output


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) or "none" for c in CASES])
def test_quick_conversion_gives_what_typer_gives(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(args, True, monkeypatch) == _run(args, False, monkeypatch)


@pytest.mark.parametrize(("value", "hint"), [("DARK-BLUE", " (did you mean 'dark-blue'?)"), ("green", "")])
def test_an_unknown_choice_is_a_usage_error_with_a_suggestion(value: str, hint: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Unlike Typer's own message, the one for a choice names the closest value when there is one."""
    code, output = _run(["a", "--colour", value], True, monkeypatch)
    typer_code, _ = _run(["a", "--colour", value], False, monkeypatch)
    assert code == typer_code == 2
    assert f"{value!r} is not one of" in output and "'dark-blue'" in output
    assert ("did you mean" in output) == bool(hint)


def test_quick_converters_are_installed_and_used(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Any] = []
    real = coercion.build_runtime_param
    monkeypatch.setattr(coercion, "build_runtime_param", lambda d: built.append(d.annotation) or real(d))
    code, output = _run(["a", "--colour", "dark-blue", "--jobs", "4", "--out", "o"], True, monkeypatch)
    assert code == 0 and '"jobs": 4' in output and "Colour.dark_blue" in output and "PosixPath('o')" in output
    assert built == []  # no value needed Typer's (Pydantic) converter


def test_unusual_values_fall_back_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Any] = []
    real = coercion.build_runtime_param
    monkeypatch.setattr(coercion, "build_runtime_param", lambda d: built.append(d.annotation) or real(d))
    code, _ = _run(["a", "--jobs", "0"], True, monkeypatch)
    assert code == 2 and built == [int]


def _imported_by(args: list[str]) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    probe = ("import sys, runpy; sys.argv = ['vendorscope', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('vendorscope', run_name='__main__')\n"
             "except SystemExit as e:\n    code = e.code\n"
             "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n'); sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC})
    modules = done.stderr.rsplit("MODULES ", 1)[-1].split()
    return set(modules), done


def test_pcap_as_jsonl_imports_no_pydantic_rich_progress_or_cryptography(tmp_path: Path) -> None:
    modules, done = _imported_by(["pcap", "--no-db", "--format", "jsonl", "-o", str(tmp_path / "out.jsonl"),
                                  str(DEMO_PATH)])
    assert done.returncode == 0, done.stderr[-500:]
    assert (tmp_path / "out.jsonl").read_text().count("\n") > 5
    assert not {m for m in modules if m.split(".")[0] == "pydantic"}
    assert "rich.progress" not in modules  # no bar is shown when stderr is not a terminal
    assert "rich.console" not in modules  # a line or two on a pipe: written without rich
    # The demo capture holds one certificate: cryptography comes with it, not before.
    assert "cryptography.x509" in modules


def test_version_and_help_still_work() -> None:
    modules, done = _imported_by(["--version"])
    assert done.returncode == 0 and done.stdout.startswith("vendorscope ")
    assert not {m for m in modules if m.startswith(("pydantic", "rich.progress", "cryptography"))}
    _, done = _imported_by(["pcap", "--help"])
    assert done.returncode == 0 and "--jobs" in done.stdout and "FILE..." in done.stdout
    _, done = _imported_by(["pcap", "--jobs", "0", str(DEMO_PATH)])
    assert done.returncode == 2 and "--jobs" in done.stderr and "Traceback" not in done.stderr


def test_progress_bar_is_rich_only_when_shown() -> None:
    from rich.progress import Progress

    from vendorscope.cli.common import HiddenProgress, byte_progress

    hidden = byte_progress("x", 10, enabled=False)
    assert isinstance(hidden, HiddenProgress)
    with hidden:
        hidden.update(hidden.add_task("x", total=10), advance=5, description="y")
    assert isinstance(byte_progress("x", 10, enabled=True), Progress)


LINES = [
    [("error: ", "bold red"), ("x" * 300, "")],  # longer than any terminal: never wrapped
    [("plain", "")],
    [("", "")],
    [("[bold]not markup[/] :smile: ", "green"), ("华为技术 ünï \\x1b[2J", "")],
    [("warning: ", "yellow"), ("  leading and trailing spaces  ", "")],
]


@pytest.mark.parametrize("parts", LINES)
@pytest.mark.parametrize("stderr", [False, True])
def test_lines_written_without_rich_are_what_rich_writes(parts: list[tuple[str, str]], stderr: bool,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from vendorscope.cli.common import LazyConsole

    for name in ("TTY_COMPATIBLE", "FORCE_COLOR", "FORCE_TERMINAL", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    quick = LazyConsole(stderr=stderr)
    quick.line(*parts)
    assert quick._console is None  # written without making a rich console
    by_quick = capsys.readouterr()
    real = LazyConsole(stderr=stderr)
    real.real  # noqa: B018 - makes the rich console, which then prints
    real.line(*parts)
    by_rich = capsys.readouterr()
    assert (by_quick.out, by_quick.err) == (by_rich.out, by_rich.err)
    assert (by_quick.err if stderr else by_quick.out).count("\n") == 1


def test_quiet_lazy_console_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from vendorscope.cli.common import LazyConsole

    quiet = LazyConsole(stderr=True)
    quiet.quiet = True
    quiet.line(("summary", ""))
    assert capsys.readouterr().err == ""
    quiet.real.print("still quiet")
    assert capsys.readouterr().err == "" and quiet.real.quiet


@pytest.mark.parametrize("env, terminal", [({}, False), ({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": ""}, False),
                                           ({"TTY_COMPATIBLE": "1"}, True), ({"TTY_COMPATIBLE": "0"}, False)])
def test_terminal_detection_agrees_with_rich(env: dict[str, str], terminal: bool,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from vendorscope.cli.common import LazyConsole
    from vendorscope.report.terminal import safe_console

    for name in ("TTY_COMPATIBLE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert LazyConsole(stderr=True).is_terminal == safe_console(stderr=True).is_terminal == terminal
