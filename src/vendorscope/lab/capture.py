"""Synthetic packet captures of a small network with equipment from several vendors.

``python -m vendorscope.lab.capture OUT [--size BYTES] [--format pcap|pcapng] [--link ...]``
writes the capture: the discovery traffic of each device (LLDP, CDP, ARP,
DHCP, mDNS, SSDP, NBNS, SNMP, banners, a TLS certificate), then ordinary
TCP/UDP traffic until the file reaches ``--size``. The bundled
``data/demo.pcapng`` is this capture at the default size.

Device frames are built once with scapy (an encoder independent of our
decoders); the background is written by patching pre-built frames (ports,
sequence numbers, timestamps) so gigabytes take seconds, not hours. The
addresses in the capture are never sent anywhere: this module only writes files.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

T0 = datetime(2024, 5, 6, 9, 30, tzinfo=UTC).timestamp()
DEFAULT_SIZE = 600_000
DEMO_PATH = Path(__file__).parent / "data" / "demo.pcapng"

LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 = 1, 101, 113, 276
LINKS = {"ethernet": LINKTYPE_ETHERNET, "sll": LINKTYPE_LINUX_SLL, "sll2": LINKTYPE_LINUX_SLL2, "raw": LINKTYPE_RAW}

ROUTER_MAC = "e0:06:30:1a:2b:01"  # Huawei router: also the gateway for the internet traffic


@dataclass(frozen=True)
class Device:
    """One device of the lab network, and what the tests expect to learn about it."""

    name: str
    vendor: str
    mac: str
    ip: str
    vlan: int | None = None


DEVICES: tuple[Device, ...] = (
    Device("huawei-router", "huawei", ROUTER_MAC, "10.20.0.1"),
    Device("zte-olt", "zte", "f0:1b:24:3c:4d:02", "10.20.0.2"),
    Device("cisco-switch", "cisco", "e8:0a:b9:5e:6f:03", "10.20.0.10"),
    Device("juniper-switch", "juniper", "3c:08:cd:71:82:04", "10.20.0.11"),
    Device("mikrotik-router", "mikrotik", "08:55:31:93:a4:05", "10.20.0.12"),
    Device("hikvision-camera", "hikvision", "54:8c:81:b5:c6:06", "10.20.1.50", vlan=20),
    Device("dahua-nvr", "dahua", "74:c9:29:d7:e8:07", "10.20.1.60", vlan=20),
    Device("axis-camera", "axis", "00:40:8c:f9:0a:08", "10.20.1.80", vlan=20),
    Device("hytera-repeater", "hytera", "9c:06:6e:1b:2c:09", "10.20.2.70"),
    Device("huawei-firewall", "huawei", "d8:da:f1:3d:4e:0a", "10.20.0.90"),
    Device("windows-pc", "dell", "f8:bc:12:5f:60:0b", "10.20.3.21"),
    Device("sip-phone", "yealink", "80:5e:c0:71:82:0c", "10.20.3.40"),
)
BY_NAME = {d.name: d for d in DEVICES}
INTERNET_SERVER = "93.184.216.34"  # example.net's documentation address; inside the file only
MANAGER = BY_NAME["windows-pc"]

HUAWEI_SYSDESCR = (
    "Huawei Versatile Routing Platform Software\r\nVRP (R) software, Version 8.180 (NE40E V800R011C00SPC200)"
    "\r\nCopyright (C) 2012-2018 Huawei Technologies Co., Ltd.\r\nHUAWEI NE40E-X8A"
)
ZTE_SYSDESCR = "ZXA10 C300, ZTE ZXA10 Software Version: V2.1.0"
HYTERA_SYSDESCR = "Hytera RD985 DMR Repeater"
CISCO_VERSION = (
    "Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E4, RELEASE SOFTWARE (fc2)\n"
    "Technical Support: http://www.cisco.com/techsupport\nCopyright (c) 1986-2021 by Cisco Systems, Inc."
)
JUNIPER_SYSDESCR = "Juniper Networks, Inc. ex4300-48t Ethernet Switch, kernel JUNOS 21.4R3.15, Build date: 2023-03-02"
MIKROTIK_SYSDESCR = "MikroTik RouterOS 7.11.2 (stable) RB4011iGS+"


def _scapy() -> Any:
    try:
        import scapy.all as scapy
        import scapy.contrib.cdp as cdp
        import scapy.contrib.lldp as lldp
    except ImportError:  # pragma: no cover - scapy is a dev dependency
        sys.exit("error: generating captures needs scapy (pip install 'vendorscope[dev]')")
    scapy.conf.verb = 0
    return scapy, lldp, cdp


# -- device traffic --------------------------------------------------------


class _Frames:
    """Collects (timestamp, frame bytes) with a clock that moves a little per frame."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, bytes]] = []
        self.clock = T0

    def add(self, pkt: Any, gap: float = 0.0007) -> None:
        self.clock += gap
        self.frames.append((self.clock, bytes(pkt)))


def _eth(s: Any, dev: Device, dst: str) -> Any:
    frame = s.Ether(src=dev.mac, dst=dst)
    return frame / s.Dot1Q(vlan=dev.vlan) if dev.vlan else frame


def _tcp_session(out: _Frames, s: Any, client: Device | tuple[str, str], server: Device | tuple[str, str],
                 sport: int, dport: int, server_says: list[bytes], client_says: list[bytes] | None = None,
                 via_router: bool = False) -> None:
    """A connection: handshake, the client's request, the server's answer in segments, FIN."""
    cmac, cip = (client.mac, client.ip) if isinstance(client, Device) else client
    smac, sip = (server.mac, server.ip) if isinstance(server, Device) else server
    # Traffic to or from the internet crosses the router: its MAC is the link-layer peer.
    c_l2 = (cmac, ROUTER_MAC if via_router else smac)
    s_l2 = (ROUTER_MAC if via_router else smac, cmac)
    cseq, sseq = 1000, 50000

    def c(flags: str, payload: bytes = b"") -> None:
        nonlocal cseq
        out.add(s.Ether(src=c_l2[0], dst=c_l2[1]) / s.IP(src=cip, dst=sip)
                / s.TCP(sport=sport, dport=dport, flags=flags, seq=cseq, ack=sseq) / payload)
        cseq += len(payload) + (1 if "S" in flags or "F" in flags else 0)

    def sv(flags: str, payload: bytes = b"") -> None:
        nonlocal sseq
        out.add(s.Ether(src=s_l2[0], dst=s_l2[1]) / s.IP(src=sip, dst=cip)
                / s.TCP(sport=dport, dport=sport, flags=flags, seq=sseq, ack=cseq) / payload)
        sseq += len(payload) + (1 if "S" in flags or "F" in flags else 0)

    c("S")
    sv("SA")
    c("A")
    for chunk in client_says or []:
        c("PA", chunk)
    for chunk in server_says:
        sv("PA", chunk)
        c("A")
    c("FA")
    sv("FA")
    c("A")


def _segments(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def huawei_certificate() -> bytes:
    """A self-signed certificate as a Huawei firewall's web interface presents it (DER)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # fixed: the file is reproducible
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Huawei"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Enterprise Network"),
        x509.NameAttribute(NameOID.COMMON_NAME, "USG6000E"),
    ])
    start = datetime(2023, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x5A17C0FFEE)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("usg6000e.local")]), critical=False)
        .sign(key, None)
    )
    return cert.public_bytes(Encoding.DER)


def tls12_server_flight(cert_der: bytes) -> bytes:
    """ServerHello + Certificate + ServerHelloDone as TLS 1.2 records."""
    hello_body = b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\xc0\x2f" + b"\x00"
    hello = b"\x02" + len(hello_body).to_bytes(3, "big") + hello_body
    chain = len(cert_der).to_bytes(3, "big") + cert_der
    cert_body = len(chain).to_bytes(3, "big") + chain
    certificate = b"\x0b" + len(cert_body).to_bytes(3, "big") + cert_body
    done = b"\x0e\x00\x00\x00"
    records = b""
    for message in (hello, certificate, done):
        records += b"\x16\x03\x03" + len(message).to_bytes(2, "big") + message
    return records


def _snmp_response(s: Any, varbinds: list[tuple[str, str]]) -> Any:
    from scapy.asn1.asn1 import ASN1_OID, ASN1_STRING

    binds = [s.SNMPvarbind(oid=ASN1_OID(oid),
                           value=ASN1_OID(value) if value.startswith("1.3.6.") else ASN1_STRING(value.encode()))
             for oid, value in varbinds]
    return s.SNMP(community="public", PDU=s.SNMPresponse(id=7, varbindlist=binds))


def _snmp_exchange(out: _Frames, s: Any, agent: Device, sysdescr: str, sysobjectid: str, sysname: str) -> None:
    from scapy.asn1.asn1 import ASN1_NULL, ASN1_OID

    oids = ("1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0")
    get = s.SNMP(community="public", PDU=s.SNMPget(id=7, varbindlist=[
        s.SNMPvarbind(oid=ASN1_OID(o), value=ASN1_NULL(0)) for o in oids]))  # type: ignore[arg-type]
    out.add(s.Ether(src=MANAGER.mac, dst=ROUTER_MAC) / s.IP(src=MANAGER.ip, dst=agent.ip)
            / s.UDP(sport=50161, dport=161) / get)
    resp = _snmp_response(s, [(oids[0], sysdescr), (oids[1], sysobjectid), (oids[2], sysname)])
    src_mac = agent.mac if agent.ip.startswith("10.20.3.") else ROUTER_MAC  # other subnets are routed
    out.add(s.Ether(src=src_mac, dst=MANAGER.mac) / s.IP(src=agent.ip, dst=MANAGER.ip)
            / s.UDP(sport=161, dport=50161) / resp)


def discovery_request(port: int) -> bytes:
    """The question a vendor discovery client sends on ``port`` (SADP, DHIP or WS-Discovery)."""
    from vendorscope.evidence import dhip, sadp, wsdiscovery

    requests = {**{p: sadp.inquiry("4A3B2C1D-0000-4000-8000-000000000001") for p in sadp.PORTS},
                **{p: dhip.search() for p in dhip.PORTS},
                **{p: wsdiscovery.probe("4a3b2c1d-0000-4000-8000-000000000002") for p in wsdiscovery.PORTS}}
    return requests[port]


def discovery_exchange(client: tuple[str, str], server: tuple[str, str], port: int, reply: bytes,
                       start: float = T0) -> list[tuple[float, bytes]]:
    """Frames of one unicast discovery question from ``client`` (MAC, IP) and ``server``'s ``reply``
    (the reply is what a SADP, DHIP or WS-Discovery device sends back from ``port``)."""
    s, _lldp, _cdp = _scapy()
    out = _Frames()
    out.clock = start
    out.add(s.Ether(src=client[0], dst=server[0]) / s.IP(src=client[1], dst=server[1])
            / s.UDP(sport=49152, dport=port) / discovery_request(port))
    out.add(s.Ether(src=server[0], dst=client[0]) / s.IP(src=server[1], dst=client[1])
            / s.UDP(sport=port, dport=49152) / reply)
    return out.frames


def device_frames() -> list[tuple[float, bytes]]:
    """The discovery traffic of every device in :data:`DEVICES`, in time order."""
    s, lldp, cdp = _scapy()
    from scapy.asn1.asn1 import ASN1_OID

    out = _Frames()
    d = BY_NAME
    lldp_dst, bcast = "01:80:c2:00:00:0e", "ff:ff:ff:ff:ff:ff"

    def lldp_frame(dev: Device, sysname: str, sysdescr: str, port: bytes, router: bool) -> Any:
        mac = bytes.fromhex(dev.mac.replace(":", ""))
        return (s.Ether(src=dev.mac, dst=lldp_dst)
                / lldp.LLDPDUChassisID(subtype=4, id=mac)
                / lldp.LLDPDUPortID(subtype=5, id=port)
                / lldp.LLDPDUTimeToLive(ttl=120)
                / lldp.LLDPDUSystemName(system_name=sysname.encode())
                / lldp.LLDPDUSystemDescription(description=sysdescr.encode())
                / lldp.LLDPDUSystemCapabilities(mac_bridge_available=1, mac_bridge_enabled=1,
                                                router_available=int(router), router_enabled=int(router))
                / lldp.LLDPDUManagementAddress(management_address_subtype=1,
                                               management_address=bytes(int(x) for x in dev.ip.split(".")),
                                               interface_numbering_subtype=2, interface_number=1)
                / lldp.LLDPDUEndOfLLDPDU())

    # ARP: every device on the captured segments announces itself (gratuitous ARP).
    for dev in DEVICES:
        out.add(_eth(s, dev, bcast) / s.ARP(op=1, hwsrc=dev.mac, psrc=dev.ip, pdst=dev.ip))
    # LLDP from the routers and switches.
    out.add(lldp_frame(d["huawei-router"], "HW-CORE-01", HUAWEI_SYSDESCR, b"GigabitEthernet0/0/1", True))
    out.add(lldp_frame(d["juniper-switch"], "EX4300-DIST", JUNIPER_SYSDESCR, b"ge-0/0/12", False))
    out.add(lldp_frame(d["mikrotik-router"], "MT-EDGE", MIKROTIK_SYSDESCR, b"ether1", True))
    # CDP from the Cisco switch.
    cisco = d["cisco-switch"]
    out.add(s.Dot3(src=cisco.mac, dst="01:00:0c:cc:cc:cc") / s.LLC() / s.SNAP() / cdp.CDPv2_HDR(msg=[
        cdp.CDPMsgDeviceID(val=b"SW-ACCESS-01.example.net"),
        cdp.CDPMsgSoftwareVersion(val=CISCO_VERSION.encode()),
        cdp.CDPMsgPlatform(val=b"cisco WS-C2960X-48FPD-L"),
        cdp.CDPMsgAddr(addr=[cdp.CDPAddrRecordIPv4(addr=cisco.ip)]),
        cdp.CDPMsgPortID(iface=b"GigabitEthernet1/0/24"),
    ]))
    # DHCP: the Hikvision camera and the Dahua NVR ask for leases; the router answers.
    for dev, hostname, vendor_class in ((d["hikvision-camera"], "DS-2CD2043G2-I", "udhcp 1.30.1"),
                                        (d["dahua-nvr"], "NVR5216-4KS2", "dhcpcd-6.8.2:Linux-3.10.0:armv7l:DH")):
        mac = bytes.fromhex(dev.mac.replace(":", ""))
        opts = [("message-type", "request"), ("requested_addr", dev.ip), ("hostname", hostname.encode()),
                ("vendor_class_id", vendor_class.encode()), ("param_req_list", [1, 3, 6, 12, 15, 28, 42]),
                ("client_id", b"\x01" + mac), "end"]
        out.add(_eth(s, dev, bcast) / s.IP(src="0.0.0.0", dst="255.255.255.255") / s.UDP(sport=68, dport=67)
                / s.BOOTP(op=1, chaddr=mac + b"\x00" * 10, xid=0x1234) / s.DHCP(options=opts))
        out.add(s.Ether(src=ROUTER_MAC, dst=dev.mac) / s.IP(src="10.20.1.1", dst=dev.ip)
                / s.UDP(sport=67, dport=68)
                / s.BOOTP(op=2, chaddr=mac + b"\x00" * 10, xid=0x1234, yiaddr=dev.ip)
                / s.DHCP(options=[("message-type", "ack"), ("server_id", "10.20.1.1"), "end"]))
    # Banners: SSH on the Huawei router and the MikroTik, telnet on the ZTE OLT.
    pc = MANAGER
    _tcp_session(out, s, pc, d["huawei-router"], 50022, 22, [b"SSH-2.0-HUAWEI-1.5\r\n"],
                 [b"SSH-2.0-OpenSSH_9.6\r\n"])
    _tcp_session(out, s, pc, d["mikrotik-router"], 50023, 22, [b"SSH-2.0-ROSSSH\r\n"])
    _tcp_session(out, s, pc, d["zte-olt"], 50024, 23, [
        b"\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18",
        b"\r\n******************************************\r\n  Welcome to ZXA10 C300 of ZTE Corporation\r\n"
        b"******************************************\r\n\r\nUsername:"])
    # HTTP and RTSP from the cameras, the headers split over two segments.
    hik = d["hikvision-camera"]
    http_401 = (b"HTTP/1.1 401 Unauthorized\r\nDate: Mon, 06 May 2024 09:30:12 GMT\r\nServer: App-webs/\r\n"
                b"Content-Length: 178\r\nContent-Type: text/html\r\nConnection: close\r\n"
                b'WWW-Authenticate: Digest qop="auth", realm="IP Camera(C6235)", nonce="4e5468694e7a", '
                b'stale="FALSE"\r\n\r\n'
                b"<!DOCTYPE html>\n<html><head><title>Document Error: Unauthorized</title></head>"
                b"<body><h2>Access Error: 401 -- Unauthorized</h2></body></html>")
    _tcp_session(out, s, pc, hik, 50080, 80, _segments(http_401, 120),
                 [b"GET /ISAPI/System/deviceInfo HTTP/1.1\r\nHost: 10.20.1.50\r\nUser-Agent: curl/8.5.0\r\n\r\n"])
    _tcp_session(out, s, pc, hik, 50554, 554,
                 [b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest realm=\"IP Camera(C6235)\", "
                  b"nonce=\"8f2c\"\r\nDate: Mon, May 06 2024 09:30:13 GMT\r\n\r\n"],
                 [b"OPTIONS rtsp://10.20.1.50:554/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 1\r\n"
                  b"User-Agent: LibVLC/3.0.20 (LIVE555 Streaming Media v2016.11.28)\r\n\r\n"])
    dahua = d["dahua-nvr"]
    _tcp_session(out, s, pc, dahua, 50081, 80,
                 [b"HTTP/1.1 401 Unauthorized\r\nCONTENT-LENGTH: 0\r\n"
                  b'WWW-Authenticate: Digest realm="Login to 4L03B75PAZ2D3F7", qop="auth", nonce="1925461727", '
                  b'opaque="2f1b6a5bd4e5e1b9"\r\n\r\n'])
    _tcp_session(out, s, pc, dahua, 50555, 554,
                 [b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Rtsp Server/3.0\r\n"
                  b"Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"])
    # TLS 1.2 to the Huawei firewall: the certificate flight spans several segments.
    _tcp_session(out, s, pc, d["huawei-firewall"], 50443, 443,
                 _segments(tls12_server_flight(huawei_certificate()), 200),
                 [b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"])
    # SNMP: sysDescr, sysObjectID and sysName from the agents (other subnets through the router).
    _snmp_exchange(out, s, d["huawei-router"], HUAWEI_SYSDESCR, "1.3.6.1.4.1.2011.2.224.279", "HW-CORE-01")
    _snmp_exchange(out, s, d["zte-olt"], ZTE_SYSDESCR, "1.3.6.1.4.1.3902.1082.1001.300.2.1", "OLT-C300-A")
    _snmp_exchange(out, s, d["hytera-repeater"], HYTERA_SYSDESCR, "1.3.6.1.4.1.40297.1.2.1.1", "RPT-NORTH")
    hytera = d["hytera-repeater"]
    out.add(s.Ether(src=ROUTER_MAC, dst=pc.mac) / s.IP(src=hytera.ip, dst=pc.ip) / s.UDP(sport=40162, dport=162)
            / s.SNMP(community="public", PDU=s.SNMPtrapv1(
                enterprise=ASN1_OID("1.3.6.1.4.1.40297.1.2"), agent_addr=hytera.ip, generic_trap=0,
                specific_trap=0, time_stamp=100, varbindlist=[])))
    # mDNS and SSDP from the Axis camera.
    axis = d["axis-camera"]
    instance = "AXIS M3045-V - 00408CF90A08._axis-video._tcp.local"
    host = "axis-00408cf90a08.local"
    out.add(_eth(s, axis, "01:00:5e:00:00:fb") / s.IP(src=axis.ip, dst="224.0.0.251", ttl=255)
            / s.UDP(sport=5353, dport=5353)
            / s.DNS(id=0, qr=1, aa=1, qd=[], an=[
                s.DNSRR(rrname="_axis-video._tcp.local", type="PTR", rdata=instance, ttl=4500),
                s.DNSRR(rrname=instance, type="TXT", rdata=[b"macaddress=00408CF90A08", b"model=M3045-V"], ttl=4500),
                s.DNSRR(rrname=host, type="A", rdata=axis.ip, ttl=120)]))
    out.add(_eth(s, axis, "01:00:5e:7f:ff:fa") / s.IP(src=axis.ip, dst="239.255.255.250", ttl=4)
            / s.UDP(sport=1900, dport=1900)
            / (b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
               b"LOCATION: http://10.20.1.80:49152/rootdesc1.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n"
               b"SERVER: Linux/4.9.206-axis8, UPnP/1.0, Portable SDK for UPnP devices/1.8.4\r\n"
               b"USN: uuid:Upnp-BasicDevice-1_0-00408CF90A08::upnp:rootdevice\r\n\r\n"))
    # The Windows PC: NetBIOS name registration, LLMNR answer, DHCPv6 and neighbour discovery.
    out.add(s.Ether(src=pc.mac, dst=bcast) / s.IP(src=pc.ip, dst="10.20.3.255") / s.UDP(sport=137, dport=137)
            / s.NBNSHeader(OPCODE=5, NM_FLAGS=0x11, QDCOUNT=1, ARCOUNT=1)
            / s.NBNSRegistrationRequest(QUESTION_NAME="FINANCE-PC07", SUFFIX="Workstation Service",
                                        NB_ADDRESS=pc.ip))
    pc6 = "fe80::fabc:12ff:fe5f:600b"
    out.add(s.Ether(src=pc.mac, dst="33:33:00:00:00:01") / s.IPv6(src=pc6, dst="ff02::1")
            / s.ICMPv6ND_NA(tgt=pc6, R=0, S=0, O=1) / s.ICMPv6NDOptDstLLAddr(lladdr=pc.mac))
    out.add(s.Ether(src=pc.mac, dst="33:33:00:01:00:02") / s.IPv6(src=pc6, dst="ff02::1:2")
            / s.UDP(sport=546, dport=547)
            / s.DHCP6_Solicit(trid=0x42) / s.DHCP6OptClientId(duid=s.DUID_LL(lladdr=pc.mac))
            / s.DHCP6OptClientFQDN(fqdn=b"\x0cFINANCE-PC07\x04corp\x07example\x00")
            / s.DHCP6OptVendorClass(enterprisenum=311, vcdata=[s.VENDOR_CLASS_DATA(data=b"MSFT 5.0")]))
    # The SIP phone registers.
    phone = d["sip-phone"]
    out.add(s.Ether(src=phone.mac, dst=ROUTER_MAC) / s.IP(src=phone.ip, dst="10.20.0.5") / s.UDP(sport=5060, dport=5060)
            / (b"REGISTER sip:10.20.0.5 SIP/2.0\r\nVia: SIP/2.0/UDP 10.20.3.40:5060;branch=z9hG4bK1\r\n"
               b"From: <sip:1001@10.20.0.5>;tag=1\r\nTo: <sip:1001@10.20.0.5>\r\nCall-ID: 1@10.20.3.40\r\n"
               b"CSeq: 1 REGISTER\r\nUser-Agent: Yealink SIP-T46S 66.86.0.15\r\nContent-Length: 0\r\n\r\n"))
    # An internet web server answers the PC through the router: its banner must not become the router's.
    _tcp_session(out, s, pc, (ROUTER_MAC, INTERNET_SERVER), 50100, 80,
                 [b"HTTP/1.1 200 OK\r\nServer: ECAcc (nyd/D13E)\r\nContent-Length: 0\r\n\r\n"],
                 [b"GET / HTTP/1.1\r\nHost: example.net\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0)\r\n\r\n"],
                 via_router=True)
    return out.frames


# -- background traffic ------------------------------------------------------


def _background_templates() -> list[tuple[bytearray, int]]:
    """Pre-built frames of ordinary traffic: (frame, offset of the TCP/UDP ports or -1)."""
    s, _lldp, _cdp = _scapy()
    pc = MANAGER
    data = bytes([0x17, 0x03, 0x03]) + bytes(range(256)) * 6  # TLS application data: nothing to read
    templates = [
        # a large download from the internet (most of the bytes)
        (s.Ether(src=ROUTER_MAC, dst=pc.mac) / s.IP(src=INTERNET_SERVER, dst=pc.ip)
         / s.TCP(sport=443, dport=51000, flags="A", seq=1) / data[:1448]),
        (s.Ether(src=ROUTER_MAC, dst=pc.mac) / s.IP(src=INTERNET_SERVER, dst=pc.ip)
         / s.TCP(sport=443, dport=51000, flags="A", seq=1) / data[:1448]),
        (s.Ether(src=ROUTER_MAC, dst=pc.mac) / s.IP(src=INTERNET_SERVER, dst=pc.ip)
         / s.TCP(sport=443, dport=51000, flags="PA", seq=1) / data[:900]),
        # the PC's acknowledgements
        (s.Ether(src=pc.mac, dst=ROUTER_MAC) / s.IP(src=pc.ip, dst=INTERNET_SERVER)
         / s.TCP(sport=51000, dport=443, flags="A", seq=1)),
        # camera video to the NVR (RTP over UDP)
        (s.Ether(src=BY_NAME["hikvision-camera"].mac, dst=BY_NAME["dahua-nvr"].mac)
         / s.IP(src="10.20.1.50", dst="10.20.1.60") / s.UDP(sport=8000, dport=8200) / (b"\x80\x60" + data[:1200])),
        # DNS
        (s.Ether(src=pc.mac, dst=ROUTER_MAC) / s.IP(src=pc.ip, dst="10.20.0.1") / s.UDP(sport=53000, dport=53)
         / s.DNS(rd=1, qd=s.DNSQR(qname="www.example.net"))),
    ]
    out = []
    for pkt in templates:
        raw = bytearray(bytes(pkt))
        out.append((raw, 34 if raw[23] in (6, 17) else -1))
    return out


def background_frames(size: int, start: float, discovery: list[tuple[float, bytes]]) -> Iterator[tuple[float, bytes]]:
    """Ordinary traffic of about ``size`` bytes, with ~3% of frames repeating discovery packets."""
    templates = _background_templates()
    repeat = [f for _, f in discovery if len(f) < 600]
    written, ts, i = 0, start, 0
    port = 51000
    n_templates = len(templates)
    while written < size:
        i += 1
        ts += 0.00002
        if i % 32 == 0 and repeat:
            frame = repeat[(i // 32) % len(repeat)]
        else:
            raw, ports = templates[i % n_templates]
            if i % 64 == 1:
                port = 1024 + (port + 1) % 60000  # a new connection now and then
            if ports >= 0 and raw[23] == 6:
                server_side = raw[ports : ports + 2] == b"\x01\xbb"  # sent from port 443
                struct.pack_into("!HHI", raw, ports, *((443, port) if server_side else (port, 443)), i)
            frame = bytes(raw)
        written += len(frame) + 32
        yield ts, frame


# -- link types and file formats -------------------------------------------


def to_link(frame: bytes, link: str) -> bytes | None:
    """Re-frame an Ethernet frame for another link type (None if it cannot be carried)."""
    if link == "ethernet":
        return frame
    ethertype, off = struct.unpack_from("!H", frame, 12)[0], 14
    while ethertype in (0x8100, 0x88A8):
        ethertype, off = struct.unpack_from("!H", frame, off + 2)[0], off + 4
    payload = frame[off:]
    if ethertype <= 1500:
        ethertype = 0x0004  # 802.2 LLC, as Linux cooked captures say
    if link == "raw":
        return payload if ethertype in (0x0800, 0x86DD) else None
    src = frame[6:12]
    if link == "sll":
        return struct.pack("!HHH8sH", 0, 1, 6, src + b"\x00\x00", ethertype) + payload
    if link == "sll2":
        return struct.pack("!HHIHBB8s", ethertype, 0, 2, 1, 0, 6, src + b"\x00\x00") + payload
    raise ValueError(f"unknown link {link!r}")


def pcap_header(link_type: int, snaplen: int = 262_144) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, link_type)


def pcap_record(ts: float, frame: bytes, orig: int | None = None) -> bytes:
    sec = int(ts)
    return struct.pack("<IIII", sec, int((ts - sec) * 1_000_000), len(frame), orig or len(frame)) + frame


def pcapng_header(link_type: int, snaplen: int = 262_144) -> bytes:
    shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    shb = struct.pack("<II", 0x0A0D0D0A, 12 + len(shb_body)) + shb_body + struct.pack("<I", 12 + len(shb_body))
    idb_body = struct.pack("<HHI", link_type, 0, snaplen)
    idb = struct.pack("<II", 1, 12 + len(idb_body)) + idb_body + struct.pack("<I", 12 + len(idb_body))
    return shb + idb


def pcapng_record(ts: float, frame: bytes, orig: int | None = None) -> bytes:
    micro = int(round(ts * 1_000_000))
    pad = (-len(frame)) % 4
    blen = 32 + len(frame) + pad
    return (struct.pack("<IIIIIII", 6, blen, 0, micro >> 32, micro & 0xFFFFFFFF, len(frame), orig or len(frame))
            + frame + b"\x00" * pad + struct.pack("<I", blen))


def write_capture(out: IO[bytes], frames: Iterable[tuple[float, bytes]], fmt: str = "pcapng",
                  link: str = "ethernet") -> int:
    """Write frames; returns how many were written."""
    link_type = LINKS[link]
    out.write(pcapng_header(link_type) if fmt == "pcapng" else pcap_header(link_type))
    record = pcapng_record if fmt == "pcapng" else pcap_record
    batch: list[bytes] = []
    count = 0
    for ts, frame in frames:
        framed = to_link(frame, link)
        if framed is None:
            continue
        batch.append(record(ts, framed))
        count += 1
        if len(batch) >= 4096:
            out.write(b"".join(batch))
            batch.clear()
    out.write(b"".join(batch))
    return count


def generate(path: Path | str, size: int = DEFAULT_SIZE, fmt: str = "pcapng", link: str = "ethernet") -> int:
    """Write the lab capture to ``path`` (gzip if it ends in .gz); returns the frame count."""
    path = Path(path)
    devices = device_frames()
    frames = itertools.chain(devices, _interleave(devices, size))  # streamed: gigabytes never sit in memory
    out = cast(IO[bytes], gzip.open(path, "wb") if path.suffix == ".gz" else open(path, "wb"))  # noqa: SIM115
    with out:
        return write_capture(out, frames, fmt, link)


def _interleave(devices: list[tuple[float, bytes]], size: int) -> Iterator[tuple[float, bytes]]:
    remaining = size - sum(len(f) + 32 for _, f in devices) - 200
    if remaining > 0:
        yield from background_frames(remaining, devices[-1][0] if devices else T0, devices)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vendorscope.lab.capture", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="file to write (.pcapng, .pcap, add .gz to compress)")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="approximate size in bytes")
    parser.add_argument("--format", choices=("pcap", "pcapng"), help="default: from the file name")
    parser.add_argument("--link", choices=sorted(LINKS), default="ethernet")
    args = parser.parse_args(argv)
    fmt = args.format or ("pcap" if ".pcap" in args.out.name and ".pcapng" not in args.out.name else "pcapng")
    count = generate(args.out, args.size, fmt, args.link)
    print(f"{args.out}: {count:,} frames, {args.out.stat().st_size:,} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
