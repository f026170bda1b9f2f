"""`vendorscope probe` against the whole lab: every device's vendor, the white-label
camera's conflict, hostile hosts that end in time, and the scope that refuses."""

from __future__ import annotations

import ipaddress
import json
import time
from pathlib import Path
from typing import Any

import pytest
from lab_fixture import lab_fixture
from probe_servers import CountingListener, loopback
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.collect.probe.audit import AuditLog
from vendorscope.collect.probe.runner import ProbeReport, run_probe
from vendorscope.collect.probe.scope import Scope, load_scope
from vendorscope.identify.registry import default_registry
from vendorscope.lab import Lab
from vendorscope.model import Asset
from vendorscope.pipeline import to_assets

lab = lab_fixture()
HIGH_RISK_GROUPS = {"huawei", "zte", "hikvision", "dahua", "hytera"}


@pytest.fixture(scope="module")
def probed(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("probe-lab")
    scope_path = lab.write_scope(tmp / "scope.toml")
    scope = load_scope(scope_path)
    audit = tmp / "audit.jsonl"
    with AuditLog.open(audit) as log:
        report = run_probe(scope, scope.expand([d.ip for d in lab.devices]), log)
    assets = to_assets(report.observations)
    by_ip = {ip: a for a in assets for ip in a.keys.get("ip", ())}
    return {"report": report, "assets": by_ip, "audit": audit, "scope": scope, "scope_path": scope_path}


def asset_of(probed: dict[str, Any], ip: str) -> Asset | None:
    return probed["assets"].get(ip)  # type: ignore[no-any-return]


def test_every_device_is_attributed_to_its_vendor_group(lab: Lab, probed: dict[str, Any]) -> None:
    registry = default_registry()
    wrong, unattributed = [], []
    for device in lab.devices:
        if device.vendor is None:
            continue
        asset = asset_of(probed, device.ip)
        if asset is None or not asset.attributions:
            unattributed.append(device.name)
            continue
        expected = registry.group_of(device.vendor)
        if asset.verdict.group != expected:
            evidence = sorted({(o.kind, o.value[:60]) for o in asset.observations if o.kind != "tcp.open"})
            wrong.append(f"{device.name}: expected {expected}, got {asset.verdict.group} from {evidence}")
    assert not wrong, "\n".join(wrong)
    high_risk_missing = [n for n in unattributed
                         if registry.group_of(lab.device(n).vendor or "") in HIGH_RISK_GROUPS]
    assert not high_risk_missing, f"high-risk devices without any attribution: {high_risk_missing}"


def test_the_white_label_camera_is_a_conflict(lab: Lab, probed: dict[str, Any]) -> None:
    labelled = [d for d in lab.devices if d.conflict]
    assert labelled
    for device in labelled:
        asset = asset_of(probed, device.ip)
        assert asset is not None and asset.conflicts, device.name
        assert asset.verdict.group == default_registry().group_of(device.vendor or "")
    for device in lab.devices:
        if not device.conflict and device.fault is None and (asset := asset_of(probed, device.ip)):
            assert not asset.conflicts, (device.name, [c.detail for c in asset.conflicts])


def test_faulty_hosts_end_within_their_timeouts_and_the_run_finishes(lab: Lab, probed: dict[str, Any]) -> None:
    report: ProbeReport = probed["report"]
    scope: Scope = probed["scope"]
    assert [h.target for h in report.hosts] == [d.ip for d in lab.devices]  # every host got an answer
    faulty = {d.ip: d for d in lab.devices if d.fault}
    assert faulty
    lines = [json.loads(line) for line in probed["audit"].read_text().splitlines()]
    one_try = scope.timeout * (scope.retries + 1) + 1.0
    for entry in lines:
        if entry["target"] not in faulty:
            continue
        # Generous ceilings: the point is that nothing waits on a hostile host for ever.
        ceiling = one_try * 3 if entry["probe"].startswith("snmp.walk") else one_try
        assert entry["duration"] <= ceiling * 2 + 2.0, entry
    for ip, device in faulty.items():
        ports = {e["port"] for e in lines if e["target"] == ip and e["probe"] == "tcp.connect"}
        assert ports >= set(device.tcp_ports()), device.name  # every service was tried
        for obs in report.hosts[[h.target for h in report.hosts].index(ip)].observations:
            assert obs.value and len(obs.value) <= 4096


def test_audit_has_one_line_per_probe(lab: Lab, probed: dict[str, Any]) -> None:
    report: ProbeReport = probed["report"]
    lines = [json.loads(line) for line in probed["audit"].read_text().splitlines()]
    assert len(lines) == report.probes
    ips = {d.ip for d in lab.devices}
    assert {e["target"] for e in lines} == ips
    assert all({"time", "target", "port", "probe", "outcome", "duration"} <= set(e) for e in lines)
    ids = {e["probe_id"] for e in lines}
    assert all(o.context["probe_id"] in ids for o in report.observations)


def test_outside_the_scope_is_refused_before_any_connection(lab: Lab, probed: dict[str, Any],
                                                            tmp_path: Path) -> None:
    outside = loopback(30, 0, 1)
    scope: Scope = probed["scope"]
    listener = CountingListener(outside, [*scope.ports[:3], *scope.udp_ports])
    try:
        result = CliRunner().invoke(app, ["probe", "--scope", str(probed["scope_path"]), lab.devices[0].ip,
                                          outside, "--no-db", "--audit-log", str(tmp_path / "a.jsonl")])
        time.sleep(0.2)
        assert result.exit_code == 2 and "refused, nothing was sent" in result.output
        assert listener.poll() == []
        assert not (tmp_path / "a.jsonl").exists()
    finally:
        listener.close()


def test_dry_run_sends_nothing(lab: Lab, probed: dict[str, Any], tmp_path: Path) -> None:
    witness = loopback(20, 0, 1)  # allowed, so a real run would connect to it
    scope: Scope = probed["scope"]
    scope_path = tmp_path / "scope.toml"
    text = probed["scope_path"].read_text()
    allow = f'allow = ["{scope.allow[0]}"]'
    scope_path.write_text(text.replace(allow, f'allow = ["{scope.allow[0]}", "{witness}/32"]'))
    listener = CountingListener(witness, [*scope.ports[:3], *scope.udp_ports])
    try:
        result = CliRunner().invoke(app, ["probe", "--scope", str(scope_path), witness,
                                          *(d.ip for d in lab.devices), "--dry-run", "--format", "jsonl",
                                          "--audit-log", str(tmp_path / "a.jsonl")])
        time.sleep(0.2)
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
        assert len(rows) == len(lab.devices) + 1
        assert listener.poll() == []
        assert not (tmp_path / "a.jsonl").exists()
    finally:
        listener.close()


def test_deep_endpoints_of_every_high_risk_profile_are_recorded(lab: Lab, probed: dict[str, Any]) -> None:
    """Each profile's vendor endpoints (cited answers in devices.toml) come back as http.body naming its maker,
    and the audit log names no address outside the lab's scope."""
    from vendorscope.identify.engine import default_engine
    from vendorscope.lab.profiles import load_profiles

    answers = {p.name: {a.path for svc in (p.http, p.https) if svc for a in svc.answers} for p in load_profiles()}
    engine, registry = default_engine(), default_registry()
    missing = []
    checked = 0
    for device in lab.devices:
        paths = answers.get(device.profile) or set()
        if not paths or registry.group_of(device.vendor or "") not in HIGH_RISK_GROUPS:
            continue
        checked += 1
        bodies = [o for o in probed["report"].observations if o.kind == "http.body" and o.keys.ip == device.ip]
        for path in paths:
            named = {a.vendor for o in bodies if o.context.get("path") == path
                     for a in engine.identify_value("http.body", o.value)}
            if path not in {"/api/device/basic_information"} and device.vendor not in named:
                missing.append(f"{device.name} {path}: {sorted(named)}")
            if not any(o.context.get("path") == path for o in bodies):
                missing.append(f"{device.name} {path}: not recorded")
    assert checked >= 6 and not missing, missing
    scope = probed["scope"]
    lines = [json.loads(line) for line in probed["audit"].read_text().splitlines()]
    deep_steps = [line for line in lines if any(p in str(line.get("probe")) for p in ("/ISAPI/", "/redfish/"))]
    assert deep_steps and all(scope.allows(ipaddress.ip_address(line["target"])) for line in deep_steps)
