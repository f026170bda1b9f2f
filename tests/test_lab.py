"""The lab of emulated devices, checked with real clients over loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tomllib
from pathlib import Path

import asyncssh
import defusedxml.ElementTree as SafeET
import httpx
import pytest
from cryptography import x509
from lab_fixture import lab_fixture, random_base
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.codec.ber import encoder as ber_encoder
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    get_cmd,
    usmAesCfb128Protocol,
    usmHMACSHAAuthProtocol,
    walk_cmd,
)
from pysnmp.proto import api, rfc1905
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.cli.lab import DEVICE_COLUMNS, is_lab_process
from vendorscope.identify.registry import default_registry
from vendorscope.lab import Lab, LabDevice, LabError, ProfileError, load_profiles
from vendorscope.lab.faults import PARTIAL_BANNERS
from vendorscope.lab.profiles import Profile
from vendorscope.lab.runner import covering_network, device_mac
from vendorscope.lab.snmp import MibView, parse_snmprec
from vendorscope.lab.telnet import strip_telnet_commands

PROFILES = {p.name: p for p in load_profiles()}
# One device per profile, and the first three profiles a second time (replicas).
COUNT = len(PROFILES) + 3
lab = lab_fixture(count=COUNT)

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
LLDP_REM_SYS_NAME = "1.0.8802.1.1.2.1.4.1.1.9"
LLDP_REM_SYS_DESC = "1.0.8802.1.1.2.1.4.1.1.10"
SHORT = 0.5  # seconds a silent service gets to prove it stays silent


# ------------------------------------------------------------------ helpers


def connect(device: LabDevice, service: str, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection((device.ip, device.services[service]), timeout=timeout)
    return sock


def read_until(sock: socket.socket, marker: bytes, limit: int = 1 << 20) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        assert len(data) < limit, "server sent far more than expected"
    return data


def read_all(sock: socket.socket, limit: int = 8 << 20) -> tuple[bytes, BaseException | None]:
    """Everything until EOF or an error (returned, not raised)."""
    data = b""
    try:
        while len(data) < limit:
            chunk = sock.recv(1 << 16)
            if not chunk:
                return data, None
            data += chunk
    except OSError as exc:
        return data, exc
    return data, None


def devices_with(lab: Lab, service: str, faulty: bool = False) -> list[LabDevice]:
    return [d for d in lab.devices if service in d.services and (d.fault is not None) == faulty]


def first(lab: Lab, profile: str) -> LabDevice:
    return lab.by_profile(profile)[0]


def profile_of(device: LabDevice) -> Profile:
    return PROFILES[device.profile]


def snmp_v3_auth(lab: Lab) -> UsmUserData:
    c = lab.credentials
    return UsmUserData(
        c.user, c.auth_key, c.priv_key, authProtocol=usmHMACSHAAuthProtocol, privProtocol=usmAesCfb128Protocol
    )


async def _snmp_get(
    engine: SnmpEngine, device: LabDevice, auth: object, oids: list[str], timeout: float
) -> dict[str, object]:
    target = await UdpTransportTarget.create((device.ip, device.services["snmp"]), timeout=timeout, retries=0)
    error, status, _, binds = await get_cmd(
        engine, auth, target, ContextData(), *(ObjectType(ObjectIdentity(o)) for o in oids), lookupMib=False
    )
    if error or status:
        return {"error": str(error or status)}
    return {str(name): value for name, value in binds}


def snmp_get_many(requests: list[tuple[LabDevice, object, list[str]]], timeout: float = 3.0) -> list[dict[str, object]]:
    """GETs to several devices at once, through one client engine (making engines is slow)."""

    async def run() -> list[dict[str, object]]:
        engine = SnmpEngine()
        try:
            return list(
                await asyncio.gather(*(_snmp_get(engine, d, auth, oids, timeout) for d, auth, oids in requests))
            )
        finally:
            engine.close_dispatcher()

    return asyncio.run(run())


def snmp_get(device: LabDevice, auth: object, oids: list[str], timeout: float = 3.0) -> dict[str, object]:
    return snmp_get_many([(device, auth, oids)], timeout)[0]


async def _snmp_walk(device: LabDevice, auth: object, oid: str) -> dict[str, object]:
    engine = SnmpEngine()
    out: dict[str, object] = {}
    try:
        target = await UdpTransportTarget.create((device.ip, device.services["snmp"]), timeout=3, retries=1)
        async for error, status, _, binds in walk_cmd(
            engine,
            auth,
            target,
            ContextData(),
            ObjectType(ObjectIdentity(oid)),
            lexicographicMode=False,
            lookupMib=False,
        ):
            assert not error and not status, (error, status)
            out.update({str(name): value for name, value in binds})
    finally:
        engine.close_dispatcher()
    return out


def snmp_walk(device: LabDevice, auth: object, oid: str) -> dict[str, object]:
    return asyncio.run(_snmp_walk(device, auth, oid))


def v2c_get_request(oid: str, request_id: int = 4242) -> bytes:
    module = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    pdu = module.GetRequestPDU()
    module.apiPDU.set_defaults(pdu)
    module.apiPDU.set_request_id(pdu, request_id)
    module.apiPDU.set_varbinds(pdu, [(oid, module.Null(""))])
    message = module.Message()
    module.apiMessage.set_defaults(message)
    module.apiMessage.set_community(message, "public")
    module.apiMessage.set_pdu(message, pdu)
    return bytes(ber_encoder.encode(message))


def udp_exchange(device: LabDevice, payload: bytes, timeout: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, (device.ip, device.services["snmp"]))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def title_of(html_text: str) -> str | None:
    m = re.search(r"<title>(.*?)</title>", html_text, re.S)
    return m.group(1) if m else None


def http_url(device: LabDevice, service: str, path: str = "/") -> str:
    scheme = "https" if service == "https" else "http"
    return f"{scheme}://{device.ip}:{device.services[service]}{path}"


# ------------------------------------------------------------------ the lab itself


def test_lab_has_the_devices_the_issue_asks_for(lab: Lab) -> None:
    assert len(lab.devices) == COUNT >= 20
    ips = [d.ip for d in lab.devices]
    assert len(set(ips)) == len(ips)
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("127.0.0.0/8") for ip in ips)
    vendors = {d.vendor for d in lab.devices}
    for vendor in (
        "huawei",
        "zte",
        "hikvision",
        "dahua",
        "hytera",
        "cisco",
        "juniper",
        "nokia",
        "ericsson",
        "axis",
        "mikrotik",
        "ubiquiti",
    ):
        assert vendor in vendors, vendor
    huawei_roles = {d.role for d in lab.devices if d.vendor == "huawei"}
    assert {"core", "transport", "enterprise"} <= huawei_roles
    assert {d.fault for d in lab.devices} >= {"blackhole", "reset", "garbage", "malformed"}
    conflicts = [d for d in lab.devices if d.conflict]
    assert [d.profile for d in conflicts] == ["whitelabel-cam"]
    assert conflicts[0].label == "honeywell" and conflicts[0].vendor == "hikvision"


def test_replicas_are_distinct_devices(lab: Lab) -> None:
    first_round, second_round = lab.devices[0], lab.devices[len(PROFILES)]
    assert first_round.profile == second_round.profile
    assert first_round.name != second_round.name and first_round.hostname != second_round.hostname
    assert first_round.mac != second_round.mac
    assert len({d.name for d in lab.devices}) == len(lab.devices)


def test_every_service_listens_where_the_device_list_says(lab: Lab) -> None:
    for device in lab.devices:
        for port in device.tcp_ports():
            with socket.create_connection((device.ip, port), timeout=5):
                pass


# ------------------------------------------------------------------ SSH


def test_ssh_identification_lines(lab: Lab) -> None:
    seen = {}
    for device in devices_with(lab, "ssh"):
        service = profile_of(device).ssh
        assert service is not None
        with connect(device, "ssh") as sock:
            line = read_until(sock, b"\r\n").split(b"\r\n")[0].decode()
        assert line == f"SSH-{service.protocol}-{service.version}", device.name
        seen[device.profile] = line
    assert seen["huawei-ne40e"] == "SSH-2.0-HUAWEI-1.5"
    assert seen["huawei-s5735"] == "SSH-1.99-HUAWEI-1.5"
    assert seen["mikrotik-ccr"] == "SSH-2.0-ROSSSH"
    assert seen["cisco-c9300"] == "SSH-2.0-Cisco-1.25"
    assert seen["ubiquiti-udm"] == "SSH-2.0-dropbear_2019.78"


@pytest.mark.parametrize("profile", ["huawei-ne40e", "huawei-s5735", "zte-c320"])
def test_ssh_is_a_real_server_that_refuses_logins(lab: Lab, profile: str) -> None:
    device = first(lab, profile)

    async def attempt() -> None:
        await asyncssh.connect(
            device.ip,
            device.services["ssh"],
            username="admin",
            password="admin",
            known_hosts=None,
            client_keys=None,
            preferred_auth="password",
        )

    # PermissionDenied comes after a completed key exchange: a canned banner could not get that far.
    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(attempt())


# ------------------------------------------------------------------ HTTP / HTTPS / ONVIF / UPnP


def test_http_server_header_title_and_realm(lab: Lab) -> None:
    with httpx.Client(verify=False, timeout=5) as client:
        for service in ("http", "https"):
            for device in devices_with(lab, service):
                web = getattr(profile_of(device), service)
                front = client.get(http_url(device, service))
                assert front.headers.get("server") == web.server, device.name
                if "/" in web.protected:
                    assert front.status_code == 401
                    assert title_of(front.text) == web.unauthorized_title
                else:
                    assert front.status_code == 200
                    assert title_of(front.text) == web.title
                if web.protected:
                    path = next(p for p in web.protected if p != "/") if web.protected != ("/",) else "/"
                    denied = client.get(http_url(device, service, path + "x"))
                    assert denied.status_code == 401, (device.name, path)
                    challenge = denied.headers["www-authenticate"]
                    assert challenge.split("nonce=")[0] == web.realm.split("nonce=")[0]
                    assert "{nonce}" not in challenge


def test_http_headers_match_the_vendors(lab: Lab) -> None:
    with httpx.Client(verify=False, timeout=5) as client:
        hik = client.get(http_url(first(lab, "hikvision-ipc"), "http"))
        assert hik.headers["server"] == "App-webs/"
        assert 'realm="IP Camera(C6421)"' in hik.headers["www-authenticate"]
        dahua = client.get(http_url(first(lab, "dahua-ipc"), "http"))
        assert "server" not in dahua.headers  # Dahua's web server sends none
        assert title_of(dahua.text) == "WEB SERVICE"
        cisco = client.get(http_url(first(lab, "cisco-c9300"), "http"))
        assert cisco.headers["www-authenticate"] == 'Basic realm="level_15_access"'
        zte = client.get(http_url(first(lab, "zte-f670l"), "http"))
        assert zte.headers["server"] == "Mini web server 1.0 ZTE corp 2005."


def test_https_certificates_carry_the_vendors_names(lab: Lab) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for device in devices_with(lab, "https"):
        web = profile_of(device).https
        assert web is not None
        with connect(device, "https") as raw, context.wrap_socket(raw) as tls_sock:
            der = tls_sock.getpeercert(binary_form=True)
        assert der is not None
        cert = x509.load_der_x509_certificate(der)
        organisation = [a.value for a in cert.subject if a.oid == x509.NameOID.ORGANIZATION_NAME]
        expected = [
            p.split("=", 1)[1] for p in re.split(r",\s*(?=[A-Z]+=)", web.cert_subject or "") if p.startswith("O=")
        ]
        assert organisation == expected, device.name
    unc = first(lab, "huawei-unc")
    with connect(unc, "https") as raw, context.wrap_socket(raw) as tls_sock:
        cert = x509.load_der_x509_certificate(tls_sock.getpeercert(binary_form=True) or b"")
    assert "O=Huawei" in cert.subject.rfc4514_string()
    assert "CN=Huawei Equipment CA" in cert.issuer.rfc4514_string()


ONVIF_GET_DEVICE_INFORMATION = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    '<s:Body><GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>'
)
ONVIF_NS = "{http://www.onvif.org/ver10/device/wsdl}"


@pytest.mark.parametrize(
    ("profile", "manufacturer", "model"),
    [
        ("hikvision-ipc", "HIKVISION", "DS-2CD2143G2-I"),
        ("dahua-ipc", "Dahua", "IPC-HFW2431S-S-S2"),
        ("axis-p3245", "AXIS", "P3245-LVE"),
        ("whitelabel-cam", "Honeywell", "H4W4PER3"),
    ],
)
def test_onvif_get_device_information(lab: Lab, profile: str, manufacturer: str, model: str) -> None:
    device = first(lab, profile)
    response = httpx.post(
        http_url(device, "http", "/onvif/device_service"),
        content=ONVIF_GET_DEVICE_INFORMATION,
        headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        timeout=5,
    )
    assert response.status_code == 200
    root = SafeET.fromstring(response.content)
    assert root.findtext(f".//{ONVIF_NS}Manufacturer") == manufacturer
    assert root.findtext(f".//{ONVIF_NS}Model") == model


def test_onvif_rejects_what_it_does_not_support(lab: Lab) -> None:
    url = http_url(first(lab, "hikvision-ipc"), "http", "/onvif/device_service")
    unknown = ONVIF_GET_DEVICE_INFORMATION.replace("GetDeviceInformation", "SetSystemFactoryDefault")
    assert httpx.post(url, content=unknown, timeout=5).status_code == 400
    assert httpx.post(url, content=b"<not xml", timeout=5).status_code == 400


def test_whitelabel_camera_labels_another_brand_than_its_firmware(lab: Lab) -> None:
    cam = first(lab, "whitelabel-cam")
    upnp = httpx.get(http_url(cam, "http", "/rootDesc.xml"), timeout=5)
    root = SafeET.fromstring(upnp.content)
    assert root.findtext(".//{urn:schemas-upnp-org:device-1-0}manufacturer") == "Honeywell"
    web = httpx.get(http_url(cam, "http"), timeout=5)
    assert web.headers["server"] == "App-webs/"  # Hikvision's firmware
    assert 'realm="IP Camera(' in web.headers["www-authenticate"]
    with connect(cam, "rtsp") as sock:
        sock.sendall(f"DESCRIBE rtsp://{cam.ip}/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 2\r\n\r\n".encode())
        reply = read_until(sock, b"\r\n\r\n").decode()
    assert reply.startswith("RTSP/1.0 401") and 'realm="IP Camera(' in reply


def test_favicons_are_icons_that_differ_by_profile(lab: Lab) -> None:
    icons = {}
    for device in devices_with(lab, "http")[:6]:
        response = httpx.get(http_url(device, "http", "/favicon.ico"), timeout=5)
        assert response.status_code == 200 and response.content[:4] == b"\x00\x00\x01\x00"
        icons[device.profile] = response.content
    assert len(set(icons.values())) == len(icons)


# ------------------------------------------------------------------ SNMP


def test_snmp_v2c_system_group(lab: Lab) -> None:
    agents = [d for d in devices_with(lab, "snmp") if profile_of(d).snmp.v2c]  # type: ignore[union-attr]
    community = CommunityData(lab.credentials.community)
    answers = snmp_get_many([(d, community, [SYS_DESCR, SYS_OBJECT_ID, SYS_NAME]) for d in agents])
    for device, values in zip(agents, answers, strict=True):
        assert "error" not in values, (device.name, values)
        assert str(values[SYS_NAME]) == device.hostname
        assert str(values[SYS_OBJECT_ID]).startswith("1.3.6.1.4.1.")
    ne40e = answers[agents.index(first(lab, "huawei-ne40e"))]
    assert "Huawei Versatile Routing Platform" in str(ne40e[SYS_DESCR])
    assert str(ne40e[SYS_OBJECT_ID]).startswith("1.3.6.1.4.1.2011.")


def test_snmp_v3_auth_priv(lab: Lab) -> None:
    expected = {"huawei-ne40e": "2011", "juniper-mx204": "2636", "zte-c320": "3902"}
    requests = [(first(lab, p), snmp_v3_auth(lab), [SYS_DESCR, SYS_OBJECT_ID]) for p in expected]
    for (profile, enterprise), values in zip(expected.items(), snmp_get_many(requests), strict=True):
        assert "error" not in values, (profile, values)
        assert str(values[SYS_OBJECT_ID]).startswith(f"1.3.6.1.4.1.{enterprise}.")


def test_snmp_refuses_unknown_credentials(lab: Lab) -> None:
    router = first(lab, "huawei-ne40e")
    wrong_key = UsmUserData(
        lab.credentials.user,
        "wrong-auth-key",
        lab.credentials.priv_key,
        authProtocol=usmHMACSHAAuthProtocol,
        privProtocol=usmAesCfb128Protocol,
    )
    answers = snmp_get_many(
        [
            (first(lab, "juniper-mx204"), CommunityData("public"), [SYS_DESCR]),  # SNMPv3 only
            (router, CommunityData("private"), [SYS_DESCR]),
            (router, wrong_key, [SYS_DESCR]),
        ],
        timeout=SHORT,
    )
    assert all("error" in a for a in answers), answers


def test_snmp_walks_lldp_neighbours(lab: Lab) -> None:
    router = first(lab, "huawei-ne40e")
    names = snmp_walk(router, CommunityData("public"), LLDP_REM_SYS_NAME)
    assert sorted(str(v) for v in names.values()) == ["AGG-S5735-01", "DC-C9300-01", "P-7750-01", "PE-M6000-01"]
    descriptions = snmp_walk(router, snmp_v3_auth(lab), LLDP_REM_SYS_DESC)
    assert any("Cisco IOS Software" in str(v) for v in descriptions.values())
    switch = first(lab, "cisco-c9300")
    neighbours = snmp_walk(switch, CommunityData("public"), LLDP_REM_SYS_DESC)
    assert sum("Huawei Versatile Routing Platform" in str(v) for v in neighbours.values()) == 3


def test_snmp_mac_addresses_are_per_device(lab: Lab) -> None:
    if_phys_1 = "1.3.6.1.2.1.2.2.1.6.1"
    a, b = lab.by_profile("huawei-ne40e")[:2]
    answers = snmp_get_many([(a, CommunityData("public"), [if_phys_1]), (b, CommunityData("public"), [if_phys_1])])
    macs = [bytes(answer[if_phys_1]).hex(":") for answer in answers]  # type: ignore[call-overload]
    assert macs == [a.mac, b.mac]


# ------------------------------------------------------------------ RTSP, telnet, FTP, SMTP


def test_rtsp_options_and_describe(lab: Lab) -> None:
    dahua = first(lab, "dahua-ipc")
    with connect(dahua, "rtsp") as sock:
        sock.sendall(f"OPTIONS rtsp://{dahua.ip}/ RTSP/1.0\r\nCSeq: 7\r\nUser-Agent: test\r\n\r\n".encode())
        reply = read_until(sock, b"\r\n\r\n").decode()
        assert reply.startswith("RTSP/1.0 200 OK\r\n")
        assert "\r\nCSeq: 7\r\n" in reply and "\r\nServer: Rtsp Server/3.0\r\n" in reply and "DESCRIBE" in reply
        sock.sendall(f"DESCRIBE rtsp://{dahua.ip}/cam/realmonitor RTSP/1.0\r\nCSeq: 8\r\n\r\n".encode())
        reply = read_until(sock, b"\r\n\r\n").decode()
        assert reply.startswith("RTSP/1.0 401") and 'realm="Login to 4L0A1B2PAZ12345"' in reply
    axis = first(lab, "axis-p3245")
    with connect(axis, "rtsp") as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(sock, b"\r\n\r\n").startswith(b"RTSP/1.0 400 Bad Request")
    for device in devices_with(lab, "rtsp"):
        with connect(device, "rtsp") as sock:
            sock.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            reply = read_until(sock, b"\r\n\r\n").decode()
        server = profile_of(device).rtsp.server  # type: ignore[union-attr]
        assert (f"\r\nServer: {server}\r\n" in reply) if server else ("\r\nServer:" not in reply)


def test_telnet_banner_prompt_and_refusal(lab: Lab) -> None:
    for device in devices_with(lab, "telnet"):
        service = profile_of(device).telnet
        assert service is not None
        with connect(device, "telnet") as sock:
            greeting = read_until(sock, service.login_prompt.encode())
            assert greeting.startswith(b"\xff\xfb\x01")  # IAC WILL ECHO, as device telnetds open
            assert strip_telnet_commands(greeting).decode() == service.banner + service.login_prompt
            sock.sendall(b"\xff\xfd\x03admin\r\n")  # with a negotiation reply in front, as clients send
            read_until(sock, service.password_prompt.encode())
            sock.sendall(b"admin\r\n")
            assert service.failure.encode() in read_until(sock, service.failure.encode())
    zte = first(lab, "zte-c320")
    with connect(zte, "telnet") as sock:
        assert b"Welcome to ZXAN product C320 of ZTE Corporation" in read_until(sock, b"Username:")


def test_ftp_banner_and_login_refused(lab: Lab) -> None:
    for device in devices_with(lab, "ftp"):
        with connect(device, "ftp") as sock:
            banner = read_until(sock, b"\r\n").decode()
            assert banner == f"220 {profile_of(device).ftp.banner}\r\n"  # type: ignore[union-attr]
            sock.sendall(b"USER anonymous\r\n")
            assert read_until(sock, b"\r\n").startswith(b"331")
            sock.sendall(b"PASS guest@\r\n")
            assert read_until(sock, b"\r\n").startswith(b"530")
            sock.sendall(b"QUIT\r\n")
            assert read_until(sock, b"\r\n").startswith(b"221")
    mikrotik = first(lab, "mikrotik-ccr")
    with connect(mikrotik, "ftp") as sock:
        assert b"(MikroTik 6.49.7) ready" in read_until(sock, b"\r\n")


def test_smtp_banner_ehlo_quit(lab: Lab) -> None:
    relay = first(lab, "mail-relay")
    with connect(relay, "smtp") as sock:
        assert read_until(sock, b"\r\n") == b"220 mail.corp.example ESMTP Postfix (Debian/GNU)\r\n"
        sock.sendall(b"EHLO probe.example\r\n")
        ehlo = read_until(sock, b"\r\n250 ").decode()
        ehlo += read_until(sock, b"\r\n").decode() if not ehlo.endswith("\r\n") else ""
        assert ehlo.startswith("250-mail.corp.example\r\n") and "250-STARTTLS\r\n" in ehlo
        sock.sendall(b"QUIT\r\n")
        assert read_until(sock, b"\r\n").startswith(b"221")


# ------------------------------------------------------------------ faults


def test_blackhole_accepts_and_never_answers(lab: Lab) -> None:
    hole = first(lab, "fault-blackhole")
    for service in hole.tcp_ports():
        with socket.create_connection((hole.ip, service), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            sock.settimeout(SHORT)
            with pytest.raises(TimeoutError):
                sock.recv(1)
    assert udp_exchange(hole, v2c_get_request(SYS_DESCR), timeout=SHORT) is None


def test_reset_cuts_the_banner_short(lab: Lab) -> None:
    reset = first(lab, "fault-reset")
    outcomes = []
    for service in reset.services:
        try:
            with connect(reset, service) as sock:
                if service in ("http", "rtsp"):
                    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data, error = read_all(sock)
        except ConnectionResetError as exc:  # on loopback the RST can beat connect() to its result
            data, error = b"", exc
        assert PARTIAL_BANNERS[service].startswith(data), (service, data)
        assert b"\n" not in data
        outcomes.append(error)
    # A reset, not a polite close.
    assert any(isinstance(e, ConnectionResetError) for e in outcomes)


def test_garbage_sends_megabytes_without_a_newline(lab: Lab) -> None:
    spew = first(lab, "fault-garbage")
    for service in spew.tcp_ports():
        with socket.create_connection((spew.ip, service), timeout=5) as sock:
            data, _ = read_all(sock, limit=2 << 20)
        assert len(data) > 1 << 20
        assert b"\n" not in data[: 1 << 20]
    reply = udp_exchange(spew, v2c_get_request(SYS_DESCR))
    assert reply is not None and len(reply) > 50000


def test_malformed_http_rtsp_ssh(lab: Lab) -> None:
    bad = first(lab, "fault-malformed")
    with pytest.raises(httpx.HTTPError):
        httpx.get(http_url(bad, "http"), timeout=5)
    with connect(bad, "http") as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data, _ = read_all(sock)
    assert data.startswith(b"HTTP/1.1 2OO OK\r\n") and len(data) > 100_000
    with connect(bad, "rtsp") as sock:
        sock.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        data, _ = read_all(sock)
    assert data.startswith(b"RTSP/1.0 2OO") and b"\r\n\r\n" not in data
    with connect(bad, "ssh") as sock:
        data, _ = read_all(sock)
    line = data.split(b"\r\n")[0]
    assert line.startswith(b"SSH-2.0-") and len(line) > 255 and b"\x00" in line


def test_malformed_snmp_replies_do_not_decode(lab: Lab) -> None:
    bad = first(lab, "fault-malformed")
    module = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    for turn in range(3):
        reply = udp_exchange(bad, v2c_get_request(SYS_DESCR, request_id=100 + turn))
        assert reply is not None
        with pytest.raises(Exception):  # noqa: B017 - any decoder error will do; what matters is that it fails
            message, rest = ber_decoder.decode(reply, asn1Spec=module.Message())
            assert not rest
    # A real client gives up cleanly.
    assert "error" in snmp_get(bad, CommunityData("public"), [SYS_DESCR], timeout=SHORT)


# ------------------------------------------------------------------ scope file


def test_scope_file_covers_the_lab(lab: Lab, tmp_path: Path) -> None:
    path = lab.write_scope(tmp_path / "scope.toml")
    scope = tomllib.loads(path.read_text())
    allowed = [ipaddress.ip_network(n) for n in scope["scope"]["allow"]]
    assert all(n.subnet_of(ipaddress.ip_network("127.0.0.0/8")) for n in allowed)  # type: ignore[arg-type]
    assert all(any(ipaddress.ip_address(d.ip) in n for n in allowed) for d in lab.devices)
    assert set(scope["scope"]["ports"]) == {p for d in lab.devices for p in d.tcp_ports()}
    assert scope["scope"]["udp_ports"] == [161, 3702, 37020, 37810]  # SNMP and the vendor discovery protocols
    assert scope["scope"]["exclude"] == []
    assert {"rate", "per_host", "timeout", "retries"} <= set(scope["scope"])
    assert scope["snmp"]["communities"] == ["public"]
    (v3,) = scope["snmp"]["v3"]
    assert v3 == {
        "user": "vsuser",
        "auth_protocol": "SHA",
        "auth_key": lab.credentials.auth_key,
        "priv_protocol": "AES",
        "priv_key": lab.credentials.priv_key,
    }


# ------------------------------------------------------------------ errors and options


def test_lab_only_takes_loopback_and_room_it_has() -> None:
    with pytest.raises(LabError, match="outside 127.0.0.0/8"):
        Lab(base="10.0.0.0/24")
    with pytest.raises(LabError, match="outside 127.0.0.0/8"):
        Lab(base="::1/128")
    with pytest.raises(LabError, match="room for 6 devices"):
        Lab(count=7, base="127.77.9.0/29")
    with pytest.raises(LabError, match="ports"):
        Lab(ports="some")


def test_a_taken_address_is_named() -> None:
    base = random_base(1)
    planned = Lab(count=1, base=base)
    device = planned.devices[0]
    with socket.socket() as squatter:
        squatter.bind((device.ip, device.services["telnet"]))
        squatter.listen()
        with pytest.raises(LabError, match=rf"{re.escape(device.ip)}:{device.services['telnet']}/tcp .*already in use"):
            planned.start()
    assert not planned.running
    # Everything it had bound was released: the same lab starts now.
    with planned, connect(device, "ssh") as sock:
        assert read_until(sock, b"\r\n").startswith(b"SSH-2.0-HUAWEI")


def test_high_ports_when_asked() -> None:
    with Lab(count=2, base=random_base(2), ports="high", faults=False) as small:
        device = small.devices[0]
        assert device.services["ssh"] == 10022 and device.services["snmp"] == 10161
        with connect(device, "ssh") as sock:
            assert read_until(sock, b"\r\n") == b"SSH-2.0-HUAWEI-1.5\r\n"
        assert 10161 in small.udp_ports() and "[10022, 10023" in small.scope_text()


def test_lab_scales_by_replicating_profiles() -> None:
    big = Lab(count=250, base="127.77.3.0/24")  # planned only: starting 250 devices is the benchmark's job
    assert len(big.devices) == 250 and len({d.ip for d in big.devices}) == 250
    assert sum(d.profile == "huawei-ne40e" for d in big.devices) == -(-250 // len(PROFILES))
    assert str(big.scope_network()) == "127.77.3.0/24"


# ------------------------------------------------------------------ pure pieces


def test_profiles_reject_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "devices.toml"
    bad.write_text('[[device]]\nname = "x"\nrole = "spaceship"\n[device.ssh]\n')
    with pytest.raises(ProfileError, match="unknown role"):
        load_profiles(bad)
    bad.write_text('[[device]]\nname = "x"\n[device.ssh]\nbanner = "oops"\n')
    with pytest.raises(ProfileError, match=r"\[ssh\]"):
        load_profiles(bad)
    bad.write_text('[[device]]\nname = "x"\n[device.http]\ntitle = 42\n')
    with pytest.raises(ProfileError, match="title must be str"):
        load_profiles(bad)
    bad.write_text('[[device]]\nname = "x"\n[device.snmp]\ndata = "missing.snmprec"\n')
    with pytest.raises(ProfileError, match="does not exist"):
        load_profiles(bad)


def test_answer_key_agrees_with_the_vendor_registry() -> None:
    registry = default_registry()
    for profile in PROFILES.values():
        if profile.vendor is not None:
            assert registry.group_of(profile.vendor) == profile.group, profile.name
        if profile.label is not None:
            assert profile.label in registry, profile.name


def test_every_recorded_snmp_file_parses() -> None:
    for profile in PROFILES.values():
        if profile.snmp is not None and profile.snmp.data is not None:
            from vendorscope.lab.profiles import data_path

            records = parse_snmprec(data_path("data", "snmp", profile.snmp.data).read_text())
            assert (1, 3, 6, 1, 2, 1, 1, 1, 0) in records and (1, 3, 6, 1, 2, 1, 1, 2, 0) in records


def test_mib_view_get_and_next() -> None:
    view = MibView(parse_snmprec("1.3.6.1.2.1.1.1.0|4|descr\n1.3.6.1.2.1.1.5.0|4|name\n1.3.6.1.2.1.2.1.0|2|3\n"))
    assert str(view.get((1, 3, 6, 1, 2, 1, 1, 1, 0))) == "descr"
    assert view.next((1, 3, 6, 1, 2, 1, 1, 1, 0))[0] == (1, 3, 6, 1, 2, 1, 1, 5, 0)
    assert view.next((1, 3, 6, 1, 2, 1, 1))[0] == (1, 3, 6, 1, 2, 1, 1, 1, 0)
    assert view.next((1, 3, 6, 1, 2, 1, 2, 1, 0))[1] is rfc1905.endOfMibView
    assert view.get((1, 3, 6, 1, 2, 1, 1, 1, 1)) is rfc1905.noSuchInstance
    assert view.get((1, 3, 6, 1, 4, 1, 9, 0)) is rfc1905.noSuchObject


def test_telnet_command_stripping() -> None:
    assert strip_telnet_commands(b"\xff\xfd\x03ad\xff\xfa\x18\x01\xff\xf0min\xff\xff\r\n") == b"admin\xff\r\n"


def test_addresses_and_macs() -> None:
    network = ipaddress.IPv4Network("127.77.0.0/16")
    assert str(covering_network(["127.77.0.1", "127.77.0.27"], network)) == "127.77.0.0/27"
    assert str(covering_network(["127.77.0.1", "127.77.1.3"], network)) == "127.77.0.0/23"
    assert device_mac("00:e0:fc", 0) == "00:e0:fc:00:00:00"
    assert device_mac("00:e0:fc", 17) == "00:e0:fc:00:01:10"
    assert device_mac(None, 3) is None


# ------------------------------------------------------------------ CLI


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The installed command in a process of its own, as a user runs it."""
    exe = Path(sys.executable).with_name("vendorscope")
    command = [str(exe), *args] if exe.exists() else [sys.executable, "-m", "vendorscope.cli", *args]
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


runner = CliRunner()


def test_cli_lab_up_status_down(tmp_path: Path) -> None:
    state_dir = tmp_path / "lab"
    for _ in range(5):
        base = random_base(24)
        up = _cli("lab", "up", "--count", "24", "--base", base, "--state-dir", str(state_dir))
        if "already in use" not in up.stderr:
            break
    assert up.returncode == 0, up.stderr
    assert "huawei-ne40e" in up.stdout and "fault: blackhole" in up.stdout
    state = json.loads((state_dir / "lab.json").read_text())
    assert len(state["devices"]) == 24 and state["base"] == base
    scope = tomllib.loads((state_dir / "scope.toml").read_text())
    assert scope["scope"]["allow"] and 22 in scope["scope"]["ports"]
    device = LabDevice.from_dict(state["devices"][0])
    try:
        # The lab outlives the command that started it.
        with connect(device, "ssh") as sock:
            assert read_until(sock, b"\r\n") == b"SSH-2.0-HUAWEI-1.5\r\n"
        again = runner.invoke(app, ["lab", "up", "--state-dir", str(state_dir)])
        assert again.exit_code != 0 and "already running" in again.output
        status = runner.invoke(app, ["lab", "status", "--state-dir", str(state_dir), "--format", "jsonl"])
        assert status.exit_code == 0, status.output
        assert [json.loads(line)["name"] for line in status.stdout.splitlines()] == [
            d["name"] for d in state["devices"]
        ]
    finally:
        down = _cli("lab", "down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert not (state_dir / "lab.json").exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((device.ip, device.services["ssh"]), timeout=5).close()
    assert not is_lab_process(state["pid"])  # gone, or a zombie waiting for a parent that never reaps
    gone = runner.invoke(app, ["lab", "status", "--state-dir", str(state_dir)])
    assert gone.exit_code == 1 and "no lab running" in gone.output


def test_cli_lab_up_and_down_in_one_process(tmp_path: Path) -> None:
    for _ in range(5):
        base = random_base(3)
        up = runner.invoke(app, ["lab", "up", "-n", "3", "--base", base, "--state-dir", str(tmp_path), "-f", "csv"])
        if "already in use" not in up.output:
            break
    assert up.exit_code == 0, up.output
    assert up.stdout.splitlines()[0] == ",".join(DEVICE_COLUMNS)
    pid = json.loads((tmp_path / "lab.json").read_text())["pid"]
    assert is_lab_process(pid)
    down = runner.invoke(app, ["lab", "down", "--state-dir", str(tmp_path)])
    assert down.exit_code == 0, down.output
    assert not is_lab_process(pid)
    with pytest.raises(ProcessLookupError):  # this process started it, so it reaped it
        os.kill(pid, 0)


def test_cli_lab_up_refuses_non_loopback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["lab", "up", "--base", "192.168.1.0/24", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2 and "outside 127.0.0.0/8" in result.output
    assert not (tmp_path / "lab.json").exists()


def test_cli_lab_up_reports_why_the_lab_did_not_start(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["lab", "up", "--count", "300", "--base", "127.77.9.0/24", "--state-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "room for 254 devices, not 300" in result.output
