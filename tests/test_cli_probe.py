"""`vendorscope probe` end to end against small servers on loopback."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from probe_servers import CountingListener, Page, ServerThread, greeting, http, loopback
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.cli.probe import default_audit_path

runner = CliRunner()
OCTET = 10
SSH_HOST, WEB_HOST, IDLE = loopback(OCTET, 0, 1), loopback(OCTET, 0, 2), loopback(OCTET, 0, 3)
OUTSIDE = loopback(50, 0, 1)
NET = f"127.{SSH_HOST.split('.')[1]}.0.0/24"


@pytest.fixture(scope="module")
def servers() -> Iterator[ServerThread]:
    t = ServerThread()
    try:
        t.tcp(SSH_HOST, 2222, greeting(b"SSH-2.0-HUAWEI-1.5\r\n", hold=1))
        t.tcp(WEB_HOST, 8080, http({"/": Page(200, [], b"<title>login</title>")}, server="App-webs/"))
        yield t
    finally:
        t.stop()


@pytest.fixture
def scope_file(tmp_path: Path) -> Path:
    path = tmp_path / "scope.toml"
    path.write_text(f"""
[scope]
allow = ["{NET}"]
ports = [2222, 8080]
udp_ports = [1161]
rate = 1000
per_host = 4
timeout = 0.5
retries = 0
[snmp]
communities = []
""")
    return path


def probe(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["probe", *args])
    return result.exit_code, result.output


def test_without_a_scope_it_refuses() -> None:
    code, out = probe(SSH_HOST)
    assert code == 2 and "no scope" in out and "--scope" in out


def test_malformed_scope_is_one_line_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[scope]\nallow = ["127.0.0.0/8"]\nports = [22,, 23]\n')
    code, out = probe("--scope", str(bad), "--no-db")
    assert code == 2
    assert f"{bad}:3:" in out and len(out.strip().splitlines()) == 1
    assert "Traceback" not in out


def test_target_outside_the_scope_is_refused_before_any_packet(scope_file: Path, tmp_path: Path) -> None:
    listener = CountingListener(OUTSIDE, [2222, 8080, 1161])
    audit = tmp_path / "audit.jsonl"
    try:
        code, out = probe("--scope", str(scope_file), SSH_HOST, OUTSIDE, "--no-db", "--audit-log", str(audit))
        time.sleep(0.2)
        assert code == 2 and "refused, nothing was sent" in out and OUTSIDE in out
        assert listener.poll() == []
        assert not audit.exists()
    finally:
        listener.close()


def test_dry_run_sends_nothing(scope_file: Path, tmp_path: Path) -> None:
    idle = CountingListener(IDLE, [2222, 8080, 1161])  # in scope: would be probed for real
    audit = tmp_path / "audit.jsonl"
    try:
        code, out = probe("--scope", str(scope_file), IDLE, SSH_HOST, "--dry-run", "--format", "jsonl",
                          "--audit-log", str(audit))
        time.sleep(0.2)
        assert code == 0, out
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert [r["target"] for r in rows] == [IDLE, SSH_HOST]
        assert rows[0]["tcp_ports"] == [2222, 8080]
        assert "Nothing was sent" in out
        assert idle.poll() == []
        assert not audit.exists()
    finally:
        idle.close()


def test_probe_prints_one_row_per_device(servers: ServerThread, scope_file: Path, tmp_path: Path) -> None:
    audit, observations = tmp_path / "audit.jsonl", tmp_path / "obs.jsonl"
    code, out = probe("--scope", str(scope_file), SSH_HOST, WEB_HOST, IDLE, "--no-db", "--format", "jsonl",
                      "--audit-log", str(audit), "--observations", str(observations))
    assert code == 0, out
    rows = {tuple(r["ips"]): r for r in (json.loads(line) for line in out.splitlines() if line.startswith("{"))}
    assert set(rows) == {(SSH_HOST,), (WEB_HOST,)}  # the idle address answered nothing: no device
    assert rows[(SSH_HOST,)]["group"] == "huawei" and "ssh.banner" in rows[(SSH_HOST,)]["evidence"]
    assert rows[(WEB_HOST,)]["group"] == "hikvision" and "http.server" in rows[(WEB_HOST,)]["evidence"]
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert {(e["target"], e["port"]) for e in lines if e["probe"] == "tcp.connect"} == {
        (h, p) for h in (SSH_HOST, WEB_HOST, IDLE) for p in (2222, 8080)}
    obs = [json.loads(line) for line in observations.read_text().splitlines()]
    assert {"kind": "ssh.banner", "value": "SSH-2.0-HUAWEI-1.5"}.items() <= next(
        o for o in obs if o["kind"] == "ssh.banner").items()
    assert all(o["source"] == "probe" and o["probe_id"] for o in obs)


def test_csv_output_to_a_file(servers: ServerThread, scope_file: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "devices.csv"
    code, out = probe("--scope", str(scope_file), SSH_HOST, "--no-db", "--format", "csv", "-o", str(out_file),
                      "--audit-log", str(tmp_path / "a.jsonl"))
    assert code == 0, out
    (row,) = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert row["ips"] == SSH_HOST and row["vendor"] == "huawei"


def test_default_audit_log_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_audit_path(None) == tmp_path / "probe-audit.jsonl"
    assert default_audit_path(str(tmp_path / "sub" / "v.db")) == tmp_path / "sub" / "probe-audit.jsonl"
    assert default_audit_path("postgresql://u@h/db") == tmp_path / "probe-audit.jsonl"


def test_probe_stores_a_snapshot(servers: ServerThread, scope_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("vendorscope.store.inventory")
    db = tmp_path / "inventory.db"
    code, out = probe("--scope", str(scope_file), SSH_HOST, "--db", str(db), "--format", "jsonl")
    assert code == 0, out
    assert db.exists() and (tmp_path / "probe-audit.jsonl").exists()
    assert "snapshot" in out
