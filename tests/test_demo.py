"""`make demo` end to end: every step is a real command against the lab on loopback."""

from __future__ import annotations

import socket
from datetime import date
from pathlib import Path

import pytest

from vendorscope.lab.demo import DEMO_BASES, REMOVED_BY_NOVEMBER, DemoPaths, DemoStep, run_demo, start_demo_lab
from vendorscope.model import Status
from vendorscope.store.inventory import open_inventory


@pytest.mark.timeout(600)
def test_demo_runs_the_whole_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    paths = DemoPaths.under(tmp_path / "work", tmp_path / "demo-report.html")
    run_demo(paths, DemoStep(echo=False))

    html = paths.report.read_text("utf-8")
    assert "<svg" in html and "de-5g-2024" in html and "Camp Northwind" in html
    with open_inventory(str(paths.db), create=False) as inv:
        snapshots = inv.snapshots()
        assert [s.source for s in snapshots].count("import:table:northwind-cmdb") == 2
        assert {"probe", "pcap:demo.pcapng"} <= {s.source for s in snapshots}
        assets = inv.assets()
        history = inv.history()
        probed = inv.assets(snapshot_id=next(s.id for s in snapshots if s.source == "probe"))
        may, november = (s.id for s in snapshots if s.source == "import:table:northwind-cmdb")
        changes = inv.diff(may, november)
    groups = {a.verdict.group for a in assets}
    assert {"huawei", "zte", "hikvision", "dahua", "hytera", "cisco"} <= groups
    camera = [a for a in assets if a.conflicts]
    assert any(c.label_vendor == "honeywell" and c.fingerprint_vendor == "hikvision"
               for a in camera for c in a.conflicts), "the white-label camera is flagged"
    # Issue 12: the probed OLT is named by its model (ENTITY-MIB), not by its SSH server.
    olt = [a for a in probed if "olt-ma5800-01" in a.keys.get("hostname", set())]
    assert olt and olt[0].verdict.product == "MA5800-X17"
    military = [a for a in assets if "military" in a.site_tags]
    assert military and all(a.site == "Camp Northwind" for a in military)
    assert len(history) == len(snapshots)
    # The probe only saw what is still installed: removed devices are not probed.
    audit = (paths.work / "probe-audit.jsonl").read_text("utf-8")
    assert audit.count("\n") > 20

    from vendorscope.judge.evaluate import evaluate
    from vendorscope.judge.packs import load_packs

    findings = evaluate(assets, load_packs(), date(2026, 11, 29))
    core = [f for f in findings if f.policy == "de-5g-2024" and f.requirement == "core-2026"
            and f.status is Status.must_remove]
    assert core and all(f.deadline == date(2026, 12, 31) for f in core)
    # Issue 16: `findings --as-of 2026-12-04` shows the FCC router entry (keep using, no removal) and
    # section 805 (DoD contracting; review until an audience is declared) where they apply.
    import json

    from typer.testing import CliRunner

    from vendorscope.cli import app

    result = CliRunner().invoke(app, ["findings", "--db", str(paths.db), "--as-of", "2026-12-04", "--format", "jsonl"])
    december = [json.loads(line) for line in result.output.splitlines()]
    routers = [f for f in december if f["requirement"] == "routers-existing-models" and f["status"] == "restricted"]
    assert routers and all(f["vendor"] == "zte" and f["role"] == "cpe" for f in routers)
    section_805 = [f for f in december if f["policy"] == "us-dod-805-1260h"]
    assert {f["vendor"] for f in section_805} >= {"huawei", "dahua"} and all(f["force"] == "law" for f in section_805)
    # The devices removed between the two inventory exports are what disappeared.
    assert len(changes.disappeared) == len(REMOVED_BY_NOVEMBER) and not changes.appeared


def test_demo_lab_moves_to_a_free_network_when_its_own_is_taken(tmp_path: Path) -> None:
    """A running `lab up` (here: a listener on the first device's SSH port) must not break the demo."""
    taken, free = DEMO_BASES[6], DEMO_BASES[7]
    first_device = taken.replace(".0/24", ".1")
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind((first_device, 22))
    except PermissionError:
        holder.bind((first_device, 10022))
    holder.listen(1)
    step = DemoStep(echo=False)
    try:
        base = start_demo_lab(step, tmp_path / "lab", bases=(taken, free))
    finally:
        holder.close()
        step("lab", "down", "--state-dir", tmp_path / "lab", title="stop", check=False)
    assert base == free


def test_demo_headings_carry_no_escape_codes_into_a_pipe(capfd: pytest.CaptureFixture[str]) -> None:
    DemoStep()("--version", title="0. The version")
    out = capfd.readouterr().out
    assert "== 0. The version" in out and "$ vendorscope --version" in out
    assert "\x1b" not in out
