"""The pure parts of the probes: greetings, HTTP answers, pages, XML, certificates, LLDP rows.

Every parser sees hostile bytes; the property tests feed them arbitrary input
and require an answer or the parser's own error, never anything else.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from vendorscope.collect.probe import http, tls
from vendorscope.evidence import greeting as banners
from vendorscope.evidence import onvif, upnp
from vendorscope.evidence import snmp as snmp_evidence


def classify(port: int, data: bytes) -> tuple[str, str] | None:
    """The greeting classifier's (kind, value), as these assertions were written for."""
    found = banners.classify(port, data)
    return None if found is None else (found.kind, found.value)

# -- banners --------------------------------------------------------------------


def test_ssh_banner_is_the_identification_line() -> None:
    assert classify(22, b"SSH-2.0-HUAWEI-1.5\r\n") == ("ssh.banner", "SSH-2.0-HUAWEI-1.5")
    # RFC 4253 allows lines before the identification; any port.
    assert classify(9999, b"hello there\r\nSSH-2.0-ZTE_SSH.2.0\r\n") == ("ssh.banner", "SSH-2.0-ZTE_SSH.2.0")


def test_ftp_and_smtp_greetings_by_content_then_port() -> None:
    assert classify(2121, b"220-Welcome\r\n220 ZTE FTP server ready\r\n") == (
        "ftp.banner", "220-Welcome\n220 ZTE FTP server ready")
    assert classify(10025, b"220 mx.example ESMTP Postfix\r\n") == ("smtp.banner",
                                                                            "220 mx.example ESMTP Postfix")
    assert classify(21, b"220 Hikvision ready\r\n")[0] == "ftp.banner"  # type: ignore[index]
    assert classify(25, b"220 Welcome\r\n")[0] == "smtp.banner"  # type: ignore[index]
    assert classify(9000, b"220 Welcome\r\n")[0] == "tcp.banner"  # type: ignore[index]


def test_telnet_negotiation_is_stripped_and_refused() -> None:
    stream = b"\xff\xfd\x18\xff\xfb\x01\xff\xfa\x18\x01\xff\xf0\r\nHuawei login: \xff\xff"
    text, had_iac = banners.strip_telnet(stream)
    assert had_iac and text == b"\r\nHuawei login: \xff"
    assert classify(2323, stream) == ("telnet.banner", "Huawei login: \xff")
    assert banners.telnet_reply(b"\xff\xfd\x18\xff\xfb\x01") == b"\xff\xfc\x18\xff\xfe\x01"
    assert classify(23, b"\r\nLogin authentication\r\n\r\nUsername:") == (
        "telnet.banner", "Login authentication\nUsername:")


def test_noise_is_not_a_banner() -> None:
    assert classify(9000, bytes(range(256)) * 4) is None
    assert classify(23, b"\x00\x01\x02\x03") is None
    assert classify(22, b"") is None


def test_greeting_complete() -> None:
    assert banners.greeting_complete(b"SSH-2.0-x\r\n")
    assert not banners.greeting_complete(b"SSH-2.0-x")
    assert not banners.greeting_complete(b"220-first\r\n")
    assert banners.greeting_complete(b"220-first\r\n220 last\r\n")
    assert not banners.greeting_complete(b"\xff\xfd\x18")


def test_banner_text_is_capped_and_clean() -> None:
    text = banners.clean_text(b"A\x1b[31mB\x07" + b"x" * 5000)
    assert text.startswith("A[31mB") and len(text) == banners.MAX_BANNER


@given(st.binary(max_size=2000), st.integers(1, 65535))
def test_classify_any_bytes(data: bytes, port: int) -> None:
    found = classify(port, data)
    if found is not None:
        kind, value = found
        assert kind in ("ssh.banner", "ftp.banner", "smtp.banner", "telnet.banner", "pop.banner", "imap.banner",
                        "tcp.banner")
        assert value and len(value) <= banners.MAX_BANNER and "\x00" not in value


# -- HTTP answers -----------------------------------------------------------------


def read(data: bytes, method: str = "GET", cap: int = http.BODY_CAP, eof: bool = True) -> http.HttpResponse:
    async def go() -> http.HttpResponse:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        if eof:
            reader.feed_eof()
        deadline = asyncio.get_running_loop().time() + 0.2
        return await http.read_response(reader, deadline=deadline, body_cap=cap, method=method)

    return asyncio.run(go())


def test_content_length_body_and_keep_alive() -> None:
    r = read(b"HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Length: 5\r\n\r\nhelloEXTRA")
    assert (r.status, r.header("server"), r.body, r.truncated) == (200, "App-webs/", b"hello", False)
    assert not r.reusable  # bytes after the body: the connection is out of step


def test_chunked_body() -> None:
    r = read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n",
             eof=False)
    assert r.body == b"hello world" and r.reusable and not r.truncated


def test_close_delimited_body_is_capped() -> None:
    r = read(b"HTTP/1.0 200 OK\r\n\r\n" + b"a" * 1000, cap=100)
    assert r.body == b"a" * 100 and r.truncated and not r.reusable


def test_interim_answers_are_skipped_and_folding_joined() -> None:
    r = read(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n"
             b' realm="DVRNVRDVS"\r\nContent-Length: 0\r\n\r\n')
    assert r.status == 401 and r.all("www-authenticate") == ['Basic realm="DVRNVRDVS"']


def test_rtsp_answer_without_length_has_no_body() -> None:
    r = read(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Hikvision-Webs\r\n\r\n", eof=False)
    assert (r.protocol, r.header("Server"), r.body) == ("RTSP", "Hikvision-Webs", b"")


def test_a_head_cut_short_keeps_its_headers() -> None:
    r = read(b"HTTP/1.1 200 OK\r\nServer: DNVRS-Webs\r\nX-A: b", eof=False)
    assert r.header("Server") == "DNVRS-Webs" and not r.head_complete


def test_not_http_and_oversized_heads() -> None:
    with pytest.raises(http.NotHttp) as info:
        read(b"\x15\x03\x01\x00\x02\x02\x46")
    assert info.value.data.startswith(b"\x15\x03")
    with pytest.raises(http.NotHttp):
        read(b"x" * (http.HEAD_CAP + 10), eof=False)
    r = read(b"HTTP/1.1 200 OK\r\n" + b"X-Junk: yyyyyyyyyyyy\r\n" * 5000, eof=False)
    assert r.status == 200 and not r.head_complete and len(r.headers) == http.MAX_HEADERS
    with pytest.raises(asyncio.IncompleteReadError):
        read(b"")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_read_response_on_any_bytes(data: bytes) -> None:
    try:
        r = read(data)
    except (http.NotHttp, asyncio.IncompleteReadError, TimeoutError):
        return
    assert 0 <= r.status <= 999 and len(r.body) <= http.BODY_CAP


# -- pages -----------------------------------------------------------------------


def test_title_of() -> None:
    assert http.title_of(b"<html><TITLE lang=en>\n  Web &amp; Login  </title>") == "Web & Login"
    assert http.title_of(b"<title>never closed") == "never closed"
    assert http.title_of(b"no title here") is None
    page = http.HttpResponse("HTTP", "1.1", 200, "OK", (("Content-Type", "text/html; charset=gb2312"),))
    assert http.title_of("<title>海康威视</title>".encode("gb2312"), page) == "海康威视"
    assert len(http.title_of(b"<title>" + b"a" * 5000 + b"</title>") or "") == 256
    # Linear time on a page of unclosed tags (a regex with backtracking would not be).
    assert http.title_of(b"<title>" * 20000) is not None


def test_realm_and_redirects() -> None:
    assert http.realm_of('Digest qop="auth", realm="IP Camera(C6423)", nonce="x"') == "IP Camera(C6423)"
    assert http.realm_of("Basic realm=Router") == "Router"
    assert http.realm_of("Bearer") is None
    same = http.same_origin_path
    assert same("/", "/doc/page/login.asp", "127.0.0.9", 80, False) == "/doc/page/login.asp"
    assert same("/a/b", "c?x=1", "127.0.0.9", 80, False) == "/a/c?x=1"
    assert same("/", "http://127.0.0.9/x", "127.0.0.9", 80, False) == "/x"
    assert same("/", "http://127.0.0.9:8080/x", "127.0.0.9", 8080, False) == "/x"
    assert same("/", "http://127.0.0.10/x", "127.0.0.9", 80, False) is None  # another host: never followed
    assert same("/", "https://127.0.0.9/x", "127.0.0.9", 80, False) is None
    assert same("/", "http://127.0.0.9:81/x", "127.0.0.9", 80, False) is None
    assert same("/", "http://[::1/x", "127.0.0.9", 80, False) is None
    assert http.meta_refresh(b'<meta http-equiv="Refresh" content="0; URL=/login.htm">') == "/login.htm"
    assert http.icon_link(b'<link rel="shortcut icon" href="/img/fav.ico">') == "/img/fav.ico"


def test_murmur3_matches_the_reference_vectors() -> None:
    assert http.murmur3_32(b"") == 0
    assert http.murmur3_32(b"hello") == 613153351
    assert http.murmur3_32(b"foo") == -156908512
    assert http.murmur3_32(b"The quick brown fox jumps over the lazy dog") == 0x2E4FF723
    # Shodan's convention hashes the base64 text with its newlines.
    assert http.favicon_hash(b"\x00" * 100) == str(http.murmur3_32(__import__("base64").encodebytes(b"\x00" * 100)))


ONVIF = b"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
<env:Body><tds:GetDeviceInformationResponse><tds:Manufacturer>HIKVISION</tds:Manufacturer>
<tds:Model>DS-2CD2143G0-I</tds:Model><tds:FirmwareVersion>V5.5.80 build 190725</tds:FirmwareVersion>
<tds:SerialNumber>DS-2CD2143G0-I20190101AAWRD12345678</tds:SerialNumber><tds:HardwareId>88</tds:HardwareId>
</tds:GetDeviceInformationResponse></env:Body></env:Envelope>"""


def test_onvif_device_information() -> None:
    info = onvif.parse_device_information(ONVIF)
    assert info == {"Manufacturer": "HIKVISION", "Model": "DS-2CD2143G0-I", "FirmwareVersion": "V5.5.80 build 190725",
                    "SerialNumber": "DS-2CD2143G0-I20190101AAWRD12345678", "HardwareId": "88"}
    fault = b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault/></s:Body></s:Envelope>'
    assert onvif.parse_device_information(fault) == {}
    bomb = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>'
    assert onvif.parse_device_information(bomb) == {}  # defusedxml refuses entities


def test_upnp_description_root_device_only() -> None:
    xml = (b'<root xmlns="urn:schemas-upnp-org:device-1-0"><device><friendlyName>Cam</friendlyName>'
           b"<manufacturer>Dahua</manufacturer><modelName>IPC-HFW</modelName><modelNumber>2431</modelNumber>"
           b"<deviceList><device><manufacturer>Other</manufacturer></device></deviceList></device></root>")
    assert upnp.parse_description(xml) == {"friendlyName": "Cam", "manufacturer": "Dahua",
                                                "modelName": "IPC-HFW", "modelNumber": "2431"}
    assert upnp.parse_description(b"<html>not xml") == {}


@given(st.binary(max_size=2000))
def test_xml_parsers_on_any_bytes(data: bytes) -> None:
    assert isinstance(onvif.parse_device_information(data), dict)
    assert isinstance(upnp.parse_description(data), dict)


# -- TLS ---------------------------------------------------------------------------


def test_parse_certificate() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ZXHN F670L"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ZTE Corporation")])
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0xABC).not_valid_before(now).not_valid_after(now + dt.timedelta(days=10))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("a.local"),
                                                        x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    info = tls.parse_certificate(cert.public_bytes(Encoding.DER))
    assert info.subject == "O=ZTE Corporation,CN=ZXHN F670L" == info.issuer
    assert info.serial == "abc" and info.self_signed and info.san == ("a.local", "127.0.0.1")
    assert info.not_before == now
    with pytest.raises(ValueError):
        tls.parse_certificate(b"\x30\x03\x02\x01\x00")


# -- SNMP / LLDP ------------------------------------------------------------------------


def test_lldp_rows_become_neighbours() -> None:
    e = snmp_evidence.LLDP_REM_ENTRY
    rows = [
        (f"{e}.4.0.5.1", 4), (f"{e}.5.0.5.1", b"\x00\xe0\xfc\x12\x34\x56"), (f"{e}.7.0.5.1", b"GE0/0/1"),
        (f"{e}.9.0.5.1", b"zte-olt"), (f"{e}.10.0.5.1", b"ZXA10 C300\r\nZTE Corporation"),
        (f"{e}.4.0.7.2", 5), (f"{e}.5.0.7.2", b"\x01\x7f\x4d\x00\x05"),
        (f"{e}.4.0.8.3", 7), (f"{e}.5.0.8.3", b"local-thing"),
        ("1.3.6.1.2.1.1.1.0", b"not lldp"), (f"{e}.9.bad", b"x"),
    ]
    n1, n2, n3 = snmp_evidence.lldp_neighbours(rows)
    assert (n1.local_port, n1.mac, n1.sys_name, n1.sys_desc, n1.port_id) == (
        5, "00:e0:fc:12:34:56", "zte-olt", "ZXA10 C300\nZTE Corporation", "GE0/0/1")
    assert n2.mac is None and n2.address == "127.77.0.5"
    assert n3.mac is None and n3.address is None


def test_mac_from_octets() -> None:
    assert snmp_evidence.mac_from_octets(b"\x00\xe0\xfc\x12\x34\x56") == "00:e0:fc:12:34:56"
    assert snmp_evidence.mac_from_octets(b"00-E0-FC-12-34-56") == "00:e0:fc:12:34:56"
    assert snmp_evidence.mac_from_octets(b"switch-1") is None


def test_a_neighbour_row_says_the_same_from_a_walk_and_from_a_captured_answer() -> None:
    """One function turns lldpRemTable rows into evidence for the probe and for pcap: the neighbour's
    own keys, never the agent's address, and the same kinds an LLDP frame gives."""
    e = snmp_evidence.LLDP_REM_ENTRY
    rows = [(f"{e}.4.0.5.1", 4), (f"{e}.5.0.5.1", b"\x00\xe0\xfc\x12\x34\x56"), (f"{e}.7.0.5.1", b"GE0/0/1"),
            (f"{e}.9.0.5.1", b"AGG-01"), (f"{e}.10.0.5.1", b"VRP\r\nHUAWEI")]
    [n] = snmp_evidence.lldp_neighbours(rows)
    facts = snmp_evidence.neighbour_evidence(n)
    assert {(f.kind, f.value) for f in facts} == {
        ("mac", "00:e0:fc:12:34:56"), ("lldp.chassis_id", "00:e0:fc:12:34:56"), ("lldp.port_id", "GE0/0/1"),
        ("lldp.sysname", "AGG-01"), ("lldp.sysdescr", "VRP\nHUAWEI")}
    assert all(f.third_party and f.mac == "00:e0:fc:12:34:56" and f.ip is None for f in facts)
    assert not snmp_evidence.neighbour_evidence(snmp_evidence.LldpNeighbour(local_port=1, index=1))
    # a multicast chassis "MAC" names no device
    [group] = snmp_evidence.lldp_neighbours([(f"{e}.4.0.1.1", 4), (f"{e}.5.0.1.1", b"\x01\x80\xc2\x00\x00\x0e")])
    assert group.mac is None
