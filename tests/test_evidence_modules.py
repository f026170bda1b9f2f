"""The protocol modules of vendorscope.evidence, one by one: what they make of real answers, and
that hostile bytes give a result or a DecodeError, never another exception."""

from __future__ import annotations

import contextlib
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendorscope.evidence import greeting, http, kinds, onvif, rtsp, sip, snmp, ssh, tls, upnp
from vendorscope.evidence.record import DecodeError, Evidence, clean_text, mac_from_text
from vendorscope.lab.capture import huawei_certificate, tls12_server_flight

FUZZ = settings(max_examples=150, deadline=None, derandomize=True)


# -- greetings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("port", "data", "kind"), [
    (25, b"220 mail.example.com FTP-to-mail gateway ready\r\n", "smtp.banner"),  # the port the client chose
    (990, b"220 Welcome\r\n", "ftp.banner"),  # FTPS
    (2121, b"220 anything\r\n", "ftp.banner"),
    (8025, b"220 host ESMTP ready\r\n", "smtp.banner"),
    (8021, b"220 ProFTPD Server\r\n", "ftp.banner"),
    (8026, b"220 mail relay\r\n", "smtp.banner"),
    (9000, b"220 Welcome\r\n", "tcp.banner"),
    (9000, b"+OK Dovecot ready.\r\n", "pop.banner"),
    (9000, b"* OK [CAPABILITY IMAP4rev1] ready\r\n", "imap.banner"),
    (9000, b"\xff\xfb\x01Router login: ", "telnet.banner"),
    (2323, b"Router login: ", "telnet.banner"),
    (9000, b"junk\r\nSSH-2.0-ZTE_SSH.2.0\r\n", "ssh.banner"),
])
def test_greeting_kind(port: int, data: bytes, kind: str) -> None:
    found = greeting.classify(port, data)
    assert found is not None and found.kind == kind


def test_a_named_service_decides_when_port_and_words_do_not() -> None:
    assert greeting.classify(9000, b"220 Welcome\r\n", "ftp") == Evidence("ftp.banner", "220 Welcome")
    assert greeting.classify(9000, b"Welcome\r\n", "telnet") == Evidence("telnet.banner", "Welcome")
    # A scanner's service name never makes non-SSH text an SSH banner.
    assert greeting.classify(9000, b"Welcome\r\n", "ssh") == Evidence("tcp.banner", "Welcome")


def test_greeting_is_capped_and_clean() -> None:
    found = greeting.classify(9000, b"220 " + b"A\x1b" * 5000 + b"\r\n")
    assert found is not None and len(found.value) == greeting.MAX_BANNER and "\x1b" not in found.value


def test_telnet_complete_waits_for_the_prompt() -> None:
    assert not greeting.telnet_complete(b"\xff\xfb\x01Warning")
    assert greeting.telnet_complete(b"\xff\xfb\x01Warning\r\nlogin: ")
    assert greeting.greeting_complete(b"+OK ready\r\n") and not greeting.greeting_complete(b"+OK rea")


@FUZZ
@given(st.integers(0, 65535), st.binary(max_size=600), st.sampled_from([None, "ftp", "smtp", "telnet", "x"]))
def test_greeting_any_bytes(port: int, data: bytes, service: str | None) -> None:
    found = greeting.classify(port, data, service)
    if found is not None:
        assert found.kind in kinds.EVIDENCE_KINDS and found.value and "\x00" not in found.value
    greeting.telnet_complete(data)
    greeting.greeting_complete(data)
    assert greeting.strip_telnet(data)[0].count(b"\xff") <= data.count(b"\xff")


@FUZZ
@given(st.binary(max_size=400))
def test_ssh_any_bytes(data: bytes) -> None:
    line = ssh.banner(data)
    assert line is None or (line.startswith("SSH-") and len(line) <= ssh.MAX_LINE)


# -- HTTP, RTSP, SIP ---------------------------------------------------------------------------------------


def test_http_response_head_and_title() -> None:
    data = (b"HTTP/1.1 401 Unauthorized\r\nServer: Hikvision-Webs\r\n"
            b"WWW-Authenticate: Digest realm=\"DS-2CD\", nonce=\"x\"\r\nContent-Type: text/html; charset=gbk\r\n\r\n"
            + "<title> 海康 &amp;\n Login </title>".encode("gbk"))
    got = http.response_evidence(data)
    assert Evidence("http.server", "Hikvision-Webs") in got
    auth = next(e for e in got if e.kind == "http.www_authenticate")
    assert auth.value == 'Digest realm="DS-2CD", nonce="x"' and auth.context == {"realm": "DS-2CD"}
    assert Evidence("http.title", "海康 & Login") in got


def test_title_rules() -> None:
    assert http.title(b"<html><TITLE>a\tb</TITLE>") == "a b"
    assert http.title(b"<title>" + b"x" * 1000 + b"</title>") == "x" * http.MAX_TITLE
    assert http.title(b"<title></title>") is None and http.title(b"no title") is None
    assert http.title_text("Hik &amp; Login") == http.title_text("Hik & Login") == "Hik & Login"


def test_rtsp_and_sip() -> None:
    answer = b"RTSP/1.0 401 Unauthorized\r\nServer: Dahua Rtsp Server\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\n"
    assert {e.kind for e in rtsp.response_evidence(answer)} == {"rtsp.server", "rtsp.www_authenticate"}
    assert rtsp.request_evidence(b"OPTIONS rtsp://x RTSP/1.0\r\nUser-Agent: NVR\r\n\r\n") == [
        Evidence("rtsp.user_agent", "NVR")]
    assert sip.parse_sip(b"SIP/2.0 200 OK\r\nServer: Yealink SIP-T46S\r\n\r\n") == [
        Evidence("sip.user_agent", "Yealink SIP-T46S")]
    with pytest.raises(DecodeError):
        sip.parse_sip(b"GET / HTTP/1.1\r\n\r\n")


def test_favicon_hash_is_shodans() -> None:
    assert http.murmur3_32(b"hello") == 613153351  # mmh3.hash(b"hello")
    assert http.favicon_hash(b"") == str(http.murmur3_32(b""))


@FUZZ
@given(st.binary(max_size=800))
def test_http_any_bytes(data: bytes) -> None:
    for parse in (http.response_evidence, http.request_evidence, rtsp.response_evidence):
        try:
            found = parse(b"HTTP/1.1 200 OK\r\n" + data)
        except DecodeError:
            continue
        assert all(e.value and len(e.value) <= http.MAX_HEADER_VALUE for e in found)
    title = http.title(data)
    assert title is None or 0 < len(title) <= http.MAX_TITLE
    with contextlib.suppress(DecodeError):
        sip.parse_sip(data)


# -- TLS ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "canonical"), [
    ("C=CN, O=Huawei, CN=x", "CN=x,O=Huawei,C=CN"),  # OpenSSL one-line
    ("/C=CN/O=Huawei/CN=x", "CN=x,O=Huawei,C=CN"),  # the slash form
    ("CN=x,O=Huawei,C=CN", "CN=x,O=Huawei,C=CN"),  # already RFC 4514
    ("C=CN, O=A\\, B, CN=x", "CN=x,O=A\\, B,C=CN"),  # an escaped comma stays one value
    ("CN=only", "CN=only"),
])
def test_one_dn_spelling(written: str, canonical: str) -> None:
    assert tls.canonical_dn(written) == canonical


def test_dn_from_fields_escapes() -> None:
    assert tls.dn_from_pairs([("countryName", "CN"), ("organizationName", "A, B"), ("commonName", " x")]) == \
        "CN=\\ x,O=A\\, B,C=CN"


def test_certificate_the_same_from_der_and_from_fields() -> None:
    info = tls.parse_certificate(huawei_certificate())
    from_der = {(e.kind, e.value) for e in info.evidence()}
    assert ("tls.cert.subject", "CN=USG6000E,OU=Enterprise Network,O=Huawei,C=CN") in from_der
    assert info.not_before is not None and info.not_after is not None
    from_fields = {(e.kind, e.value) for e in tls.certificate_evidence(
        tls.canonical_dn("C=CN, O=Huawei, OU=Enterprise Network, CN=USG6000E"), info.issuer,
        serial=":".join(f"{b:02X}" for b in bytes.fromhex(info.serial.zfill(len(info.serial) + len(info.serial) % 2))),
        not_before=info.not_before.replace(tzinfo=None).isoformat(), not_after=info.not_after.isoformat(),
        san=info.san)}
    assert from_der == from_fields
    subject = next(e for e in info.evidence() if e.kind == "tls.cert.subject")
    assert subject.context is not None and subject.context["serial"] == info.serial


def test_a_version_2_certificate_is_a_decode_error_not_a_crash() -> None:
    """cryptography raises InvalidVersion (not a ValueError) for X.509 v2; found by the capture fuzzer."""
    der = huawei_certificate()
    v3 = b"\xa0\x03\x02\x01\x02"
    assert v3 in der
    with pytest.raises(DecodeError, match="unreadable TLS certificate"):
        tls.parse_certificate(der.replace(v3, b"\xa0\x03\x02\x01\x01", 1))


def test_server_flight() -> None:
    found, done = tls.decode_server_flight(tls12_server_flight(huawei_certificate()))
    assert done and {e.kind for e in found} >= {"tls.cert.subject", "tls.cert.issuer", "tls.cert.serial"}


@FUZZ
@given(st.binary(max_size=600))
def test_tls_any_bytes(data: bytes) -> None:
    for parse in (tls.parse_certificate, lambda d: tls.decode_server_flight(b"\x16\x03\x03" + d)):
        with contextlib.suppress(DecodeError):
            parse(data)


@FUZZ
@given(st.text(max_size=200))
def test_dn_any_text(text: str) -> None:
    assert len(tls.canonical_dn(text)) <= 1024
    tls.canonical_time(text)
    tls.canonical_serial(text)


# -- SNMP, UPnP, ONVIF ------------------------------------------------------------------------------------------


def test_display_string() -> None:
    assert snmp.display_string(b"Huawei VRP\r\n  Version 8.180 \r\n\r\n") == "Huawei VRP\nVersion 8.180"


UPNP = (b'<root xmlns="urn:schemas-upnp-org:device-1-0"><device><manufacturer>Hikvision</manufacturer>'
        b"<modelName>DS-2CD2032</modelName><modelNumber>F</modelNumber><serialNumber>S1</serialNumber>"
        b"</device></root>")
ONVIF = (b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
         b'<tds:GetDeviceInformationResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
         b"<tds:Manufacturer>Acme</tds:Manufacturer><tds:Model>AC-100</tds:Model>"
         b"<tds:SerialNumber>SN42</tds:SerialNumber></tds:GetDeviceInformationResponse></s:Body></s:Envelope>")


def test_upnp_and_onvif_descriptions() -> None:
    got = upnp.description_evidence(upnp.parse_description(UPNP))
    assert [(e.kind, e.value, e.serial) for e in got] == [("upnp.manufacturer", "Hikvision", "S1"),
                                                         ("upnp.model", "DS-2CD2032 F", "S1")]
    got = onvif.device_information_evidence(onvif.parse_device_information(ONVIF))
    assert [(e.kind, e.value, e.serial) for e in got] == [("onvif.manufacturer", "Acme", "SN42"),
                                                         ("onvif.model", "AC-100", "SN42")]
    assert upnp.parse_description(b"<!DOCTYPE x [<!ENTITY a 'b'>]><root/>") == {}  # defused


@FUZZ
@given(st.binary(max_size=400))
def test_xml_and_snmp_any_bytes(data: bytes) -> None:
    assert isinstance(upnp.parse_description(UPNP[:40] + data), dict)
    assert isinstance(onvif.parse_device_information(ONVIF[:60] + data), dict)
    assert len(snmp.display_string(data)) <= 1024
    for decode in (snmp.decode_snmp, upnp.decode_ssdp):
        with contextlib.suppress(DecodeError):
            decode(data)


# -- the kinds registry --------------------------------------------------------------------------------------------


def test_registry_holds_the_kinds_rules_and_lookups_use() -> None:
    registry = kinds.registry()
    assert {"ssh.banner", "tls.cert.serial", "lldp.med.model", "pop.banner", "sbom.purl"} <= set(registry)
    assert registry["mac"].names == "component" and registry["mac"].confidence == 0.6
    assert {"inventory.manufacturer", "inventory.model", "onvif.manufacturer", "onvif.model",
                                 "upnp.manufacturer", "upnp.model", "netbox.manufacturer",
                                 "dhip.vendor", "wsd.name", "wsd.hardware"} == kinds.LABEL_KINDS
    assert all(k.title for k in registry.values())


@pytest.mark.parametrize(("toml", "message"), [
    ('[[kind]]\ntitle = "x"', "kind #1: needs a name"),
    ('[[kind]]\nname = "a"\n[[kind]]\nname = "a"', "kind #2: a listed twice"),
    ('[[kind]]\nname = "a"\nnames = "box"', "names must be one of"),
    ('[[kind]]\nname = "a"\nlookup = "mac"', "a lookup needs a confidence"),
    ('[[kind]]\nname = "a"\nlookup = "mac"\nconfidence = 2', "confidence must be a number"),
    ('[[kind]]\nname = "a"\ncolour = "red"', "unknown field colour"),
])
def test_bad_registry_is_one_clear_error(toml: str, message: str) -> None:
    with pytest.raises(kinds.KindsError, match=message):
        kinds.parse_kinds(tomllib.loads(toml), "kinds.toml")


def test_clean_text_keeps_lines() -> None:
    assert clean_text(b"a\r\n\r\n b \x07\r\n") == "a\nb"


def test_every_kind_the_fixtures_and_the_demo_capture_give_is_registered() -> None:
    """pcap on the demo capture, and every import on its bundled fixtures: no unregistered kind."""
    from datetime import UTC, datetime
    from pathlib import Path

    from vendorscope.collect.imports.common import Collector
    from vendorscope.collect.imports.nmap import read_nmap
    from vendorscope.collect.imports.sbom import read_sbom
    from vendorscope.collect.imports.scandata import read_scandata
    from vendorscope.collect.imports.table import read_table
    from vendorscope.collect.pcap import SkipReport, read_observations
    from vendorscope.lab.capture import DEMO_PATH

    fixtures = Path(__file__).parent / "fixtures"
    now = datetime.now(UTC)
    emitted = {o.kind for o in read_observations(DEMO_PATH, report=SkipReport())}
    for path in (fixtures / "nmap").glob("*.xml"):
        with path.open("rb") as stream:
            emitted |= {o.kind for o in read_nmap(stream, path.name, "import", Collector(), now)}
    for path in (fixtures / "scandata").glob("*.jsonl"):
        with path.open("rb") as stream:
            emitted |= {o.kind for o in read_scandata(stream, path.name, "import", Collector(), now)}
    for path in (fixtures / "sbom").iterdir():
        emitted |= {o.kind for o in read_sbom(path.read_bytes(), path.name, "import", Collector(), now)}
    for path in (fixtures / "tables").glob("*.csv"):
        emitted |= {o.kind for o in read_table(path, path.name, "import", Collector(), now)}
    assert len(emitted) > 40
    assert emitted - set(kinds.EVIDENCE_KINDS) == set()


# -- MACs written in data --------------------------------------------------


@pytest.mark.parametrize(("text", "want"), [
    ("58-50-ED-1F-E3-85", "58:50:ed:1f:e3:85"),  # SADP writes dashes, upper case
    ("3c:ef:8c:00:00:01", "3c:ef:8c:00:00:01"),  # DHIP writes colons
    ("5850.ed1f.e385", "58:50:ed:1f:e3:85"),  # Cisco-style, as CMDBs copy it
    (" 5850ED1FE385 ", "58:50:ed:1f:e3:85"),
    ("58:50:ed:1f:e3", None), ("58:50:ed:1f:e3:8g", None), ("", None), (None, None),
    ("<script>58:50:ed:1f:e3:85", None),
])
def test_mac_from_text(text: str | None, want: str | None) -> None:
    assert mac_from_text(text) == want


@given(st.text(alphabet="0123456789abcdefABCDEF:-. x", max_size=20))
def test_mac_from_text_agrees_with_the_oui_lookup(text: str) -> None:
    from vendorscope.identify.oui import MacError, normalise_mac

    try:
        want: str | None = normalise_mac(text)
    except MacError:
        want = None
    assert mac_from_text(text) == want
