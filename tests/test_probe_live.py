"""The probes against real servers on loopback: well-behaved ones, hostile ones, and the scope gate."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from probe_servers import (
    CountingListener,
    GarbageUdp,
    Page,
    ServerThread,
    endless_http_head,
    garbage,
    greeting,
    http,
    loopback,
    malformed_http,
    reset_mid_banner,
    rtsp,
    self_signed_context,
    silent,
    snmp_agent,
    telnet,
)
from pysnmp.proto import rfc1902

from vendorscope.collect.probe.audit import AuditLog, MemoryAudit
from vendorscope.collect.probe.gate import Gate, TokenBucket
from vendorscope.collect.probe.http import favicon_hash
from vendorscope.collect.probe.runner import ProbeReport, probe_targets, run_probe
from vendorscope.collect.probe.scope import Scope, ScopeViolation, parse_scope
from vendorscope.model import Observation
from vendorscope.pipeline import to_assets

OCTET = 60
H1, H2, H3, H4, H5, H6 = (loopback(OCTET, 0, i) for i in range(1, 7))
PORTS = [2121, 2222, 2323, 2525, 8080, 8443, 8554, 9000, 9001]
V3 = ("vsuser", "authkey-123", "privkey-123")
SNMP_PORT = 1161
LLDP = "1.0.8802.1.1.2.1.4.1.1"

ONVIF_ACME = (
    b'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
    b'<tds:GetDeviceInformationResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
    b"<tds:Manufacturer>Acme</tds:Manufacturer><tds:Model>AC-100</tds:Model>"
    b"<tds:FirmwareVersion>V5.5.0</tds:FirmwareVersion><tds:SerialNumber>SN42</tds:SerialNumber>"
    b"</tds:GetDeviceInformationResponse></s:Body></s:Envelope>"
)
UPNP = (b'<root xmlns="urn:schemas-upnp-org:device-1-0"><device><manufacturer>Hikvision</manufacturer>'
        b"<modelName>DS-2CD2032</modelName></device></root>")


def scope_text(octet: int = OCTET, *, communities: str = '["public"]', v3: bool = True, per_host: int = 4,
               extra: str = "") -> str:
    text = f"""
[scope]
allow = ["127.{loopback(octet, 0, 0).split('.')[1]}.0.0/24"]
ports = {PORTS}
udp_ports = [{SNMP_PORT}]
rate = 5000
per_host = {per_host}
timeout = 1.5
retries = 1
banner_wait = 0.3
{extra}
[snmp]
communities = {communities}
"""
    if v3:
        text += f"""
[[snmp.v3]]
user = "{V3[0]}"
auth_protocol = "SHA"
auth_key = "{V3[1]}"
priv_protocol = "AES"
priv_key = "{V3[2]}"
"""
    return text


def flaky_http() -> Any:
    """Hangs up on the first request, answers the next: the client must retry once."""
    served = http({"/": Page(200, [("Server", "DNVRS-Webs")], b"<title>NVR</title>")})
    calls = {"n": 0}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            await reader.readuntil(b"\r\n\r\n")
            return  # close without an answer
        await served(reader, writer)

    return handler


@pytest.fixture(scope="module")
def lab() -> Iterator[ServerThread]:
    t = ServerThread()
    try:
        # H1: server-speaks-first services.
        t.tcp(H1, 2222, greeting(b"SSH-2.0-HUAWEI-1.5\r\n", hold=1))
        t.tcp(H1, 2121, greeting(b"220-Welcome\r\n220 ZTE FTP server ready\r\n", hold=1))
        t.tcp(H1, 2323, telnet(b"\r\nWarning: Telnet is not secure\r\nHuawei login: "))
        t.tcp(H1, 2525, greeting(b"220 mail.example ESMTP Postfix\r\n", hold=1))
        # H2: a camera: HTTP with redirect, favicon, ONVIF and UPnP; HTTPS; RTSP.
        t.tcp(H2, 8080, http({
            "/": Page(302, [("Location", "/doc/page/login.asp")]),
            "/doc/page/login.asp": Page(200, [("Content-Type", "text/html")],
                                        b"<html><head><title>  Hik  Login </title></head></html>"),
            "/favicon.ico": Page(200, [("Content-Type", "image/x-icon")], b"\x00\x00\x01\x00icon"),
            "/onvif/device_service": Page(200, [("Content-Type", "application/soap+xml")], ONVIF_ACME),
            "/rootDesc.xml": Page(200, [("Content-Type", "text/xml")], UPNP),
        }, server="App-webs/"))
        t.tcp(H2, 8443, http({"/": Page(401, [("WWW-Authenticate", 'Basic realm="IP Camera(C6423)"')])},
                             server="Hikvision-Webs"), tls=self_signed_context("IPC", "Hikvision"))
        t.tcp(H2, 8554, rtsp("Hikvision RTSP Server"))
        # H3: every misbehaviour.
        t.tcp(H3, 2222, silent)
        t.tcp(H3, 2121, reset_mid_banner)
        t.tcp(H3, 9000, garbage)
        t.tcp(H3, 8080, malformed_http)
        t.tcp(H3, 8443, endless_http_head)
        t.tcp(H3, 8554, silent)
        t.tcp(H3, 9001, silent)
        t.udp(H3, SNMP_PORT, GarbageUdp)
        # H4: an SNMP agent (v2c and v3) with one LLDP neighbour.
        snmp_agent(t, H4, SNMP_PORT, {
            "1.3.6.1.2.1.1.1.0": rfc1902.OctetString(b"Huawei Versatile Routing Platform Software\r\nVRP (R) 8.180"),
            "1.3.6.1.2.1.1.2.0": rfc1902.ObjectIdentifier("1.3.6.1.4.1.2011.2.224.279"),
            "1.3.6.1.2.1.1.5.0": rfc1902.OctetString(b"core-router-1"),
            f"{LLDP}.4.0.5.1": rfc1902.Integer(4),
            f"{LLDP}.5.0.5.1": rfc1902.OctetString(b"\x00\x19\xc6\x12\x34\x56"),
            f"{LLDP}.9.0.5.1": rfc1902.OctetString(b"zte-olt-1"),
            f"{LLDP}.10.0.5.1": rfc1902.OctetString(b"ZXA10 C300, ZTE Corporation"),
        }, v3_user=V3)
        # H5: HTTP and HTTPS on ports whose number says nothing; H6: a server that drops the first request.
        t.tcp(H5, 9000, http({"/": Page(200, [], b"<title>Dahua WEB SERVICE</title>")}, server="DH-Web"))
        t.tcp(H5, 9001, http({"/": Page(200, [], b"<title>TLS page</title>")}, server="Webs"),
              tls=self_signed_context("ZXHN F670L", "ZTE Corporation"))
        t.tcp(H6, 8080, flaky_http())
        yield t
    finally:
        t.stop()


@pytest.fixture(scope="module")
def run(lab: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> tuple[ProbeReport, Path, Scope]:
    scope = parse_scope(scope_text(), "live.toml")
    audit_path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with AuditLog.open(audit_path) as audit:
        report = run_probe(scope, [H1, H2, H3, H4, H5, H6], audit)
    return report, audit_path, scope


def values(report: ProbeReport, ip: str | None = None, mac: str | None = None) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for o in report.observations:
        if (ip is None or o.keys.ip == ip) and (mac is None or o.keys.mac == mac):
            out.setdefault(o.kind, set()).add(o.value)
    return out


def test_greetings(run: tuple[ProbeReport, Path, Scope]) -> None:
    seen = values(run[0], H1)
    assert seen["ssh.banner"] == {"SSH-2.0-HUAWEI-1.5"}
    assert seen["ftp.banner"] == {"220-Welcome\n220 ZTE FTP server ready"}
    # The telnet server only talks to a client that answers its negotiation.
    assert seen["telnet.banner"] == {"Warning: Telnet is not secure\nHuawei login:"}
    assert seen["smtp.banner"] == {"220 mail.example ESMTP Postfix"}
    assert seen["tcp.open"] == {"2121", "2222", "2323", "2525"}


def test_camera_web_rtsp_tls(run: tuple[ProbeReport, Path, Scope]) -> None:
    seen = values(run[0], H2)
    assert seen["http.server"] == {"App-webs/", "Hikvision-Webs"}, audit_of(run, H2)
    assert seen["http.title"] == {"Hik Login"}  # after the redirect
    assert seen["http.www_authenticate"] == {'Basic realm="IP Camera(C6423)"'}
    assert seen["http.favicon_hash"] == {favicon_hash(b"\x00\x00\x01\x00icon")}
    assert seen["onvif.manufacturer"] == {"Acme"} and seen["onvif.model"] == {"AC-100"}
    assert seen["upnp.manufacturer"] == {"Hikvision"} and seen["upnp.model"] == {"DS-2CD2032"}
    assert seen["tls.cert.subject"] == {"O=Hikvision,CN=IPC"} == seen["tls.cert.issuer"]
    assert seen["rtsp.server"] == {"Hikvision RTSP Server"}
    assert seen["rtsp.www_authenticate"] == {'Digest realm="IP Camera(C6423)", nonce="abc"'}
    onvif = next(o for o in run[0].observations if o.kind == "onvif.model")
    assert onvif.keys.serial == "SN42" and onvif.context["firmware"] == "V5.5.0"
    assert onvif.source == "probe" and onvif.seen_at is not None and onvif.seen_at.tzinfo is not None
    assert onvif.context["port"] == 8080 and onvif.context["probe"] == "http.post /onvif/device_service"


def test_white_label_camera_is_a_conflict(run: tuple[ProbeReport, Path, Scope]) -> None:
    (asset,) = [a for a in to_assets(run[0].observations) if H2 in a.keys.get("ip", ())]
    if not any(a.observation and a.observation.kind == "http.server" for a in asset.attributions):
        pytest.skip("no http.server rule for App-webs/ in this tree")
    assert asset.verdict.group == "hikvision"


def audit_of(run: tuple[ProbeReport, Path, Scope], ip: str) -> str:
    lines = [json.loads(line) for line in run[1].read_text().splitlines()]
    return "\n".join(f"{e['port']} {e['probe']} {e['outcome']} {e['duration']:.3f} {e.get('detail', '')}"
                     for e in lines if e["target"] == ip)


def test_unknown_ports_are_asked_in_http_then_tls(run: tuple[ProbeReport, Path, Scope]) -> None:
    seen = values(run[0], H5)
    assert seen["http.server"] == {"DH-Web", "Webs"}, audit_of(run, H5)
    assert seen["http.title"] == {"Dahua WEB SERVICE", "TLS page"}
    assert seen["tls.cert.subject"] == {"O=ZTE Corporation,CN=ZXHN F670L"}


def test_a_dropped_request_is_retried_once(run: tuple[ProbeReport, Path, Scope]) -> None:
    assert values(run[0], H6)["http.server"] == {"DNVRS-Webs"}
    lines = [json.loads(line) for line in run[1].read_text().splitlines()]
    gets = [e for e in lines if e["target"] == H6 and e["probe"] == "http.get /"]
    assert [e["outcome"] for e in gets] == ["eof", "http 200"]


def test_snmp_system_and_lldp_neighbours(run: tuple[ProbeReport, Path, Scope]) -> None:
    seen = values(run[0], H4)
    assert seen["snmp.sysdescr"] == {"Huawei Versatile Routing Platform Software\nVRP (R) 8.180"}
    assert seen["snmp.sysobjectid"] == {"1.3.6.1.4.1.2011.2.224.279"}
    assert seen["snmp.sysname"] == {"core-router-1"}
    neighbour = values(run[0], mac="00:19:c6:12:34:56")
    assert neighbour == {"mac": {"00:19:c6:12:34:56"}, "lldp.chassis_id": {"00:19:c6:12:34:56"},
                         "lldp.sysname": {"zte-olt-1"}, "lldp.sysdescr": {"ZXA10 C300, ZTE Corporation"}}
    lldp = next(o for o in run[0].observations if o.kind == "lldp.sysname")
    assert lldp.keys.ip is None and lldp.keys.hostname == "zte-olt-1"
    assert lldp.context["reported_by"] == H4 and lldp.context["local_port"] == 5
    assets = to_assets(run[0].observations)
    assert any(a.keys.get("mac") == {"00:19:c6:12:34:56"} and not a.keys.get("ip") for a in assets)


def test_hostile_host_is_reported_with_what_was_learned(run: tuple[ProbeReport, Path, Scope]) -> None:
    seen = values(run[0], H3)
    # All its ports accepted; the partial SSH banner before the reset and the Server
    # header of the never-ending head are kept; garbage and silence give nothing.
    assert seen["tcp.open"] == {"2121", "2222", "8080", "8443", "8554", "9000", "9001"}
    assert seen["ssh.banner"] == {"SSH-2.0-HUAWEI-1"}
    assert seen["http.server"] == {"App-webs/"}
    assert set(seen) == {"tcp.open", "ssh.banner", "http.server"}
    lines = [json.loads(line) for line in run[1].read_text().splitlines()]
    outcomes = {(e["port"], e["probe"]): e["outcome"] for e in lines if e["target"] == H3}
    assert outcomes[(2222, "tcp.greeting")] == "silent"
    assert outcomes[(2121, "tcp.greeting")] == "answered"
    assert outcomes[(9000, "tcp.greeting")] == "answered"  # cut at the cap
    assert outcomes[(8080, "http.get /")] == "malformed"
    assert outcomes[(8554, "rtsp.options")] == "timeout"
    assert outcomes[(SNMP_PORT, "snmp.get v2c community#1")] == "timeout"  # garbage answers are dropped
    assert run[0].stats["hosts"] == 6  # and the run finished


def test_audit_has_one_line_per_probe(run: tuple[ProbeReport, Path, Scope]) -> None:
    report, audit_path, _ = run
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert len(lines) == report.probes > 0
    for entry in lines:
        assert {"time", "target", "port", "probe", "outcome", "duration", "probe_id"} <= set(entry)
        assert entry["target"] in (H1, H2, H3, H4, H5, H6)
    ids = {e["probe_id"] for e in lines}
    assert len(ids) == len(lines)
    assert all(o.context["probe_id"] in ids for o in report.observations)
    assert not any("authkey" in line or "public" in line for line in audit_path.read_text().splitlines())


def test_closed_ports_are_audited_as_closed(run: tuple[ProbeReport, Path, Scope]) -> None:
    lines = [json.loads(line) for line in run[1].read_text().splitlines()]
    closed = {e["port"] for e in lines if e["target"] == H4 and e["probe"] == "tcp.connect"}
    assert closed == set(PORTS)
    assert all(e["outcome"] == "closed" for e in lines if e["target"] == H4 and e["probe"] == "tcp.connect")


def test_snmp_v3_only(lab: ServerThread) -> None:
    scope = parse_scope(scope_text(communities="[]").replace(f"ports = {PORTS}", "ports = [2222]"), "v3.toml")
    report = run_probe(scope, [H4], MemoryAudit())
    seen = values(report, H4)
    assert seen["snmp.sysname"] == {"core-router-1"}
    assert {o.context["snmp"] for o in report.observations if o.kind.startswith("snmp.")} == {"v3"}
    assert "lldp.sysdescr" in values(report)


def test_snmp_wrong_credentials_learn_nothing(lab: ServerThread) -> None:
    scope = parse_scope(scope_text(communities='["wrong"]', v3=False).replace(f"ports = {PORTS}", "ports = [2222]"),
                        "wrong.toml")
    audit = MemoryAudit()
    report = run_probe(scope, [H4], audit)
    assert not [o for o in report.observations if o.kind.startswith("snmp.")]
    assert [e["outcome"] for e in audit.entries if e["probe"].startswith("snmp")] == ["timeout"]


def test_out_of_scope_target_is_refused_before_any_packet(lab: ServerThread) -> None:
    outside = loopback(40, 0, 1)  # loopback, but not in the scope
    listener = CountingListener(outside, [8080, SNMP_PORT])
    try:
        scope = parse_scope(scope_text(), "live.toml")
        audit = MemoryAudit()
        with pytest.raises(ScopeViolation, match="outside scope live.toml"):
            run_probe(scope, [H1, outside], audit)
        with pytest.raises(ScopeViolation):
            scope.expand([outside])

        async def through_the_gate() -> None:
            gate = Gate(scope, audit)
            with pytest.raises(ScopeViolation):
                await gate.open(outside, 8080)
            with pytest.raises(ScopeViolation):
                async with gate.udp(outside, SNMP_PORT, "snmp.get", 1.0):
                    raise AssertionError("must not get here")
            with pytest.raises(ScopeViolation):  # in scope, but the port is not
                await gate.open(H1, 22)

        asyncio.run(through_the_gate())
        time.sleep(0.2)
        assert listener.poll() == []
        assert [e["outcome"] for e in audit.entries] == ["out-of-scope"] * 3
    finally:
        listener.close()


def test_per_host_and_global_bounds_hold(lab: ServerThread) -> None:
    host, other = loopback(OCTET, 0, 50), loopback(OCTET, 0, 51)
    accepted: list[tuple[str, int]] = []

    def holding(port: int, ip: str) -> Any:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append((ip, port))
            await reader.read()  # until the client hangs up

        return handler

    for ip in (host, other):
        for port in (2222, 2525, 9000):
            lab.tcp(ip, port, holding(port, ip))

    async def go(per_host: int, concurrency: int, second: str) -> None:
        scope = parse_scope(scope_text(per_host=per_host), "bounds.toml")
        gate = Gate(scope, MemoryAudit(), concurrency=concurrency)
        first_a = await gate.open(host, 2222)
        first_b = await gate.open(host if second == host else second, 2525)
        third = asyncio.create_task(gate.open(host, 9000))
        await asyncio.sleep(0.3)  # ample time for a connect on loopback, were it allowed
        assert not third.done()
        await first_a.aclose()
        session = await asyncio.wait_for(third, 5)
        await session.aclose()
        await first_b.aclose()

    asyncio.run(go(per_host=2, concurrency=100, second=host))  # two per host
    time.sleep(0.1)
    assert accepted == [(host, 2222), (host, 2525), (host, 9000)]
    accepted.clear()
    asyncio.run(go(per_host=10, concurrency=2, second=other))  # two in all
    time.sleep(0.1)
    assert accepted == [(host, 2222), (other, 2525), (host, 9000)]


def test_token_bucket_spaces_connections() -> None:
    async def take(n: int) -> float:
        bucket = TokenBucket(rate=100, burst=1)
        started = time.monotonic()
        for _ in range(n):
            await bucket.take()
        return time.monotonic() - started

    assert asyncio.run(take(21)) >= 0.19  # 20 tokens beyond the burst at 100/s: at least 0.2 s


def test_observations_resolve_into_one_device_per_address(run: tuple[ProbeReport, Path, Scope]) -> None:
    assets = to_assets(run[0].observations)
    by_ip = [a for a in assets if a.keys.get("ip")]
    assert sorted(ip for a in by_ip for ip in a.keys["ip"]) == sorted([H1, H2, H3, H4, H5, H6])


def test_probe_targets_refuses_unexpanded_targets() -> None:
    scope = parse_scope(scope_text(), "live.toml")

    async def go() -> list[Observation]:
        report = await probe_targets(scope, ["127.99.0.1"], MemoryAudit())
        return report.observations

    with pytest.raises(ScopeViolation):
        asyncio.run(go())
