"""The first hour in a terminal: one-line errors, real metavars, typos caught, -q/-v, exit codes for CI.

Commands run end to end: through the installed `vendorscope` program where what
matters is stderr and the exit code as a shell sees them, through Typer's runner
elsewhere; inventories are real SQLite files filled by real imports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from vendorscope.cli import COMMAND_MODULES, app
from vendorscope.cli.application import INTERNAL_ERROR, describe_parameters, run_guarded
from vendorscope.cli.common import close_match
from vendorscope.cli.policies import FailOn, failing_findings
from vendorscope.model import Finding, Status

runner = CliRunner()
EXE = Path(sys.executable).with_name("vendorscope")
INVENTORY_CSV = ("hostname,ip,manufacturer,model\nolt-1,192.0.2.10,Huawei,MA5800-X17\n"
                 "cam-1,192.0.2.11,Hikvision,DS-2CD\n")


def vendorscope(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real inventory: one table import of a Huawei OLT and a Hikvision camera."""
    folder = tmp_path_factory.mktemp("usability")
    table = folder / "cmdb.csv"
    table.write_text(INVENTORY_CSV, encoding="utf-8")
    db = folder / "inventory.db"
    result = runner.invoke(app, ["import", "table", str(table), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


# ---------------------------------------------------------------- errors are one line


@pytest.mark.skipif(not EXE.exists(), reason="the vendorscope program is not installed in this environment")
def test_usage_errors_are_one_line_with_a_suggestion() -> None:
    bad_option = vendorscope("findings", "--staus", "overdue")
    assert bad_option.returncode == 2
    line = one_line(bad_option.stderr)
    assert line.startswith("error: No such option: --staus") and "--status" in line
    assert "vendorscope findings --help" in line and "╭" not in bad_option.stderr

    bad_command = vendorscope("findngs")
    assert bad_command.returncode == 2
    assert "Did you mean 'findings'" in one_line(bad_command.stderr)

    bad_value = vendorscope("findings", "--status", "overdew")
    assert bad_value.returncode == 2 and "'overdew'" in one_line(bad_value.stderr)


@pytest.mark.skipif(not EXE.exists(), reason="the vendorscope program is not installed in this environment")
def test_version_and_completion() -> None:
    from importlib.metadata import version

    shown = vendorscope("--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"vendorscope {version('vendorscope')}"
    completion = vendorscope("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert completion.returncode == 0 and "_VENDORSCOPE_COMPLETE" in completion.stdout


def _exploding_app() -> typer.Typer:
    """A real command that fails the way a bug does: an exception nobody handles."""
    from vendorscope.cli.application import VendorscopeGroup

    broken = typer.Typer(cls=VendorscopeGroup)

    @broken.command()
    def explode(depth: int = 3) -> None:
        table: dict[str, int] = {}
        table["no such key"] += depth  # the bug under test

    @broken.command()
    def fine() -> None:
        pass

    @broken.command()
    def bad_recog() -> None:
        from vendorscope.identify.recog import RecogError

        raise RecogError("/tmp/recog/ssh_banners.xml: not recog XML")

    describe_parameters(broken)
    return broken


def test_an_internal_error_is_one_line_and_exit_70(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VENDORSCOPE_DEBUG", raising=False)
    command = typer.main.get_command(_exploding_app())
    assert run_guarded(command, ["explode"], "vendorscope") == INTERNAL_ERROR
    err = capsys.readouterr().err
    line = one_line(err)
    assert line.startswith("internal error: KeyError") and "please report" in line and "Traceback" not in err

    monkeypatch.setenv("VENDORSCOPE_DEBUG", "1")
    assert run_guarded(command, ["explode"], "vendorscope") == INTERNAL_ERROR
    assert "Traceback" in capsys.readouterr().err
    assert run_guarded(command, ["fine"], "vendorscope") == 0
    monkeypatch.delenv("VENDORSCOPE_DEBUG")
    assert run_guarded(command, ["bad-recog"], "vendorscope") == 2  # bad input, not a bug
    assert one_line(capsys.readouterr().err).startswith("error: recog ($VENDORSCOPE_RECOG")


# ---------------------------------------------------------------- help


def _help_pages(group: Any, path: list[str]) -> list[list[str]]:
    pages = [path]
    for name, command in getattr(group, "commands", {}).items():
        pages += _help_pages(command, [*path, name])
    return pages


def test_help_shows_real_metavars_everywhere() -> None:
    root = typer.main.get_command(app)
    pages = _help_pages(root, [])
    assert {p[0] for p in pages if p} >= set(COMMAND_MODULES)
    for path in pages:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        for python_type in ("<bool>", "<str>", "<int>", "<path>", "<list[", "<float>", "<datetime"):
            assert python_type not in result.output, (path, python_type, result.output)
    assets = runner.invoke(app, ["assets", "--help"]).output
    assert "--db PATH|URL" in assets and "--vendor VENDOR" in assets and "VENDORSCOPE_DB" in assets


def test_help_of_one_importer_shows_its_options() -> None:
    table = runner.invoke(app, ["import", "table", "--help"]).output
    assert "Usage: vendorscope import table [OPTIONS] INPUT..." in table
    assert "--map" in table and "--sheet" in table and "--token" not in table and "--verify-tls" not in table
    netbox = runner.invoke(app, ["import", "netbox", "--help"]).output
    assert "--token" in netbox and "--map" not in netbox
    every = runner.invoke(app, ["import", "--help"]).output
    assert "--token" in every and "--map" in every and "KIND" in every


def test_policies_argument_reads_as_id() -> None:
    usage = runner.invoke(app, ["policies", "--help"]).output.splitlines()[0]
    assert usage == "Usage: vendorscope policies [OPTIONS] [ID] [FILE]..."


# ---------------------------------------------------------------- typos fail loudly


def test_unknown_evidence_kind_is_an_error_with_a_suggestion() -> None:
    result = runner.invoke(app, ["identify", "--kind", "ssh.baner", "SSH-2.0-HUAWEI-1.5"])
    assert result.exit_code == 2
    assert "no such evidence kind (did you mean 'ssh.banner'?)" in one_line(result.output)
    known = runner.invoke(app, ["identify", "--kind", "ssh.banner", "SSH-2.0-HUAWEI-1.5", "-f", "jsonl"])
    assert known.exit_code == 0 and '"huawei"' in known.output


@pytest.mark.parametrize(("args", "suggestion"), [
    (["findings", "--fail-on", "overdu"], "'overdu' is not one of 'overdue', 'prohibited', 'covered' "
                                          "(did you mean 'overdue'?)"),
    (["report", "--format", "htm", "-o", "r.html"], "(did you mean 'html'?)"),
])
def test_a_typo_in_a_choice_suggests_the_value(inventory: Path, args: list[str], suggestion: str) -> None:
    result = runner.invoke(app, [*args, "--db", str(inventory)])
    assert result.exit_code == 2
    assert suggestion in one_line(result.output)


@pytest.mark.parametrize("command", ["assets", "findings"])
def test_a_vendor_typo_suggests_the_vendor(inventory: Path, command: str) -> None:
    result = runner.invoke(app, [command, "--vendor", "huwei", "--db", str(inventory)])
    assert result.exit_code == 2
    assert "--vendor 'huwei': no such vendor (did you mean 'huawei'?)" in one_line(result.output)
    by_name = runner.invoke(app, [command, "--vendor", "Huawei Technologies Co., Ltd.", "--db", str(inventory),
                                  "-f", "jsonl"])
    assert by_name.exit_code == 0 and "olt-1" in by_name.output and "cam-1" not in by_name.output


def test_close_match_ignores_case() -> None:
    assert close_match("HUWEI", ["huawei", "zte"]) == "huawei"
    assert close_match("qqqq", ["huawei", "zte"]) is None


def test_a_mapped_column_the_file_lacks_is_an_error(tmp_path: Path) -> None:
    table = tmp_path / "cmdb.csv"
    table.write_text(INVENTORY_CSV, encoding="utf-8")
    db = tmp_path / "inventory.db"
    result = runner.invoke(app, ["import", "table", str(table), "--map", "manufacturer=Hersteller", "--db", str(db)])
    assert result.exit_code == 2
    line = one_line(result.output)
    assert "--map manufacturer=Hersteller: no such column" in line
    assert "'hostname', 'ip', 'manufacturer', 'model'" in line
    assert not db.exists()
    mapped = runner.invoke(app, ["import", "table", str(table), "--map", "manufacturer=Manufacturer", "--no-db",
                                 "-f", "jsonl"])
    assert mapped.exit_code == 0 and '"huawei"' in mapped.output


def test_importing_a_file_of_the_wrong_kind_stores_nothing(inventory: Path, tmp_path: Path) -> None:
    db = tmp_path / "inventory.db"
    shutil.copy(inventory, db)
    before = runner.invoke(app, ["snapshots", "--db", str(db), "-f", "jsonl"]).output
    not_nmap = tmp_path / "scan.xml"
    not_nmap.write_text('<?xml version="1.0"?><report><host/></report>', encoding="utf-8")
    result = runner.invoke(app, ["import", "nmap", str(not_nmap), "--db", str(db)])
    assert result.exit_code == 1
    assert "not nmap XML" in one_line(result.output) and "nothing was stored" in result.output
    assert runner.invoke(app, ["snapshots", "--db", str(db), "-f", "jsonl"]).output == before
    fresh = tmp_path / "new.db"
    assert runner.invoke(app, ["import", "nmap", str(not_nmap), "--db", str(fresh)]).exit_code == 1
    assert not fresh.exists()


# ---------------------------------------------------------------- environment, quiet, verbose, CI


def test_vendorscope_db_names_the_inventory(inventory: Path) -> None:
    result = runner.invoke(app, ["assets", "-f", "jsonl"], env={"VENDORSCOPE_DB": str(inventory)})
    assert result.exit_code == 0 and "olt-1" in result.output
    flag_wins = runner.invoke(app, ["assets", "--db", str(inventory.with_name("none.db"))],
                              env={"VENDORSCOPE_DB": str(inventory)})
    assert flag_wins.exit_code == 2 and "none.db" in flag_wins.output


def test_quiet_and_verbose(inventory: Path) -> None:
    normal = runner.invoke(app, ["assets", "--db", str(inventory)])
    assert "2 asset(s)" in normal.stderr
    for args in (["-q", "assets"], ["assets", "-q"], ["--quiet", "assets"]):
        quiet = runner.invoke(app, [*args, "--db", str(inventory)])
        assert quiet.exit_code == 0 and quiet.stderr == "" and "olt-1" in quiet.stdout, args
    verbose = runner.invoke(app, ["-v", "findings", "--db", str(inventory), "--policy", "us-ndaa-889"])
    assert "judging with us-ndaa-889 (statutory mode)" in verbose.stderr
    assert "judging with" not in runner.invoke(app, ["findings", "--db", str(inventory)]).stderr
    both = runner.invoke(app, ["-q", "-v", "assets", "--db", str(inventory)])
    assert both.exit_code == 2 and "contradict" in both.output


def test_fail_on_sets_the_exit_code(inventory: Path) -> None:
    prohibited = runner.invoke(app, ["findings", "--db", str(inventory), "--policy", "us-ndaa-889",
                                     "--fail-on", "prohibited"])
    assert prohibited.exit_code == 1
    assert "error: --fail-on prohibited:" in prohibited.stderr and "prohibited" in prohibited.stdout
    advisory_only = runner.invoke(app, ["findings", "--db", str(inventory), "--policy", "au-5g-2018",
                                        "--fail-on", "prohibited", "--fail-on", "overdue"])
    assert advisory_only.exit_code == 0, advisory_only.output
    covered = runner.invoke(app, ["findings", "--db", str(inventory), "--policy", "au-5g-2018",
                                  "--fail-on", "covered"])
    assert covered.exit_code == 1


def test_failing_findings_by_status() -> None:
    def finding(status: Status) -> Finding:
        return Finding(asset_id="a", policy="p", requirement="r", status=status, as_of=date(2026, 1, 1),
                       deadline=None, severity="high", reasons=("why",))

    found = [finding(s) for s in Status]
    assert [f.status for f in failing_findings(found, [FailOn.overdue])] == [Status.overdue]
    assert {f.status for f in failing_findings(found, [FailOn.covered])} == {
        Status.prohibited, Status.must_remove, Status.overdue, Status.restricted, Status.advisory}
    assert failing_findings(found, []) == []
