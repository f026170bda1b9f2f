"""A capture of the lab's exchanges gives the same observations as the probe that caused them.

The lab runs on its own loopback network; tshark captures on ``lo`` filtered to that network while the
probe (deep endpoints and SNMP inventory) asks every high-risk profile; ``vendorscope pcap --observations``
then reads the capture. The SNMP inventory observations must be the same, device by device, and so must the
page bodies (``http.body``) of plain HTTP that the capture can read, with the path that produced each: the
first page and the deep vendor endpoints the probe asks after it on the same keep-alive connection
(collect/pcap/tcp.py reads HTTP message after message), and so must the ONVIF GetDeviceInformation,
UPnP descriptions and favicon hashes it reads there. The capture also holds answers the probe reads
for something else than their body (ONVIF GetDeviceInformation, UPnP descriptions, a 404 for a
favicon): those bodies must answer a path the probe asked (its audit log), never another.
Needs tshark and the right to capture (root); skipped otherwise."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from lab_fixture import lab_fixture
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.collect.probe.audit import AuditLog
from vendorscope.collect.probe.runner import run_probe
from vendorscope.collect.probe.scope import load_scope
from vendorscope.identify.registry import default_registry
from vendorscope.lab import Lab

HIGH_RISK_GROUPS = {"huawei", "zte", "hikvision", "dahua", "hytera"}
COMPARED = ("http.body", "http.favicon_hash", "onvif.", "upnp.", "snmp.syscontact", "snmp.syslocation", "snmp.entity.",
            "snmp.private_")
TLS_PORTS = {443, 8443}

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None or os.geteuid() != 0,
                                reason="needs tshark and root to capture on lo")
lab = lab_fixture()


def _start_capture(network: str, path: Path, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["tshark", "-i", "lo", "-f", f"net {network}", "-w", str(path)],
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    for _ in range(200):  # wait until tshark says it is capturing (not a timing assertion: a readiness wait)
        if "Capturing on" in log.read_text(errors="replace") or proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail(f"tshark did not start: {log.read_text(errors='replace')}")
    return proc


def _stop_capture(proc: subprocess.Popen[bytes]) -> None:
    time.sleep(0.5)  # let the last frames reach the capture buffer
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def _compared(kind: str) -> bool:
    return kind.startswith(COMPARED)


@pytest.fixture(scope="module")
def both(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("pcap-of-lab")
    registry = default_registry()
    devices = [d for d in lab.devices if d.vendor and registry.group_of(d.vendor) in HIGH_RISK_GROUPS]
    scope = load_scope(lab.write_scope(tmp / "scope.toml"))
    capture = tmp / "lab.pcapng"
    proc = _start_capture(str(lab.scope_network()), capture, tmp / "tshark.log")
    try:
        with AuditLog.open(tmp / "audit.jsonl") as log:
            report = run_probe(scope, scope.expand([d.ip for d in devices]), log)
    finally:
        _stop_capture(proc)
    observations = tmp / "pcap-observations.jsonl"
    result = CliRunner().invoke(app, ["pcap", "--no-db", "--format", "jsonl", "-o", str(tmp / "devices.jsonl"),
                                      "--observations", str(observations), str(capture)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in observations.read_text().splitlines() if line.strip()]
    audit = [json.loads(line) for line in (tmp / "audit.jsonl").read_text().splitlines() if line.strip()]
    return {"devices": devices, "probe": report.observations, "pcap": rows, "audit": audit}


Seen = tuple[str, str, str, "str | None"]  # ip, kind, value, and for a body the path that produced it


def _probe_set(both: dict[str, Any], *, first_exchange_only: bool = False) -> set[Seen]:
    out = set()
    for o in both["probe"]:
        if not _compared(o.kind) or o.context.get("port") in TLS_PORTS or o.context.get("tls"):
            continue  # a capture cannot read bodies sent over TLS
        if first_exchange_only and o.kind == "http.body" and o.context.get("probe") != "http.get /":
            continue
        out.add((o.keys.ip, o.kind, o.value, o.context.get("path")))
    return out


def _pcap_set(both: dict[str, Any]) -> set[Seen]:
    return {(r["ip"], r["kind"], r["value"], r.get("path")) for r in both["pcap"]
            if _compared(r["kind"]) and r.get("ip")}


def _snmp(found: set[Seen]) -> set[Seen]:
    return {x for x in found if x[1].startswith("snmp.")}


def _asked(both: dict[str, Any]) -> set[tuple[str, str]]:
    """(target, path) of every HTTP request the probe sent, from its audit log (probe ``http.get /x``)."""
    return {(e["target"], e["probe"].split(" ", 1)[1]) for e in both["audit"]
            if e["probe"].startswith(("http.get ", "http.post ")) and e.get("port") not in TLS_PORTS}


def test_the_capture_gives_the_probes_snmp_inventory(both: dict[str, Any]) -> None:
    probe, pcap = _snmp(_probe_set(both)), _snmp(_pcap_set(both))
    assert {kind for _ip, kind, _v, _path in probe} >= {"snmp.syscontact", "snmp.entity.model_name",
                                                        "snmp.private_model", "snmp.private_firmware"}
    assert probe == pcap


def test_the_capture_gives_the_probes_first_page_bodies(both: dict[str, Any]) -> None:
    probe, pcap = _probe_set(both, first_exchange_only=True), _pcap_set(both)
    assert any(kind == "http.body" for _ip, kind, _v, _path in probe)
    assert probe <= pcap


def test_the_capture_gives_the_deep_endpoint_bodies(both: dict[str, Any]) -> None:
    probe, pcap = _probe_set(both), _pcap_set(both)
    deep = {path for _ip, kind, _v, path in probe if kind == "http.body" and path != "/"}
    assert {"/ISAPI/System/deviceInfo", "/cgi-bin/magicBox.cgi?action=getSystemInfo"} <= deep
    missing = probe - pcap
    assert not missing, f"the probe's observations the capture does not give: {sorted(missing)[:5]}"


def test_the_capture_gives_the_probes_onvif_upnp_and_favicon(both: dict[str, Any]) -> None:
    """GetDeviceInformation, UPnP descriptions and the icon: the probe reads them on the same keep-alive connection."""
    probe, pcap = _probe_set(both), _pcap_set(both)
    documents = {x for x in probe if x[1].startswith(("onvif.", "upnp."))}
    assert {kind for _ip, kind, _v, _path in documents} >= {"onvif.manufacturer", "onvif.model", "upnp.manufacturer",
                                                            "upnp.model"}
    icons = {x for x in probe if x[1] == "http.favicon_hash"}
    assert icons and icons == {x for x in pcap if x[1] == "http.favicon_hash"}
    assert documents <= pcap
    assert documents == {x for x in pcap if x[1].startswith(("onvif.", "upnp."))}


def test_every_body_the_capture_adds_answers_a_path_the_probe_asked(both: dict[str, Any]) -> None:
    added = {(ip, path) for ip, kind, _v, path in _pcap_set(both) - _probe_set(both) if kind == "http.body"}
    assert added  # the ONVIF and UPnP answers the probe reads for other evidence
    assert added <= _asked(both)


def test_every_high_risk_profile_is_compared(both: dict[str, Any]) -> None:
    seen = {ip for ip, _kind, _value, _path in _probe_set(both, first_exchange_only=True)}
    plain = [d for d in both["devices"] if set(d.services) & {"http", "snmp"}]
    assert len(plain) >= len(HIGH_RISK_GROUPS)  # every high-risk maker has a plain-HTTP or SNMP profile
    missing = [d.profile for d in plain if d.ip not in seen]
    assert not missing, f"profiles without a body or SNMP inventory in the capture: {missing}"




# What a capture does not tell the same way: that a port is open (it reads what was said, not who
# answered), and LLDP neighbours from the SNMP lldpRemTable (compared on their own below).
NOT_FROM_ONE_MESSAGE = ("tcp.open", "lldp.", "mac")


Said = set[tuple[str, str, str]]


def _everything(both: dict[str, Any], kinds: tuple[str, ...]) -> tuple[Said, Said]:
    """(probe, capture) as (ip, or MAC for what has none; kind; value), for the probe's plain TCP and UDP."""
    probe = {(o.keys.ip or o.keys.mac, o.kind, o.value) for o in both["probe"]
             if o.context.get("port") not in TLS_PORTS and not o.context.get("tls") and o.kind.startswith(kinds)}
    pcap = {(r.get("ip") or r.get("mac"), r["kind"], r["value"]) for r in both["pcap"] if r["kind"].startswith(kinds)}
    return probe, pcap


def test_every_probe_observation_over_plain_tcp_and_udp_is_in_the_capture(both: dict[str, Any]) -> None:
    """Everything the probe learned without TLS, the capture of its exchanges tells too (server, realm,
    title, bodies, ONVIF, UPnP, icon, RTSP, SSH, telnet, SNMP), but for NOT_FROM_ONE_MESSAGE."""
    probe, pcap = _everything(both, ("",))
    probe = {x for x in probe if not x[1].startswith(NOT_FROM_ONE_MESSAGE)}
    assert len(probe) > 100
    missing = probe - pcap
    assert not missing, f"{len(missing)} probe observations the capture does not give: {sorted(missing)[:5]}"


def test_the_capture_gives_the_snmp_lldp_neighbours(both: dict[str, Any]) -> None:
    probe, pcap = _everything(both, ("lldp.",))
    assert probe and probe <= pcap
