# ruff: noqa: E501 - the replies are quoted as devices send them
"""Vendor discovery protocols (Hikvision SADP, Dahua DHIP, ONVIF WS-Discovery): the evidence
modules on replies shaped like real ones, the probe against the lab's responders on loopback,
and the scope's multicast rule."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lab_fixture import lab_fixture

from vendorscope.collect.probe import discovery as probe_discovery
from vendorscope.collect.probe.audit import MemoryAudit
from vendorscope.collect.probe.gate import Gate
from vendorscope.collect.probe.runner import plan, run_probe
from vendorscope.collect.probe.scope import ScopeError, ScopeViolation, parse_scope
from vendorscope.evidence import dhip, sadp, wsdiscovery
from vendorscope.evidence.kinds import EVIDENCE_KINDS
from vendorscope.evidence.record import DecodeError
from vendorscope.lab import Lab
from vendorscope.lab import discovery as lab_discovery
from vendorscope.lab.profiles import load_profiles
from vendorscope.pipeline import to_assets

# A SADP reply as a DS-2CD2385G1-I sent it (quoted in a public Go camera-discovery tool), shortened.
SADP_REPLY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<ProbeMatch>\n<Uuid>e8ecfe09-90e4-44c0-842b-703f46b58c81</Uuid>\n'
              b"<Types>inquiry</Types>\n<DeviceType>141945</DeviceType>\n<DeviceDescription>DS-2CD2385G1-I</DeviceDescription>\n"
              b"<DeviceSN>DS-2CD2385G1-I20200414AAWRE33842150</DeviceSN>\n<CommandPort>8000</CommandPort>\n"
              b"<MAC>58-50-ed-1f-e3-85</MAC>\n<IPv4Address>192.168.124.40</IPv4Address>\n"
              b"<SoftwareVersion>V5.6.2build 190701</SoftwareVersion>\n</ProbeMatch>\n")
# The deviceInfo an IPC-HDW5421S answered on 37810 (a public write-up of the port), shortened.
DHIP_BODY = {"mac": "4c:11:bf:c2:0b:9d", "method": "client.notifyDevInfo", "params": {"deviceInfo": {
    "DeviceClass": "IPC", "DeviceType": "IPC-HDW5421S", "HttpPort": 80, "MachineName": "1F006E4PAX00075",
    "Manufacturer": "Private", "Port": 37777, "SerialNo": "1F006E4PAX00075", "Vendor": "Dahua",
    "Version": "2.400.0.8"}}}
WSD_REPLY = (b'<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" '
             b'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>'
             b"<d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/type/video_encoder "
             b"onvif://www.onvif.org/hardware/DS-2CD2143G0-I onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G0-I</d:Scopes>"
             b"<d:XAddrs>http://192.168.1.64/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches>"
             b"</SOAP-ENV:Body></SOAP-ENV:Envelope>")


def _pairs(found: list[Any]) -> set[tuple[str, str]]:
    return {(e.kind, e.value) for e in found}


def test_sadp_reply() -> None:
    found = sadp.decode_sadp(SADP_REPLY)
    assert _pairs(found) == {("sadp.model", "DS-2CD2385G1-I"), ("sadp.serial", "DS-2CD2385G1-I20200414AAWRE33842150"),
                             ("sadp.software", "V5.6.2build 190701"), ("mac", "58:50:ed:1f:e3:85")}
    assert all(e.mac == "58:50:ed:1f:e3:85" and e.serial == "DS-2CD2385G1-I20200414AAWRE33842150" for e in found)
    assert sadp.decode_sadp(sadp.inquiry("A-B")) == []  # a question names nobody
    with pytest.raises(DecodeError):
        sadp.decode_sadp(b"M-SEARCH * HTTP/1.1\r\n")


def test_dhip_reply() -> None:
    found = dhip.decode_dhip(dhip.frame(json.dumps(DHIP_BODY).encode() + b"\n"))
    assert _pairs(found) == {("dhip.model", "IPC-HDW5421S"), ("dhip.vendor", "Dahua"),
                             ("dhip.serial", "1F006E4PAX00075"), ("mac", "4c:11:bf:c2:0b:9d")}
    assert dhip.decode_dhip(dhip.search()) == []
    assert dhip.search()[:8] == b"\x20\x00\x00\x00DHIP" and int.from_bytes(dhip.search()[16:20], "little") == 73
    for bad in (b"{}", dhip.frame(b"not json"), dhip.frame(b"[1, 2]")):
        with pytest.raises(DecodeError):
            dhip.decode_dhip(bad)


def test_wsdiscovery_reply() -> None:
    found = wsdiscovery.decode_wsdiscovery(WSD_REPLY)
    assert _pairs(found) == {("wsd.name", "HIKVISION DS-2CD2143G0-I"), ("wsd.hardware", "DS-2CD2143G0-I")}
    assert found[0].context is not None and found[0].context["xaddrs"] == ["http://192.168.1.64/onvif/device_service"]
    assert wsdiscovery.decode_wsdiscovery(wsdiscovery.probe("1")) == []
    with pytest.raises(DecodeError):
        wsdiscovery.decode_wsdiscovery(b"\x00\x01binary")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=2000), st.sampled_from(["sadp", "dhip", "wsd"]))
def test_hostile_datagrams_decode_or_fail_cleanly(data: bytes, which: str) -> None:
    decode, payload = {
        "sadp": (sadp.decode_sadp, b'<?xml version="1.0"?><ProbeMatch>' + data),
        "dhip": (dhip.decode_dhip, dhip.frame(data)),
        "wsd": (wsdiscovery.decode_wsdiscovery, b"<Envelope>" + data),
    }[which]
    for raw in (data, payload):
        try:
            found = decode(raw)
        except DecodeError:
            continue
        assert all(e.kind in EVIDENCE_KINDS and len(e.value) <= 1024 for e in found)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=20))
def test_hostile_dhip_json_never_crashes(info: Any) -> None:
    body = json.dumps({"mac": "x", "method": "client.notifyDevInfo", "params": {"deviceInfo": info}}).encode()
    found = dhip.decode_dhip(dhip.frame(body))
    assert all(e.kind in EVIDENCE_KINDS and e.value for e in found)


def test_lab_responders_answer_only_their_question() -> None:
    profiles = {p.name: p for p in load_profiles()}
    hik, dh = profiles["hikvision-ipc"], profiles["dahua-ipc"]
    assert hik.sadp is not None and dh.dhip is not None
    assert lab_discovery.answer("sadp", hik.sadp, "127.0.0.9", "4c:bd:8f:00:00:01", b"hello") is None
    assert lab_discovery.answer("dhip", dh.dhip, "127.0.0.9", "3c:ef:8c:00:00:01", b'{"method":"x"}') is None
    reply = lab_discovery.answer("sadp", hik.sadp, "127.0.0.9", "4c:bd:8f:00:00:01", sadp.inquiry("U-1"))
    assert reply is not None and b"<Uuid>U-1</Uuid>" in reply
    assert ("sadp.model", "DS-2CD2143G2-I") in _pairs(sadp.decode_sadp(reply))


# -- the probe against the lab -------------------------------------------------------------------------

lab = lab_fixture()
DISCOVERY_PORTS = sorted(probe_discovery.PROTOCOLS)


def _scope(lab: Lab, extra: str = "") -> Any:
    return parse_scope(f"[scope]\nallow = [\"{lab.network}\"]\nports = []\nudp_ports = {DISCOVERY_PORTS}\n"
                       f"timeout = 1.0\nretries = 0\n{extra}", "discovery.toml")


def test_probe_names_the_cameras_by_their_discovery_replies(lab: Lab) -> None:
    cameras = {d.profile: d for d in lab.devices if d.profile in ("hikvision-ipc", "dahua-ipc")}
    audit = MemoryAudit()
    report = run_probe(_scope(lab), [d.ip for d in cameras.values()], audit)
    by_ip: dict[str, set[tuple[str, str]]] = {}
    for o in report.observations:
        by_ip.setdefault(o.keys.ip or "", set()).add((o.kind, o.value))
        assert o.context["transport"] == "udp" and o.context["probe_id"]
    hik, dh = cameras["hikvision-ipc"], cameras["dahua-ipc"]
    assert {("sadp.model", "DS-2CD2143G2-I"), ("wsd.name", "HIKVISION DS-2CD2143G2-I"),
            ("wsd.hardware", "DS-2CD2143G2-I"), ("mac", hik.mac)} <= by_ip[hik.ip]
    assert {("dhip.model", "IPC-HFW2431S-S-S2"), ("dhip.vendor", "Dahua"), ("wsd.name", "Dahua"),
            ("mac", dh.mac)} <= by_ip[dh.ip]
    groups = {ip: a.verdict.group for a in to_assets(report.observations) for ip in a.keys.get("ip", ())}
    assert groups[hik.ip] == "hikvision" and groups[dh.ip] == "dahua"
    # every question is in the audit log, addressed to one scoped target; nothing went to a group
    asked = {(e["target"], e["port"], e["probe"]) for e in audit.entries}
    for device in cameras.values():
        assert {(device.ip, 37020, "sadp.inquiry"), (device.ip, 37810, "dhip.search"),
                (device.ip, 3702, "wsdiscovery.probe")} <= asked
    assert all(ipaddress.ip_address(e["target"]) in ipaddress.ip_network(lab.network) for e in audit.entries)


def test_lab_scope_asks_the_discovery_ports(lab: Lab) -> None:
    assert {37020, 37810, 3702} <= set(lab.udp_ports())
    [host] = plan(_scope(lab), [lab.devices[0].ip])
    assert {"sadp.inquiry", "dhip.search", "wsdiscovery.probe"} <= set(host.probes)
    assert "snmp" not in host.probes  # the discovery ports are not asked in SNMP


def test_no_multicast_without_allow_multicast(lab: Lab) -> None:
    scope = _scope(lab)
    assert scope.allow_multicast == ()
    audit = MemoryAudit()

    async def ask() -> None:
        gate = Gate(scope, audit)
        with pytest.raises(ScopeViolation, match="allow_multicast"):
            await probe_discovery.multicast(gate, ipaddress.ip_network(lab.network), 37020)

    asyncio.run(ask())
    [refused] = audit.entries
    assert refused["outcome"] == "out-of-scope" and refused["target"] == sadp.MULTICAST_GROUP
    # a whole run without the option: every datagram went to one named target
    run_audit = MemoryAudit()
    run_probe(scope, [lab.devices[0].ip], run_audit)
    assert run_audit.entries and all(e["target"] == lab.devices[0].ip for e in run_audit.entries)


def test_allow_multicast_must_lie_inside_allow() -> None:
    scope = parse_scope('[scope]\nallow = ["127.0.0.0/8"]\nudp_ports = [37020]\nallow_multicast = ["127.1.0.0/16"]\n')
    assert scope.allow_multicast == (ipaddress.ip_network("127.1.0.0/16"),)
    scope.check_multicast(ipaddress.ip_network("127.1.0.0/16"), 37020)
    with pytest.raises(ScopeViolation):
        scope.check_multicast(ipaddress.ip_network("127.1.0.0/16"), 3702)  # port not in scope
    with pytest.raises(ScopeError, match=r"s.toml:3: scope.allow_multicast: 192.0.2.0/24 is not inside allow"):
        parse_scope('[scope]\nallow = ["127.0.0.0/8"]\nallow_multicast = ["192.0.2.0/24"]\n', "s.toml")


def test_a_silent_target_is_a_timeout_not_an_error(lab: Lab) -> None:
    silent = str(ipaddress.ip_network(lab.network).broadcast_address - 1)  # no device there
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # something there that never answers
        sock.bind((silent, 37020))
        audit = MemoryAudit()
        report = run_probe(_scope(lab), [silent], audit)
    assert report.observations == []
    outcomes = {e["probe"]: e["outcome"] for e in audit.entries}
    assert outcomes["sadp.inquiry"] == "timeout"
