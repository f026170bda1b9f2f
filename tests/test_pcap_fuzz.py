"""Fuzzing (bounded): decoders meet hostile bytes with DecodeError or facts, never anything else,
and a mangled capture never stops the reader."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import scapy.all as s
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.asn1.asn1 import ASN1_OID, ASN1_STRING

from vendorscope.collect.pcap import NotACaptureError, SkipReport, read_observations
from vendorscope.collect.pcap import first_message as banners
from vendorscope.collect.pcap.errors import DecodeError
from vendorscope.collect.pcap.link import link_layer
from vendorscope.evidence import arp, cdp, dhcp, lldp, mdns, nbns, sip, snmp, tls
from vendorscope.evidence import upnp as ssdp
from vendorscope.evidence.record import Evidence as Fact
from vendorscope.lab.capture import DEMO_PATH, huawei_certificate, tls12_server_flight

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOURCE6 = socket.inet_pton(socket.AF_INET6, "fe80::1")


def _parse_first_message(data: bytes) -> list[Fact]:
    parser = banners.classify(data, 23, 50000)
    if parser is None:
        return []
    parser.complete(data)
    return parser.parse(data, 23, 50000)


def _link(data: bytes) -> list[Fact]:
    for link_type in (1, 113, 276, 101, 0, 108):
        with contextlib.suppress(DecodeError):
            link_layer(link_type, data)
    return []


DECODERS: dict[str, tuple[Callable[[bytes], list[Fact]], bytes]] = {
    "arp": (arp.decode_arp, bytes(s.ARP(op=2, hwsrc="e0:06:30:1a:2b:01", psrc="10.0.0.1", pdst="10.0.0.2"))),
    "ndp": (lambda b: arp.decode_ndp(b, SOURCE6),
            bytes(s.ICMPv6ND_NS(tgt="fe80::2") / s.ICMPv6NDOptSrcLLAddr(lladdr="e0:06:30:1a:2b:01"))),
    "dhcp": (dhcp.decode_dhcp, bytes(s.BOOTP(op=1, chaddr=b"\xe0\x06\x30\x1a\x2b\x01") / s.DHCP(options=[
        ("message-type", "request"), ("hostname", b"cam"), ("vendor_class_id", b"udhcp"), "end"]))),
    "dhcp6": (dhcp.decode_dhcp6, bytes(s.DHCP6_Solicit() / s.DHCP6OptVendorClass(
        enterprisenum=2011, vcdata=[s.VENDOR_CLASS_DATA(data=b"HW")]))),
    "lldp": (lldp.decode_lldp, bytes.fromhex("020704e006301a2b01040805474530" "2f302f310602007806054857000000")),
    "cdp": (cdp.decode_cdp, bytes.fromhex("02b4d62d000100075357310006000863697363")),
    "mdns": (mdns.decode_mdns, bytes(s.DNS(qr=1, qd=[], an=[
        s.DNSRR(rrname="_http._tcp.local", type="PTR", rdata="cam._http._tcp.local"),
        s.DNSRR(rrname="cam._http._tcp.local", type="TXT", rdata=[b"model=DS-2CD"]),
        s.DNSRR(rrname="cam.local", type="A", rdata="10.0.0.5")]))),
    "llmnr": (mdns.decode_llmnr, bytes(s.LLMNRResponse(an=s.DNSRR(rrname="pc", type="A", rdata="10.0.0.6")))),
    "nbns": (nbns.decode_nbns, bytes(s.NBNSHeader(OPCODE=5, QDCOUNT=1, ARCOUNT=1)
                                     / s.NBNSRegistrationRequest(QUESTION_NAME="PC", NB_ADDRESS="10.0.0.7"))),
    "ssdp": (ssdp.decode_ssdp, b"NOTIFY * HTTP/1.1\r\nSERVER: Linux UPnP/1.0 DH\r\nUSN: uuid:x\r\n\r\n"),
    "snmp": (snmp.decode_snmp, bytes(s.SNMP(PDU=s.SNMPresponse(varbindlist=[
        s.SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.1.0"), value=ASN1_STRING(b"Huawei")),
        s.SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.2.0"), value=ASN1_OID("1.3.6.1.4.1.2011.1"))])))),
    "tls": (lambda b: tls.decode_server_flight(b)[0], tls12_server_flight(huawei_certificate())),
    "banner": (_parse_first_message, b"\xff\xfb\x01HTTP/1.1 200 OK\r\nServer: x\r\n\r\n<title>a</title>"),
    "sip": (sip.parse_sip, b"SIP/2.0 200 OK\r\nServer: Yealink\r\n\r\n"),
    "link": (_link, bytes(s.Ether() / s.Dot1Q(vlan=5) / s.IP() / s.UDP())),
}


def _only_decode_errors(decode: Callable[[bytes], list[Fact]], data: bytes) -> None:
    try:
        facts = decode(data)
    except DecodeError:
        return
    assert isinstance(facts, list)
    for fact in facts:
        assert isinstance(fact.kind, str) and isinstance(fact.value, str) and len(fact.value) <= 1024


@st.composite
def mutated(draw: st.DrawFn, sample: bytes) -> bytes:
    """A valid message with a few bytes changed, some cut off, or some inserted."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(max_size=8))
    return bytes(data)


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_decoder_survives_random_bytes(name: str) -> None:
    decode, _sample = DECODERS[name]

    @FUZZ
    @given(st.binary(max_size=400))
    def run(data: bytes) -> None:
        _only_decode_errors(decode, data)

    run()


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_decoder_survives_mutated_messages(name: str) -> None:
    decode, sample = DECODERS[name]
    _only_decode_errors(decode, sample)
    assert name in ("link",) or decode(sample), "the unmutated sample must decode to something"

    @FUZZ
    @given(mutated(sample))
    def run(data: bytes) -> None:
        _only_decode_errors(decode, data)

    run()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mangled_capture_never_stops_the_reader(tmp_path: Path, data: st.DataObject) -> None:
    head = bytearray(DEMO_PATH.read_bytes()[:60_000])
    for _ in range(data.draw(st.integers(1, 30))):
        i = data.draw(st.integers(0, len(head) - 1))
        head[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(head) // 2, len(head)))
    path = tmp_path / "mangled.pcapng"
    path.write_bytes(bytes(head[:cut]))
    report = SkipReport()
    try:
        observations = list(read_observations(path, report=report))
    except NotACaptureError:
        return  # the magic itself was hit
    assert all(o.context["frame"] >= 1 for o in observations)
