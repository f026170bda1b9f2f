"""`vendorscope identify`, `vendors`, `rules check`: end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.model import EVIDENCE_KINDS

runner = CliRunner()


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=input)


def test_identify_one_value() -> None:
    r = run("identify", "--kind", "ssh.banner", "SSH-2.0-HUAWEI-1.5")
    assert r.exit_code == 0, r.output
    assert "huawei" in r.output and "ssh." in r.output


def test_identify_one_value_jsonl() -> None:
    r = run("identify", "--kind", "ssh.banner", "SSH-2.0-HUAWEI-1.5", "--format", "jsonl")
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert rows[0]["group"] == "huawei"
    assert set(rows[0]) >= {"vendor", "vendor_name", "group", "product", "version", "device_type",
                            "confidence", "rule"}


def test_identify_mac() -> None:
    r = run("identify", "--mac", "00:e0:fc:12:34:56")
    assert r.exit_code == 0
    assert "huawei technologies" in r.output.lower() and "00:E0:FC" in r.output
    r = run("identify", "--mac", "00:e0:fc:12:34:56", "--format", "jsonl")
    row = json.loads(r.output)
    assert row["vendor"] == "huawei" and row["block"] == "MA-L"


def test_identify_local_mac_is_not_attributed() -> None:
    r = run("identify", "--mac", "02:00:00:aa:bb:cc")
    assert r.exit_code == 0 and "locally administered" in r.output


def test_identify_bad_mac_one_line_error() -> None:
    r = run("identify", "--mac", "nonsense")
    assert r.exit_code == 2 and "not a MAC address" in r.output and "Traceback" not in r.output


def test_list_kinds() -> None:
    r = run("identify", "--list-kinds")
    kinds = r.output.split()
    for kind in EVIDENCE_KINDS:
        assert kind in kinds


def test_file_jsonl_keeps_numbering_and_fields(tmp_path: Path) -> None:
    src = tmp_path / "obs.jsonl"
    lines = [
        json.dumps({"kind": "ssh.banner", "value": "SSH-2.0-HUAWEI-1.5", "ip": "192.0.2.1", "site": "x"}),
        "{not json",
        json.dumps({"kind": "mac", "value": "00:e0:fc:00:00:01"}),
        json.dumps([1, 2]),
        "",
        json.dumps({"kind": "snmp.sysobjectid", "value": "1.3.6.1.4.1.3902.1"}),
    ]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = run("identify", str(src), "--format", "jsonl", "-o", str(out))
    assert r.exit_code == 1  # bad lines are reported ...
    assert "line 2" in r.output and "line 4" in r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == len(lines)  # ... but never shift the numbering
    assert rows[0]["ip"] == "192.0.2.1" and rows[0]["site"] == "x"
    assert rows[0]["attributions"][0]["group"] == "huawei"
    assert "error" in rows[1] and "error" in rows[3] and "error" in rows[4]
    assert rows[2]["attributions"][0]["vendor"] == "huawei"
    assert rows[5]["attributions"][0]["group"] == "zte"


def test_file_invalid_utf8_and_nul(tmp_path: Path) -> None:
    src = tmp_path / "obs.jsonl"
    src.write_bytes(b'{"kind": "ssh.banner", "value": "SSH-2.0-HUAWEI-1.5 \xff\xfe"}\n'
                    b'{"kind": "ssh.banner", "value": "a\\u0000b"}\n')
    r = run("identify", str(src), "--format", "jsonl")
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in r.output.splitlines()]
    assert rows[0]["attributions"][0]["group"] == "huawei"
    assert rows[1]["attributions"] == []


def test_stdin_and_csv() -> None:
    data = json.dumps({"kind": "http.server", "value": "App-webs/"}) + "\n"
    r = run("identify", "-", "--format", "csv", input=data)
    assert r.exit_code == 0
    header, first = r.output.splitlines()[:2]
    assert header.startswith("line,kind,value,vendor")
    assert "hikvision" in first


def test_missing_file_one_line_error() -> None:
    r = run("identify", "/nonexistent/obs.jsonl")
    assert r.exit_code == 2 and "no such file" in r.output


def test_vendors_list_and_show() -> None:
    r = run("vendors", "--format", "jsonl")
    rows = [json.loads(x) for x in r.output.splitlines()]
    assert len(rows) >= 150
    r = run("vendors", "huawei")
    assert r.exit_code == 0
    for text in ("Huawei", "华为", "2011", "Honor", "2020-11-17", "HiSilicon", "MAC prefixes"):
        assert text in r.output, text
    r = run("vendors", "huawei", "--format", "jsonl")
    data = json.loads(r.output)
    assert data["mac_prefixes"] > 100 and 2011 in data["enterprise_numbers"]


def test_vendors_unknown() -> None:
    r = run("vendors", "no-such-vendor-xyz")
    assert r.exit_code == 2 and "no vendor" in r.output


def test_rules_check_passes_on_bundled_rules() -> None:
    r = run("rules", "check")
    assert r.exit_code == 0, r.output
    assert "0 errors" in r.output


def test_rules_check_reports_a_broken_rule(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        """
[[rule]]
id = "test.contradiction"
kind = "ssh.banner"
pattern = 'HUAWEI'
vendor = "cisco"
examples = ["SSH-2.0-HUAWEI-1.5", "nothing here"]
counterexamples = ["HUAWEI"]
""",
        encoding="utf-8",
    )
    r = run("rules", "check", str(bad))
    assert r.exit_code == 1
    assert "contradicts" in r.output and "does not match" in r.output and "counterexample matches" in r.output


def test_installed_entry_point() -> None:
    exe = Path(sys.executable).with_name("vendorscope")
    r = subprocess.run([str(exe), "identify", "--kind", "ssh.banner", "SSH-2.0-HUAWEI-1.5", "-f", "jsonl"],
                       capture_output=True, text=True, check=True)
    assert json.loads(r.stdout.splitlines()[0])["group"] == "huawei"


def test_every_command_is_mapped_to_its_module() -> None:
    import importlib

    from vendorscope.cli import COMMAND_MODULES, load_commands
    from vendorscope.cli.application import app as the_app

    load_commands()
    registered = {c.name or c.callback.__name__ for c in the_app.registered_commands}
    registered |= {g.name for g in the_app.registered_groups}
    assert registered == set(COMMAND_MODULES)
    for command in the_app.registered_commands:
        module = importlib.import_module(command.callback.__module__)
        assert module.__name__.rsplit(".", 1)[1] == COMMAND_MODULES[command.name or command.callback.__name__]


def test_one_command_imports_only_its_module() -> None:
    code = ("import sys; sys.argv = ['vendorscope', 'identify', '--list-kinds']\n"
            "from vendorscope.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'vendorscope.store.inventory' not in sys.modules, 'store loaded for identify'\n"
            "assert 'sqlalchemy' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.parametrize("command", sorted(__import__("vendorscope.cli").cli.COMMAND_MODULES))
def test_each_command_runs_alone_from_the_entry_point(command: str) -> None:
    exe = Path(sys.executable).with_name("vendorscope")
    r = subprocess.run([str(exe), command, "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"vendorscope {command}" in r.stdout
