"""One table of protocol answers, run through all three sources: a capture of the exchange, a probe
against a real server on loopback sending the same bytes, and an nmap XML import of what nmap
shows for it. Each source must give the same (kind, value) observations.

The greeting cases include the two from issue 10 where the sources used to disagree: a ``220``
greeting whose text says FTP on the SMTP port, and a bare ``220 Welcome`` on the FTPS port.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import os
import socket
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from probe_servers import Page, ServerThread, greeting, http, loopback, snmp_agent, telnet
from pysnmp.proto import rfc1902

from vendorscope.collect.imports.common import Collector
from vendorscope.collect.imports.nmap import read_nmap
from vendorscope.collect.pcap import SkipReport, read_observations
from vendorscope.collect.probe.audit import MemoryAudit
from vendorscope.collect.probe.runner import run_probe
from vendorscope.collect.probe.scope import parse_scope
from vendorscope.lab.capture import tls12_server_flight, write_capture
from vendorscope.model import Observation

OCTET = 70
SNMP_PORT = 161  # the port a capture decodes SNMP on; the probe binds it too (needs root)
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
CLIENT = ("02:00:00:00:00:01", "192.0.2.250")  # the capture's client (documentation address)


def _certificate() -> tuple[bytes, bytes, bytes]:
    """(DER, PEM, private key PEM) of a device-like certificate with a SAN and a comma in O."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Huawei Technologies Co., Ltd."),
                         x509.NameAttribute(NameOID.COMMON_NAME, "USG6000E")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Huawei"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "Huawei Equipment CA")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(0x5A17C0FFEE)
            .not_valid_before(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
            .not_valid_after(dt.datetime(2034, 1, 2, 3, 4, 5, tzinfo=UTC))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("usg6000e.local")]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.DER), cert.public_bytes(serialization.Encoding.PEM), key_pem


CERT_DER, CERT_PEM, KEY_PEM = _certificate()
HTTP_BODY = b"<html><head><title>Hik &amp; Login\n</title></head></html>"
HTTP_HEADERS = [("Server", "Hikvision-Webs"), ("WWW-Authenticate", 'Basic realm="IP Camera(C6423)"'),
                ("Content-Type", "text/html")]


@dataclass(frozen=True)
class Case:
    """One protocol answer and the observations every source must make of it."""

    name: str
    port: int
    kinds: tuple[str, ...]  # the family of kinds compared (others, like tcp.open or mac, are transport)
    expected: frozenset[tuple[str, str]]
    greeting: bytes = b""  # server speaks first
    http: bool = False
    tls: bool = False
    snmp: str | None = None
    udp: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


GREETING_KINDS = ("ssh.banner", "ftp.banner", "smtp.banner", "telnet.banner", "tcp.banner", "pop.banner",
                  "imap.banner")
CASES = [
    Case("ftp-words-on-the-smtp-port", 25, GREETING_KINDS,
         frozenset({("smtp.banner", "220 mail.example.com FTP-to-mail gateway ready")}),
         greeting=b"220 mail.example.com FTP-to-mail gateway ready\r\n"),
    Case("bare-welcome-on-the-ftps-port", 990, GREETING_KINDS, frozenset({("ftp.banner", "220 Welcome")}),
         greeting=b"220 Welcome\r\n"),
    Case("multi-line-ftp", 2121, GREETING_KINDS,
         frozenset({("ftp.banner", "220-Welcome\n220 ZTE FTP server ready")}),
         greeting=b"220-Welcome\r\n220 ZTE FTP server ready\r\n"),
    Case("esmtp-on-an-odd-port", 10025, GREETING_KINDS, frozenset({("smtp.banner", "220 mx.example ESMTP Postfix")}),
         greeting=b"220 mx.example ESMTP Postfix\r\n"),
    Case("unknown-220-on-an-odd-port", 9000, GREETING_KINDS, frozenset({("tcp.banner", "220 Welcome")}),
         greeting=b"220 Welcome\r\n"),
    Case("ssh", 2222, GREETING_KINDS, frozenset({("ssh.banner", "SSH-2.0-HUAWEI-1.5")}),
         greeting=b"SSH-2.0-HUAWEI-1.5\r\n"),
    Case("telnet", 2323, GREETING_KINDS,
         frozenset({("telnet.banner", "Warning: Telnet is not secure\nHuawei login:")}),
         greeting=b"\r\nWarning: Telnet is not secure\r\n\r\nHuawei login: ", extra={"telnet": True}),
    Case("http-head-and-title", 8080, ("http.server", "http.www_authenticate", "http.title"),
         frozenset({("http.server", "Hikvision-Webs"), ("http.www_authenticate", 'Basic realm="IP Camera(C6423)"'),
                    ("http.title", "Hik & Login")}), http=True),
    Case("tls-certificate", 8443, ("tls.cert.subject", "tls.cert.issuer", "tls.cert.serial", "tls.cert.validity",
                                   "tls.cert.san"),
         frozenset({("tls.cert.subject", "CN=USG6000E,O=Huawei Technologies Co.\\, Ltd.,C=CN"),
                    ("tls.cert.issuer", "CN=Huawei Equipment CA,O=Huawei,C=CN"),
                    ("tls.cert.serial", "5a17c0ffee"),
                    ("tls.cert.validity", "2024-01-02T03:04:05+00:00/2034-01-02T03:04:05+00:00"),
                    ("tls.cert.san", "usg6000e.local")}), tls=True),
    Case("snmp-sysdescr", SNMP_PORT, ("snmp.sysdescr",),
         frozenset({("snmp.sysdescr", "Huawei Versatile Routing Platform Software\nVRP (R) software, Version 8.180")}),
         snmp="Huawei Versatile Routing Platform Software\r\nVRP (R) software, Version 8.180", udp=True),
]
TELNET_NEGOTIATION = b"\xff\xfd\x18\xff\xfd\x20\xff\xfb\x01\xff\xfb\x03"


def _http_response() -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in HTTP_HEADERS)
    return (f"HTTP/1.1 401 Unauthorized\r\n{head}Content-Length: {len(HTTP_BODY)}\r\n\r\n").encode() + HTTP_BODY


def _address(index: int) -> str:
    return loopback(OCTET, 0, index + 1)


def _capture_address(index: int) -> str:
    return f"198.51.100.{index + 1}"  # documentation addresses: only inside the generated file


def _observed(observations: list[Observation], ip: str, case: Case) -> frozenset[tuple[str, str]]:
    return frozenset((o.kind, o.value) for o in observations if o.keys.ip == ip and o.kind in case.kinds)


# -- source 1: a capture of the exchange ------------------------------------------------------------


def _session(add: Any, server: tuple[str, str], port: int, client_says: list[bytes],
             server_says: list[bytes]) -> None:
    """A TCP connection: handshake, the client's request, the server's answer in segments, FIN."""
    from scapy.all import IP, TCP, Ether  # type: ignore[attr-defined]

    seq = {"c": 1000, "s": 50000}

    def segment(from_client: bool, flags: str, payload: bytes = b"") -> None:
        side, other = ("c", "s") if from_client else ("s", "c")
        src, dst = (CLIENT, server) if from_client else (server, CLIENT)
        sport, dport = (40000, port) if from_client else (port, 40000)
        add(Ether(src=src[0], dst=dst[0]) / IP(src=src[1], dst=dst[1])
            / TCP(sport=sport, dport=dport, flags=flags, seq=seq[side], ack=seq[other]) / payload)
        seq[side] += len(payload) + (1 if "S" in flags or "F" in flags else 0)

    segment(True, "S")
    segment(False, "SA")
    segment(True, "A")
    for chunk in client_says:
        segment(True, "PA", chunk)
    for chunk in server_says:
        segment(False, "PA", chunk)
        segment(True, "A")
    segment(True, "FA")
    segment(False, "FA")


def _frames() -> list[tuple[float, bytes]]:
    from scapy.all import IP, UDP, Ether  # type: ignore[attr-defined]
    from scapy.asn1.asn1 import ASN1_OID, ASN1_STRING
    from scapy.layers.snmp import SNMP, SNMPresponse, SNMPvarbind

    frames: list[tuple[float, bytes]] = []
    clock = [1_714_987_800.0]

    def add(pkt: Any) -> None:
        clock[0] += 0.001
        frames.append((clock[0], bytes(pkt)))

    for index, case in enumerate(CASES):
        server_mac, server_ip = f"02:00:00:00:01:{index + 1:02x}", _capture_address(index)
        if case.udp:
            resp = SNMP(community="public", PDU=SNMPresponse(id=7, varbindlist=[
                SNMPvarbind(oid=ASN1_OID(SYS_DESCR), value=ASN1_STRING(case.snmp.encode()))]))  # type: ignore[union-attr]
            add(Ether(src=server_mac, dst=CLIENT[0]) / IP(src=server_ip, dst=CLIENT[1])
                / UDP(sport=case.port, dport=50161) / resp)
            continue
        server_says = [case.greeting] if case.greeting else []
        client_says: list[bytes] = []
        if case.extra.get("telnet"):
            server_says = [TELNET_NEGOTIATION, case.greeting]
        elif case.http:
            client_says, server_says = [b"GET / HTTP/1.1\r\nHost: camera\r\n\r\n"], [_http_response()]
        elif case.tls:
            client_says = [b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"]  # the start of a ClientHello
            flight = tls12_server_flight(CERT_DER)
            server_says = [flight[i : i + 700] for i in range(0, len(flight), 700)]
        _session(add, (server_mac, server_ip), case.port, client_says, server_says)
    return frames


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> list[Observation]:
    path = tmp_path_factory.mktemp("capture") / "cross.pcapng"
    with path.open("wb") as out:
        write_capture(out, _frames())
    report = SkipReport()
    observations = list(read_observations(path, report=report))
    assert not report.counts, report.counts  # the generated exchange reads without damage
    return observations


# -- source 2: a probe against real servers on loopback ------------------------------------------------


def _server_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        Path(cert_path).write_bytes(CERT_PEM)
        Path(key_path).write_bytes(KEY_PEM)
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


def _can_bind(host: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def probed() -> Iterator[tuple[list[Observation], set[str]]]:
    """Observations of one probe run, and the cases whose port could not be bound (not root)."""
    thread = ServerThread()
    unbound: set[str] = set()
    try:
        for index, case in enumerate(CASES):
            host = _address(index)
            if case.udp:
                if not _can_bind(host, case.port, socket.SOCK_DGRAM):
                    unbound.add(case.name)
                    continue
                snmp_agent(thread, host, case.port, {SYS_DESCR: rfc1902.OctetString(case.snmp.encode())})  # type: ignore[union-attr]
                continue
            if not _can_bind(host, case.port):
                unbound.add(case.name)
                continue
            if case.extra.get("telnet"):
                thread.tcp(host, case.port, telnet(case.greeting))
            elif case.http:
                thread.tcp(host, case.port, http({"/": Page(401, HTTP_HEADERS, HTTP_BODY)}))
            elif case.tls:
                thread.tcp(host, case.port, http({}, server=None), tls=_server_context())
            else:
                thread.tcp(host, case.port, greeting(case.greeting, hold=1))
        tcp_ports = sorted({c.port for c in CASES if not c.udp})
        scope = parse_scope(f"""
[scope]
allow = ["127.{_address(0).split('.')[1]}.0.0/24"]
ports = {tcp_ports}
udp_ports = [{SNMP_PORT}]
rate = 5000
per_host = 4
timeout = 1.5
retries = 1
banner_wait = 0.3

[snmp]
communities = ["public"]
""", "cross.toml")
        report = run_probe(scope, [_address(i) for i in range(len(CASES))], MemoryAudit())
        yield report.observations, unbound
    finally:
        thread.stop()


# -- source 3: an nmap XML import ---------------------------------------------------------------------------


def _nmap_escape(data: bytes) -> str:
    """How nmap's banner script prints bytes: printable ASCII as is, the rest as \\xNN."""
    return "".join(chr(b) if 32 <= b < 127 and b != 0x5C else f"\\x{b:02X}" for b in data)


def _attribute(text: str) -> str:
    """Text as nmap writes it into an XML attribute (line breaks as character references)."""
    return html.escape(text).replace("\r", "&#xd;").replace("\n", "&#xa;")


def _nmap_script(case: Case) -> str:
    if case.udp:
        return f'<script id="snmp-sysdescr" output="{_attribute(case.snmp or "")}&#xa;  System uptime: 1d"/>'
    if case.http:
        response = _http_response().decode().split("\r\n\r\n")[0]
        title = HTTP_BODY.split(b"<title>")[1].split(b"</title>")[0].decode().strip()  # nmap keeps entities
        return (f'<script id="fingerprint-strings" output=""><elem key="GetRequest">{html.escape(response)}</elem>'
                f'</script><script id="http-title" output="{html.escape(title)}">'
                f'<elem key="title">{html.escape(title)}</elem></script>')
    if case.tls:
        cert = x509.load_der_x509_certificate(CERT_DER)
        fields = "".join(f'<elem key="{a.rfc4514_attribute_name}">{html.escape(str(a.value))}</elem>'
                         for a in cert.subject)
        return (f'<script id="ssl-cert" output="Subject: ..."><table key="subject">{fields}</table>'
                f'<elem key="sha1">00</elem><elem key="pem">{CERT_PEM.decode()}</elem></script>')
    data = (TELNET_NEGOTIATION if case.extra.get("telnet") else b"") + case.greeting
    return f'<script id="banner" output="{_attribute(_nmap_escape(data))}"/>'


def _nmap_xml() -> bytes:
    hosts = []
    for index, case in enumerate(CASES):
        protocol = "udp" if case.udp else "tcp"
        hosts.append(f'<host><status state="up"/><address addr="{_capture_address(index)}" addrtype="ipv4"/>'
                     f'<ports><port protocol="{protocol}" portid="{case.port}"><state state="open"/>'
                     f'{_nmap_script(case)}</port></ports></host>')
    return ('<?xml version="1.0"?><nmaprun scanner="nmap" start="1714987800">'
            + "".join(hosts) + "</nmaprun>").encode()


@pytest.fixture(scope="module")
def imported() -> list[Observation]:
    collector = Collector()
    observations = list(read_nmap(io.BytesIO(_nmap_xml()), "cross.xml", "import:nmap:cross.xml", collector,
                                  datetime.now(UTC)))
    assert collector.bad_count == 0, collector.bad_records
    return observations


# -- the table ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_capture_gives_the_table(case: Case, captured: list[Observation]) -> None:
    assert _observed(captured, _capture_address(CASES.index(case)), case) == case.expected


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_import_gives_the_table(case: Case, imported: list[Observation]) -> None:
    assert _observed(imported, _capture_address(CASES.index(case)), case) == case.expected


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_probe_gives_the_table(case: Case, probed: tuple[list[Observation], set[str]]) -> None:
    observations, unbound = probed
    if case.name in unbound:
        pytest.skip(f"port {case.port} needs privileges to bind here")
    assert _observed(observations, _address(CASES.index(case)), case) == case.expected


def test_every_kind_the_sources_emit_is_registered(captured: list[Observation], imported: list[Observation],
                                                   probed: tuple[list[Observation], set[str]]) -> None:
    from vendorscope.model import EVIDENCE_KINDS

    emitted = {o.kind for o in [*captured, *imported, *probed[0]]}
    assert emitted - set(EVIDENCE_KINDS) == set()
