"""http.body: one normalisation (evidence/http.py) for probe, pcap and scan data; rules naming makers;
and the read-only vendor endpoints of the probe (collect/probe/deep.py) against real loopback servers."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from probe_servers import Page, ServerThread, http, loopback
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.collect.imports.scandata import record_observations
from vendorscope.collect.pcap.first_message import HTTP_RESPONSE, classify
from vendorscope.collect.probe import deep
from vendorscope.collect.probe.audit import AuditLog
from vendorscope.collect.probe.runner import run_probe
from vendorscope.collect.probe.scope import parse_scope
from vendorscope.evidence import http as http_evidence
from vendorscope.evidence.kinds import registry
from vendorscope.identify.engine import default_engine

ISAPI_401 = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<userCheck>\n<statusValue>401</statusValue>\n'
             b"<statusString>Unauthorized</statusString>\n</userCheck>\n")
# rroller/dahua issue #9 (getSystemInfo of an NVR2X-4KS3)
MAGICBOX = b"deviceType=31\r\nprocessor=ST7108\r\nserialNumber=4F07335PAZEEA9B\r\nupdateSerial=NVR2X-4KS3\r\n"
# trackIT-Systems/tsOS-vhf issue #3 (E3372h-320)
HILINK = (b'<?xml version="1.0" encoding="UTF-8"?>\n<response>\n<DeviceName>E3372h-320</DeviceName>\n'
          b"<SerialNumber>VQNDW21311001538</SerialNumber>\n<Imei>12345678901234</Imei>\n"
          b"<HardwareVersion>CL4E3372HM</HardwareVersion>\n</response>\n")
REDFISH_ROOT = json.dumps({"@odata.id": "/redfish/v1/", "Name": "Root Service", "RedfishVersion": "1.0.2",
                           "Oem": {"Huawei": {"ProductName": "2288H V5"}}}).encode()


def vendors_of(value: str) -> set[str]:
    return {a.vendor for a in default_engine().identify_value("http.body", value)}


# -- the one normalisation ----------------------------------------------------------------------


def test_kind_is_registered_with_a_body_sized_cap() -> None:
    assert registry()["http.body"].max_chars == http_evidence.BODY_CAP


@pytest.mark.parametrize("encoding,packed", [
    ("gzip", gzip.compress(ISAPI_401)),
    ("deflate", zlib.compress(ISAPI_401)),
    ("deflate", zlib.compress(ISAPI_401)[2:-4]),  # raw deflate, as some servers send it
    ("identity", ISAPI_401),
])
def test_body_is_decompressed_and_keeps_its_path(encoding: str, packed: bytes) -> None:
    found = http_evidence.body_evidence(packed, [("Content-Encoding", encoding)], "/ISAPI/System/deviceInfo", 401)
    assert found is not None and found.kind == "http.body"
    assert found.value == ISAPI_401.decode().replace("\r\n", "\n").strip()
    assert found.context == {"path": "/ISAPI/System/deviceInfo", "status": 401, "bytes": len(ISAPI_401)}


def test_compression_bomb_is_bounded() -> None:
    bomb = gzip.compress(b"A" * (20 << 20))
    found = http_evidence.body_evidence(bomb, [("content-encoding", "gzip")], "/")
    assert found is not None and len(found.value) == http_evidence.BODY_CAP


def test_chunked_and_charset() -> None:
    text = "<title>摄像机</title>".encode("gbk")
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(text), text)
    found = http_evidence.body_evidence(chunked, [("Transfer-Encoding", "chunked"),
                                                  ("Content-Type", "text/html; charset=GBK")], "/")
    assert found is not None and found.value == "<title>摄像机</title>"


def test_unknown_encoding_and_empty_bodies_give_nothing() -> None:
    assert http_evidence.body_evidence(b"abc", [("Content-Encoding", "br")], "/") is None
    assert http_evidence.body_evidence(b"  \r\n", [], "/") is None
    assert http_evidence.body_evidence(b"\x1f\x8b broken", [("Content-Encoding", "gzip")], "/") is None


@settings(max_examples=200, deadline=None, derandomize=True)
@given(raw=st.binary(max_size=4096), encoding=st.sampled_from(["", "gzip", "deflate", "x-gzip", "zz"]),
       chunked=st.booleans(), charset=st.sampled_from(["utf-8", "gbk", "bogus-cs", "latin-1", ""]),
       path=st.text(max_size=600))
def test_body_evidence_never_raises_on_hostile_bytes(raw: bytes, encoding: str, chunked: bool, charset: str,
                                                     path: str) -> None:
    headers = [("Content-Encoding", encoding), ("Content-Type", f"text/html; charset={charset}")]
    if chunked:
        headers.append(("Transfer-Encoding", "chunked"))
    found = http_evidence.body_evidence(raw, headers, path)
    if found is not None:
        assert 0 < len(found.value) <= http_evidence.BODY_CAP
        assert not any(ord(c) < 32 and c not in "\n\t" for c in found.value)
        assert len((found.context or {}).get("path") or "") <= 512


# -- rules: identify --kind http.body names the makers ---------------------------------------------


@pytest.mark.parametrize("body,vendor", [
    (ISAPI_401, "hikvision"),
    (b'<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><model>DS-2CD2042WD-I</model>'
     b"</DeviceInfo>", "hikvision"),
    (MAGICBOX, "dahua"),
    (b"type=DH-XVR5108C-X \r\n", "dahua"),
    (HILINK, "huawei"),
    (REDFISH_ROOT, "huawei"),
])
def test_identify_cli_names_the_maker(body: bytes, vendor: str) -> None:
    found = http_evidence.body_evidence(body, [], "/")
    assert found is not None
    result = CliRunner().invoke(app, ["identify", "--kind", "http.body", found.value, "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert vendor in {json.loads(line)["vendor"] for line in result.output.splitlines() if line.strip()}


def test_generic_pages_name_nobody() -> None:
    assert vendors_of("<html><head><title>Document Error: Unauthorized</title></head>"
                      "<body><h2>Access Error: 401 -- Unauthorized</h2></body></html>") == set()
    assert vendors_of('{"@odata.id": "/redfish/v1/", "Oem": {}}') == set()


def test_long_hostile_body_is_scanned_whole() -> None:
    """A 64 KiB body of near-misses, then the real answer at its end: found, in one pass."""
    filler = "<model>DS</model>vendor=Dahu\n<userCheck><statusValue>4" * 1200
    value = (filler[: http_evidence.BODY_CAP - len(MAGICBOX)] + MAGICBOX.decode()).replace("\r\n", "\n")
    assert len(value) <= http_evidence.BODY_CAP
    assert vendors_of(value) == {"dahua"}


# -- the same answer from pcap and scan data --------------------------------------------------------


def test_pcap_response_gives_the_same_body() -> None:
    message = (b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n" % len(HILINK)) + HILINK
    assert classify(message, 80, 50000) is HTTP_RESPONSE
    assert not HTTP_RESPONSE.complete(message[:-10])  # waits for the whole body
    assert HTTP_RESPONSE.complete(message)
    bodies = [e for e in HTTP_RESPONSE.parse(message, 80, 50000) if e.kind == "http.body"]
    probe_side = http_evidence.body_evidence(HILINK, [("Content-Type", "text/xml")], "/api/device/information")
    assert probe_side is not None and [b.value for b in bodies] == [probe_side.value]
    assert vendors_of(bodies[0].value) == {"huawei"}


def test_scan_data_bodies() -> None:
    zgrab = {"ip": "192.0.2.7", "data": {"http": {"status": "success", "protocol": "http", "result": {"response": {
        "status_code": 200, "body": MAGICBOX.decode(),
        "request": {"url": {"path": "/cgi-bin/magicBox.cgi?action=getSystemInfo"}}}}}}}
    shodan = {"ip_str": "192.0.2.8", "port": 80, "data": "HTTP/1.1 200 OK\r\n\r\n",
              "http": {"html": HILINK.decode(), "location": "/api/device/information", "status": 200}}
    censys = {"ip": "192.0.2.9", "services": [{"port": 443, "service_name": "HTTP", "http": {
        "request": {"uri": "https://192.0.2.9/redfish/v1/"},
        "response": {"status_code": 200, "body": REDFISH_ROOT.decode()}}}]}
    from datetime import UTC, datetime
    now = datetime.now(UTC)
    for record, vendor, path in ((zgrab, "dahua", "/cgi-bin/magicBox.cgi?action=getSystemInfo"),
                                 (shodan, "huawei", "/api/device/information"),
                                 (censys, "huawei", "https://192.0.2.9/redfish/v1/")):
        bodies = [o for o in record_observations(record, source="scan", file="x.jsonl", line=1, now=now)
                  if o.kind == "http.body"]
        assert len(bodies) == 1, record
        assert bodies[0].context["path"] == path
        assert vendors_of(bodies[0].value) == {vendor}


# -- the probe: first page body and the deep endpoints ------------------------------------------------

OCTET = 110
CAMERA, DVR, LTE, BMC, OUTSIDE = (loopback(OCTET, 0, i) for i in range(1, 6))


def test_every_endpoint_is_a_read() -> None:
    assert all(deep.is_read_only(e) for e in deep.ENDPOINTS)
    assert {e.method for e in deep.ENDPOINTS} <= deep.READ_METHODS
    assert not any(b"Password" in e.body or "login" in e.path.lower() for e in deep.ENDPOINTS)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ServerThread, dict[str, object]]]:
    t = ServerThread()
    handlers: dict[str, object] = {}
    try:
        answers = {
            CAMERA: {"/ISAPI/System/deviceInfo": Page(401, [("Content-Type", "application/xml")], ISAPI_401)},
            DVR: {"/cgi-bin/magicBox.cgi?action=getSystemInfo": Page(200, [("Content-Type", "text/plain")],
                                                                    MAGICBOX)},
            LTE: {"/api/device/information": Page(200, [("Content-Type", "text/xml"), ("Content-Encoding", "gzip")],
                                                  gzip.compress(HILINK))},
            BMC: {"/redfish/v1/": Page(200, [("Content-Type", "application/json")], REDFISH_ROOT)},
            OUTSIDE: {},
        }
        for host, pages in answers.items():
            handler = http({"/": Page(200, [("Content-Type", "text/html")], b"<title>Web</title>"), **pages})
            handlers[host] = handler
            t.tcp(host, 8080, handler)
        yield t, handlers
    finally:
        t.stop()


def _scope(deep_on: bool) -> str:
    network = CAMERA.rsplit(".", 1)[0]
    return f"""
[scope]
allow = ["{network}.0/29"]
exclude = ["{OUTSIDE}/32"]
ports = [8080]
udp_ports = []
rate = 5000
timeout = 1.5
"""


def test_probe_records_deep_endpoint_bodies_within_scope(
        servers: tuple[ServerThread, dict[str, object]], tmp_path: Path) -> None:
    _t, handlers = servers
    scope = parse_scope(_scope(True), "deep.toml")
    audit_path = tmp_path / "audit.jsonl"
    with AuditLog.open(audit_path) as audit:
        report = run_probe(scope, [CAMERA, DVR, LTE, BMC], audit)
    bodies: dict[str, set[str]] = {}
    for o in report.observations:
        if o.kind == "http.body":
            bodies.setdefault(o.keys.ip or "", set()).update(
                a.vendor for a in default_engine().identify_value("http.body", o.value))
    assert bodies[CAMERA] >= {"hikvision"} and bodies[DVR] >= {"dahua"}
    assert bodies[LTE] >= {"huawei"} and bodies[BMC] >= {"huawei"}
    paths = {o.context.get("path") for o in report.observations if o.kind == "http.body"}
    assert {"/", "/ISAPI/System/deviceInfo", "/redfish/v1/", "/api/device/information"} <= paths
    # Every request went to an allowed host; nothing to the excluded one; no write, no credential.
    audited = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert {a["target"] for a in audited} == {CAMERA, DVR, LTE, BMC}
    assert handlers[OUTSIDE].requests == []  # type: ignore[attr-defined]
    for host in (CAMERA, DVR, LTE, BMC):
        sent = handlers[host].requests  # type: ignore[attr-defined]
        assert {m for m, _ in sent} <= {"GET", "POST"}
        assert {(m, p) for m, p in sent if m == "POST"} <= {("POST", "/onvif/device_service")}
        assert {p for _, p in sent} >= {e.path for e in deep.ENDPOINTS}


def test_no_deep_turns_the_set_off(servers: tuple[ServerThread, dict[str, object]], tmp_path: Path) -> None:
    import dataclasses
    _t, handlers = servers
    before = len(handlers[DVR].requests)  # type: ignore[attr-defined]
    scope = dataclasses.replace(parse_scope(_scope(False), "deep.toml"), deep=False)
    with AuditLog.open(tmp_path / "audit.jsonl") as audit:
        run_probe(scope, [DVR], audit)
    asked = {p for _, p in handlers[DVR].requests[before:]}  # type: ignore[attr-defined]
    assert asked and not asked & {e.path for e in deep.ENDPOINTS if e.method == "GET"}
