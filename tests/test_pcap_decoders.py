"""Protocol decoders of the passive stage, on real bytes built by scapy (an independent encoder)."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
import scapy.all as s
import scapy.contrib.cdp as cdp_layers
import scapy.contrib.lldp as lldp_layers
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.asn1.asn1 import ASN1_INTEGER, ASN1_OID, ASN1_STRING

from vendorscope.collect.pcap import SkipReport, read_observations
from vendorscope.collect.pcap import first_message as banners
from vendorscope.collect.pcap.errors import DecodeError
from vendorscope.collect.pcap.extract import Extractor
from vendorscope.collect.pcap.link import ETH_IPV4, ETH_IPV6, ETH_LLDP, LLC, link_layer
from vendorscope.collect.pcap.tcp import MAX_MESSAGES, Reassembler, Stream, reverse_key
from vendorscope.evidence import arp, cdp, dhcp, lldp, mdns, nbns, snmp, tls
from vendorscope.evidence import http as http_evidence
from vendorscope.evidence import upnp as ssdp
from vendorscope.evidence.record import Evidence as Fact
from vendorscope.lab.capture import huawei_certificate, tls12_server_flight, to_link

HW_MAC = "e0:06:30:1a:2b:01"


def kinds(facts: list[Fact]) -> dict[str, str]:
    return {f.kind: f.value for f in facts}


# -- link layers -------------------------------------------------------------


def test_ethernet_vlan_qinq_and_llc() -> None:
    plain = bytes(s.Ether(src=HW_MAC, dst="ff:ff:ff:ff:ff:ff") / s.IP() / s.UDP())
    assert link_layer(1, plain) == (ETH_IPV4, 14, bytes.fromhex("e006301a2b01"), ())
    qinq = bytes(s.Ether(src=HW_MAC, type=0x88A8) / s.Dot1Q(vlan=100, type=0x8100) / s.Dot1Q(vlan=20) / s.IPv6())
    ethertype, off, _mac, vlans = link_layer(1, qinq)
    assert (ethertype, off, vlans) == (ETH_IPV6, 22, (100, 20))
    llc = bytes(s.Dot3(src=HW_MAC, dst="01:00:0c:cc:cc:cc") / s.LLC() / s.SNAP() / b"x")
    assert link_layer(1, llc)[0] == LLC


@pytest.mark.parametrize("link, link_type, has_mac", [("sll", 113, True), ("sll2", 276, True), ("raw", 101, False)])
def test_cooked_and_raw_link_types(link: str, link_type: int, has_mac: bool) -> None:
    frame = bytes(s.Ether(src=HW_MAC) / s.IP(src="10.0.0.1") / s.UDP())
    framed = to_link(frame, link)
    assert framed is not None
    ethertype, off, mac, _ = link_layer(link_type, framed)
    assert ethertype == ETH_IPV4
    assert framed[off] >> 4 == 4
    assert (mac == bytes.fromhex("e006301a2b01")) if has_mac else mac is None
    lldp_frame = bytes(s.Ether(src=HW_MAC, dst="01:80:c2:00:00:0e", type=0x88CC) / b"\x00\x00")
    if link != "raw":
        assert link_layer(link_type, to_link(lldp_frame, link) or b"")[0] == ETH_LLDP


def test_unknown_link_type_and_truncation_are_decode_errors() -> None:
    with pytest.raises(DecodeError, match="link type 147"):
        link_layer(147, b"\x00" * 40)
    with pytest.raises(DecodeError, match="truncated"):
        link_layer(1, b"\x00" * 10)
    with pytest.raises(DecodeError, match="SLL2"):
        link_layer(276, b"\x00" * 12)


# -- ARP and neighbour discovery ---------------------------------------------


def test_arp_binds_sender_and_reply_target() -> None:
    request = bytes(s.ARP(op=1, hwsrc=HW_MAC, psrc="10.20.0.1", pdst="10.20.0.2"))
    assert arp.decode_arp(request) == [Fact("arp.ip", "10.20.0.1", mac=HW_MAC, ip="10.20.0.1")]
    reply = bytes(s.ARP(op=2, hwsrc=HW_MAC, psrc="10.20.0.1", hwdst="f0:1b:24:3c:4d:02", pdst="10.20.0.2"))
    assert {f.ip for f in arp.decode_arp(reply)} == {"10.20.0.1", "10.20.0.2"}
    probe = bytes(s.ARP(op=1, hwsrc=HW_MAC, psrc="0.0.0.0", pdst="10.20.0.9"))
    assert arp.decode_arp(probe) == []  # an address probe binds nothing
    with pytest.raises(DecodeError):
        arp.decode_arp(request[:20])


def test_ndp_advertisement_binds_target() -> None:
    src = "fe80::fabc:12ff:fe5f:600b"
    na = bytes(s.ICMPv6ND_NA(tgt=src) / s.ICMPv6NDOptDstLLAddr(lladdr="f8:bc:12:5f:60:0b"))
    facts = arp.decode_ndp(na, socket.inet_pton(socket.AF_INET6, src))
    assert facts == [Fact("ndp.ip", src, mac="f8:bc:12:5f:60:0b", ip=src)]


# -- DHCP -------------------------------------------------------------------


def test_dhcp_request_options() -> None:
    mac = bytes.fromhex("548c81b5c606")
    msg = bytes(s.BOOTP(op=1, chaddr=mac + b"\x00" * 10) / s.DHCP(options=[
        ("message-type", "request"), ("hostname", b"DS-2CD2043G2-I"), ("vendor_class_id", b"udhcp 1.30.1"),
        ("param_req_list", [1, 3, 6, 15]), ("client_id", b"\x01" + mac), "end"]))
    facts = dhcp.decode_dhcp(msg)
    assert kinds(facts) == {
        "dhcp.hostname": "DS-2CD2043G2-I", "dhcp.vendor_class": "udhcp 1.30.1", "dhcp.prl": "1,3,6,15",
        "dhcp.client_id": "01:54:8c:81:b5:c6:06"}
    assert {f.mac for f in facts} == {"54:8c:81:b5:c6:06"}
    ack = bytes(s.BOOTP(op=2, chaddr=mac + b"\x00" * 10, yiaddr="10.20.1.50")
                / s.DHCP(options=[("message-type", "ack"), "end"]))
    assert dhcp.decode_dhcp(ack) == [Fact("dhcp.ip", "10.20.1.50", mac="54:8c:81:b5:c6:06", ip="10.20.1.50")]


def test_dhcp_truncated_option() -> None:
    msg = bytes(s.BOOTP(op=1, chaddr=b"\x54\x8c\x81\xb5\xc6\x06") / s.DHCP(options=[("hostname", b"cam"), "end"]))
    broken = msg[:240] + b"\x0c\x40abc"  # hostname option claims 64 bytes
    with pytest.raises(DecodeError, match="option 12"):
        dhcp.decode_dhcp(broken)


def test_dhcpv6_vendor_class_and_fqdn() -> None:
    msg = bytes(s.DHCP6_Solicit(trid=1) / s.DHCP6OptClientId(duid=s.DUID_LL(lladdr="f8:bc:12:5f:60:0b"))
                / s.DHCP6OptClientFQDN(fqdn=b"\x0cFINANCE-PC07\x04corp\x00")
                / s.DHCP6OptVendorClass(enterprisenum=2011, vcdata=[s.VENDOR_CLASS_DATA(data=b"HuaweiCPE")]))
    got = kinds(dhcp.decode_dhcp6(msg))
    assert got["dhcp6.enterprise"] == "2011"
    assert got["dhcp.vendor_class"] == "HuaweiCPE"
    assert got["dhcp.hostname"] == "FINANCE-PC07.corp"


# -- LLDP and CDP ------------------------------------------------------------


def _lldp_bytes(sysdescr: bytes = b"Huawei Versatile Routing Platform Software") -> bytes:
    return bytes(
        s.Ether(src=HW_MAC, dst="01:80:c2:00:00:0e")
        / lldp_layers.LLDPDUChassisID(subtype=4, id=bytes.fromhex("e006301a2b01"))
        / lldp_layers.LLDPDUPortID(subtype=5, id=b"GE0/0/1")
        / lldp_layers.LLDPDUTimeToLive(ttl=120)
        / lldp_layers.LLDPDUSystemName(system_name=b"HW-CORE-01")
        / lldp_layers.LLDPDUSystemDescription(description=sysdescr)
        / lldp_layers.LLDPDUSystemCapabilities(router_available=1, router_enabled=1)
        / lldp_layers.LLDPDUManagementAddress(management_address_subtype=1,
                                              management_address=socket.inet_aton("10.20.0.1"),
                                              interface_numbering_subtype=2, interface_number=1)
        / lldp_layers.LLDPDUEndOfLLDPDU())[14:]


def test_lldp_tlvs() -> None:
    facts = lldp.decode_lldp(_lldp_bytes())
    assert kinds(facts) == {
        "lldp.chassis_id": HW_MAC, "lldp.port_id": "GE0/0/1", "lldp.sysname": "HW-CORE-01",
        "lldp.sysdescr": "Huawei Versatile Routing Platform Software", "lldp.capabilities": "router",
        "lldp.mgmt_addr": "10.20.0.1"}
    assert [f.ip for f in facts if f.kind == "lldp.mgmt_addr"] == ["10.20.0.1"]


def test_lldp_med_inventory_gives_serial() -> None:
    med = bytes([0xFE, 4 + 8]) + b"\x00\x12\xbb\x08" + b"21500103"
    facts = lldp.decode_lldp(med + b"\x00\x00")
    assert facts == [Fact("lldp.med.serial", "21500103", serial="21500103")]


def test_lldp_truncated_tlv() -> None:
    data = _lldp_bytes()
    with pytest.raises(DecodeError, match="truncated LLDP TLV"):
        lldp.decode_lldp(data[:30])


def test_cdp() -> None:
    frame = bytes(s.LLC() / s.SNAP() / cdp_layers.CDPv2_HDR(msg=[
        cdp_layers.CDPMsgDeviceID(val=b"SW-ACCESS-01"),
        cdp_layers.CDPMsgSoftwareVersion(val=b"Cisco IOS Software, C2960X Software, Version 15.2(7)E4"),
        cdp_layers.CDPMsgPlatform(val=b"cisco WS-C2960X-48FPD-L"),
        cdp_layers.CDPMsgAddr(addr=[cdp_layers.CDPAddrRecordIPv4(addr="10.20.0.10")]),
    ]))
    assert cdp.is_cdp(frame)
    facts = cdp.decode_cdp(frame[8:])
    assert kinds(facts) == {"cdp.device_id": "SW-ACCESS-01", "cdp.platform": "cisco WS-C2960X-48FPD-L",
                            "cdp.version": "Cisco IOS Software, C2960X Software, Version 15.2(7)E4",
                            "cdp.address": "10.20.0.10"}
    with pytest.raises(DecodeError, match="truncated CDP"):
        cdp.decode_cdp(frame[8:30])


# -- mDNS, LLMNR, NBNS, SSDP -------------------------------------------------


def test_mdns_announcement() -> None:
    instance = "AXIS M3045-V - 00408CF90A08._axis-video._tcp.local"
    msg = bytes(s.DNS(qr=1, aa=1, qd=[], an=[
        s.DNSRR(rrname="_axis-video._tcp.local", type="PTR", rdata=instance),
        s.DNSRR(rrname=instance, type="TXT", rdata=[b"macaddress=00408CF90A08", b"noequals"]),
        s.DNSRR(rrname="axis-cam.local", type="A", rdata="10.20.1.80")]))
    facts = mdns.decode_mdns(msg)
    assert Fact("mdns.service", instance) in facts
    assert Fact("mdns.txt", "macaddress=00408CF90A08") in facts
    assert Fact("mdns.hostname", "axis-cam.local", ip="10.20.1.80", hostname="axis-cam") in facts
    assert len(facts) == 3
    query = bytes(s.DNS(qr=0, qd=s.DNSQR(qname="_axis-video._tcp.local", qtype="PTR")))
    assert mdns.decode_mdns(query) == []


def test_dns_pointer_loop_is_rejected() -> None:
    header = b"\x00\x00\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00"
    with pytest.raises(DecodeError, match="loop"):
        mdns.decode_mdns(header + b"\xc0\x0c")


def test_llmnr_answer() -> None:
    msg = bytes(s.LLMNRResponse(qd=s.DNSQR(qname="finance-pc07"),
                                an=s.DNSRR(rrname="finance-pc07", type="A", rdata="10.20.3.21")))
    assert mdns.decode_llmnr(msg) == [Fact("llmnr.name", "finance-pc07", ip="10.20.3.21", hostname="finance-pc07")]


def test_nbns_registration() -> None:
    msg = bytes(s.NBNSHeader(OPCODE=5, NM_FLAGS=0x11, QDCOUNT=1, ARCOUNT=1)
                / s.NBNSRegistrationRequest(QUESTION_NAME="FINANCE-PC07", SUFFIX="Workstation Service",
                                            NB_ADDRESS="10.20.3.21"))
    assert nbns.decode_nbns(msg) == [Fact("nbns.name", "FINANCE-PC07", ip="10.20.3.21", hostname="finance-pc07")]
    group = bytes(s.NBNSHeader(OPCODE=5, NM_FLAGS=0x11, QDCOUNT=1, ARCOUNT=1)
                  / s.NBNSRegistrationRequest(QUESTION_NAME="WORKGROUP", SUFFIX="Workstation Service", G=1,
                                              NB_ADDRESS="10.20.3.21"))
    assert nbns.decode_nbns(group) == []  # group names are shared, not a host's


def test_ssdp_notify_and_byebye() -> None:
    notify = (b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNTS: ssdp:alive\r\n"
              b"SERVER: Linux/3.10, UPnP/1.0, DH-IPC/2.800\r\nUSN: uuid:abc::upnp:rootdevice\r\n"
              b"LOCATION: http://10.1.1.1/desc.xml\r\n\r\n")
    assert kinds(ssdp.decode_ssdp(notify)) == {"upnp.server": "Linux/3.10, UPnP/1.0, DH-IPC/2.800",
                                               "ssdp.usn": "uuid:abc::upnp:rootdevice",
                                               "ssdp.location": "http://10.1.1.1/desc.xml"}
    assert ssdp.decode_ssdp(notify.replace(b"ssdp:alive", b"ssdp:byebye")) == []
    with pytest.raises(DecodeError):
        ssdp.decode_ssdp(b"\x00garbage")


# -- SNMP -------------------------------------------------------------------


def test_snmp_response_and_traps() -> None:
    response = bytes(s.SNMP(community="public", PDU=s.SNMPresponse(varbindlist=[
        s.SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.1.0"), value=ASN1_STRING(b"Huawei Versatile Routing Platform")),
        s.SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.2.0"), value=ASN1_OID("1.3.6.1.4.1.2011.2.224.279")),
        s.SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.5.0"), value=ASN1_STRING(b"HW-CORE-01"))])))
    assert kinds(snmp.decode_snmp(response)) == {
        "snmp.sysdescr": "Huawei Versatile Routing Platform",
        "snmp.sysobjectid": "1.3.6.1.4.1.2011.2.224.279", "snmp.sysname": "HW-CORE-01"}
    trap = bytes(s.SNMP(version=0, community="public", PDU=s.SNMPtrapv1(
        enterprise=ASN1_OID("1.3.6.1.4.1.40297.1.2"), agent_addr="10.20.2.70", time_stamp=100, varbindlist=[])))
    assert snmp.decode_snmp(trap) == [Fact("snmp.sysobjectid", "1.3.6.1.4.1.40297.1.2")]
    get = bytes(s.SNMP(community="public", PDU=s.SNMPget(varbindlist=[
        s.SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.1.0"))])))
    assert snmp.decode_snmp(get) == []  # a manager's request says nothing about the agent
    with pytest.raises(DecodeError):
        snmp.decode_snmp(response[:-5])


def test_snmp_lldp_remote_table_describes_the_neighbour() -> None:
    index = "0.5.1"
    response = bytes(s.SNMP(community="public", PDU=s.SNMPresponse(varbindlist=[
        # LldpChassisIdSubtype is an INTEGER: 4 is a MAC address
        s.SNMPvarbind(oid=ASN1_OID(f"1.0.8802.1.1.2.1.4.1.1.4.{index}"), value=ASN1_INTEGER(4)),
        s.SNMPvarbind(oid=ASN1_OID(f"1.0.8802.1.1.2.1.4.1.1.5.{index}"),
                      value=ASN1_STRING(bytes.fromhex("f01b243c4d02"))),
        s.SNMPvarbind(oid=ASN1_OID(f"1.0.8802.1.1.2.1.4.1.1.9.{index}"), value=ASN1_STRING(b"OLT-C300-A")),
        s.SNMPvarbind(oid=ASN1_OID(f"1.0.8802.1.1.2.1.4.1.1.10.{index}"),
                      value=ASN1_STRING(b"ZXA10 C300, ZTE ZXA10 Software"))])))
    facts = snmp.decode_snmp(response)
    assert {f.kind for f in facts} == {"mac", "lldp.chassis_id", "lldp.sysname", "lldp.sysdescr"}
    assert all(f.mac == "f0:1b:24:3c:4d:02" and f.third_party for f in facts)


# -- TLS, banners and TCP reassembly -------------------------------------------


def test_tls_certificate_from_server_flight() -> None:
    flight = tls12_server_flight(huawei_certificate())
    facts, done = tls.decode_server_flight(flight)
    assert done
    got = kinds(facts)
    assert got["tls.cert.subject"] == "CN=USG6000E,OU=Enterprise Network,O=Huawei,C=CN"
    assert got["tls.cert.san"] == "usg6000e.local"
    assert got["tls.cert.serial"] == "5a17c0ffee"
    assert tls.decode_server_flight(flight[:300]) == ([], False)  # the certificate is still coming


def test_tls_bad_certificate_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="certificate"):
        tls.certificate_facts(b"\x30\x03\x02\x01\x01")


@pytest.mark.parametrize("data, sport, kind, value", [
    # The line and a first packet (here not a KEXINIT): an SSH stream waits for the packet after its line.
    (b"SSH-2.0-HUAWEI-1.5\r\n\x00\x00\x00\x0c\x0a\x15" + bytes(10), 22, "ssh.banner", "SSH-2.0-HUAWEI-1.5"),
    (b"220 ProFTPD Server (Hikvision FTP)\r\n", 21, "ftp.banner", "220 ProFTPD Server (Hikvision FTP)"),
    (b"220-mail.example.com ESMTP\r\n220 ready\r\n", 25, "smtp.banner", "220-mail.example.com ESMTP\n220 ready"),
    (b"\xff\xfb\x01\xff\xfb\x03\r\nWelcome to ZXA10 C300\r\nUsername:", 23, "telnet.banner",
     "Welcome to ZXA10 C300\nUsername:"),
    (b"HTTP/1.1 200 OK\r\nServer: App-webs/\r\n\r\n", 80, "http.server", "App-webs/"),
    (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Rtsp Server/3.0\r\n\r\n", 554, "rtsp.server", "Rtsp Server/3.0"),
    (b"GET / HTTP/1.1\r\nUser-Agent: HikvisionNVR/4.0\r\n\r\n", 50000, "http.user_agent", "HikvisionNVR/4.0"),
])
def test_first_message_banners(data: bytes, sport: int, kind: str, value: str) -> None:
    parser = banners.classify(data, sport, 50000)
    assert parser is not None and parser.complete(data)
    assert Fact(kind, value) in parser.parse(data, sport, 50000)


def test_bulk_data_is_not_classified() -> None:
    assert banners.classify(b"\x17\x03\x03\x00\x20" + b"x" * 32, 443, 50000) is None
    assert banners.classify(b"random binary stream", 8000, 50000) is None


def test_reassembly_in_order_out_of_order_and_retransmitted() -> None:
    got: list[bytes] = []

    def deliver(stream: Stream, message: bytes, path: str | None) -> None:
        got.append(message)

    table = Reassembler(deliver)
    key = b"k" * 12
    args = ("10.0.0.1", 80, 50000)
    message = b"HTTP/1.1 200 OK\r\nServer: App-webs/\r\nX: " + b"y" * 50 + b"\r\n\r\n"
    table.syn(key, 999, *args, 1, 0.0, None)
    table.segment(key, 1000, message[:20], False, False, *args, 2, 0.0, None)
    table.segment(key, 1040, message[40:], False, False, *args, 3, 0.0, None)  # ahead: held
    table.segment(key, 1000, message[:20], False, False, *args, 4, 0.0, None)  # retransmission
    assert got == []
    table.segment(key, 1020, message[20:40], False, False, *args, 5, 0.0, None)  # fills the gap
    assert got == [message]
    assert table.streams[key] is None  # done: later packets are skipped


def test_reassembly_delivers_a_waiting_message_when_its_addresses_start_again() -> None:
    """An SSH line waits for the KEXINIT after it; when the FIN was lost and the same addresses and
    ports open a new connection, the line read so far is delivered, not dropped."""
    got: list[tuple[int, bytes]] = []
    table = Reassembler(lambda stream, message, path: got.append((stream.frame, message)))
    key = b"s" * 12
    args = ("10.0.0.1", 22, 50000)
    table.syn(key, 49_999, *args, 1, 0.0, None)
    table.segment(key, 50_000, b"SSH-2.0-HUAWEI-1.5\r\n", False, False, *args, 2, 0.0, None)
    assert got == []  # still waiting for the key exchange
    table.syn(key, 49_999, *args, 9, 1.0, None)
    assert got == [(2, b"SSH-2.0-HUAWEI-1.5\r\n")]


def test_reassembly_bounds_streams() -> None:
    delivered: list[Stream] = []
    table = Reassembler(lambda stream, message, path: delivered.append(stream), max_streams=64)
    for i in range(1000):
        table.segment(i.to_bytes(12, "big"), 1, b"SSH-2.0-", False, False, "10.0.0.1", 22, 1, i, 0.0, None)
    assert len(table.streams) <= 64
    assert len(delivered) > 900  # evicted streams deliver what they had


# -- HTTP and RTSP, message after message on one connection ----------------------

CLIENT_KEY = bytes([10, 0, 0, 9, 10, 0, 0, 5]) + (50000).to_bytes(2, "big") + (80).to_bytes(2, "big")
SERVER_KEY = reverse_key(CLIENT_KEY)


class Conversation:
    """One TCP connection fed to a Reassembler segment by segment, in capture order (the test's
    own sequence numbers: the client's from 1000, the server's from 50000)."""

    def __init__(self, port: int = 80) -> None:
        self.got: list[tuple[str, bytes, str | None, int]] = []  # parser, message, path, frame
        self.table = Reassembler(lambda stream, message, path: self.got.append(
            (stream.parser.name if stream.parser else "", message, path, stream.frame)))
        self.port = port
        self.seq = {CLIENT_KEY: 1000, SERVER_KEY: 50000}
        self.frame = 0

    def say(self, key: bytes, payload: bytes, fin: bool = False) -> None:
        self.frame += 1
        if key in self.table.streams and self.table.streams[key] is None:
            return  # done: the extractor skips its packets before they reach the table
        sport, dport = (50000, self.port) if key == CLIENT_KEY else (self.port, 50000)
        src = "10.0.0.9" if key == CLIENT_KEY else "10.0.0.5"
        self.table.segment(key, self.seq[key], payload, False, fin, src, sport, dport, self.frame, 0.0, None)
        self.seq[key] += len(payload)

    def client(self, payload: bytes, fin: bool = False) -> None:
        self.say(CLIENT_KEY, payload, fin)

    def server(self, payload: bytes, fin: bool = False) -> None:
        self.say(SERVER_KEY, payload, fin)

    def answers(self) -> list[tuple[bytes, str | None]]:
        return [(message, path) for name, message, path, _frame in self.got if name.endswith("-response")]

    def requests(self) -> list[bytes]:
        return [message for name, message, _path, _frame in self.got if name.endswith("-request")]


def get(path: str, method: str = "GET", body: bytes = b"") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    return f"{method} {path} HTTP/1.1\r\nHost: 10.0.0.5\r\n{length}\r\n".encode() + body


def answer(body: bytes, status: str = "200 OK", content_type: str = "text/xml") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)


def chunked(body: bytes, piece: int = 7) -> bytes:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + piece]), body[i : i + piece])
                      for i in range(0, len(body), piece))
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/xml\r\n\r\n" + chunks + b"0\r\n\r\n"


DEVICE_INFO = (b'<?xml version="1.0" encoding="UTF-8"?><DeviceInfo version="2.0" '
               b'xmlns="http://www.isapi.org/ver20/XMLSchema"><model>DS-7608NI-I2/8P</model></DeviceInfo>')
SYSTEM_INFO = b"deviceType=DH-IPC-HFW2431S-S-S2\r\nserialNumber=4L03B75PAZ2D3F7\r\n"


def test_keep_alive_answers_carry_the_path_of_the_request_they_answer() -> None:
    talk = Conversation()
    talk.client(get("/"))
    talk.server(answer(b"<html><title>Web</title></html>", content_type="text/html"))
    talk.client(get("/ISAPI/System/deviceInfo"))
    talk.server(answer(DEVICE_INFO)[:60])  # split over two segments
    talk.server(answer(DEVICE_INFO)[60:])
    talk.client(get("/onvif/device_service", "POST", b"<s:Envelope>GetSystemDateAndTime</s:Envelope>"))
    talk.server(chunked(b"<tds:GetSystemDateAndTimeResponse/>"))
    talk.client(get("/cgi-bin/magicBox.cgi?action=getSystemInfo"))
    talk.server(answer(SYSTEM_INFO, content_type="text/plain"))
    assert [path for _message, path in talk.answers()] == [
        "/", "/ISAPI/System/deviceInfo", "/onvif/device_service", "/cgi-bin/magicBox.cgi?action=getSystemInfo"]
    assert len(talk.requests()) == 4  # the POST's body was not taken for a request
    assert talk.answers()[1][0].endswith(DEVICE_INFO)
    assert talk.table.streams[SERVER_KEY] is not None  # still read: the connection may ask more
    body = [e for e in banners.HTTP_RESPONSE.parse(talk.answers()[3][0], 80, 50000, talk.answers()[3][1])
            if e.kind == "http.body"]
    assert body[0].value == SYSTEM_INFO.decode().replace("\r\n", "\n").strip()
    assert body[0].context == {"path": "/cgi-bin/magicBox.cgi?action=getSystemInfo", "status": 200,
                               "content_type": "text/plain", "bytes": len(SYSTEM_INFO)}


def test_each_message_keeps_the_frame_it_began_in() -> None:
    talk = Conversation()
    talk.client(get("/"))  # frame 1
    talk.server(answer(b"one"))  # frame 2
    talk.client(get("/two"))  # frame 3
    talk.server(answer(b"two")[:10])  # frame 4: the second answer begins here
    talk.server(answer(b"two")[10:])  # frame 5
    assert [frame for name, _m, _p, frame in talk.got if name == "http-response"] == [2, 4]


def test_pipelined_requests_are_answered_in_order_even_when_the_answers_share_a_segment() -> None:
    talk = Conversation()
    talk.client(get("/a") + get("/b", "POST", b"x=1") + get("/c"))
    talk.server(answer(b"A") + chunked(b"B" * 30) + answer(b"C")[:20])
    talk.server(answer(b"C")[20:])
    assert talk.answers() == [(answer(b"A"), "/a"), (chunked(b"B" * 30), "/b"), (answer(b"C"), "/c")]
    assert talk.requests() == [get("/a"), get("/b", "POST", b"x=1"), get("/c")]


def test_an_answer_whose_request_is_not_in_the_capture_has_no_path() -> None:
    talk = Conversation()
    talk.server(answer(b"started mid-connection"))
    talk.client(get("/later"))
    talk.server(b"HTTP/1.1 100 Continue\r\n\r\n")  # informational: the final answer follows
    talk.server(answer(b"final"))
    assert [path for _m, path in talk.answers()] == [None, None, "/later"]


def test_an_answer_before_the_request_body_is_that_requests() -> None:
    """Expect: 100-continue, or a 401 sent before the body: the request is asked when its head arrives."""
    talk = Conversation()
    post = get("/onvif/device_service", "POST", b"<s:Envelope/>")
    talk.client(post[:-5])  # the head and part of the body
    talk.server(b"HTTP/1.1 100 Continue\r\n\r\n")
    talk.server(answer(b"<Fault>NotAuthorized</Fault>", "401 Unauthorized"))  # before the rest of the body
    talk.client(post[-5:])
    talk.client(get("/ISAPI/System/deviceInfo"))
    talk.server(answer(DEVICE_INFO))
    assert [path for _m, path in talk.answers()] == [None, "/onvif/device_service", "/ISAPI/System/deviceInfo"]
    assert talk.requests() == [post, get("/ISAPI/System/deviceInfo")]


def test_the_answer_to_head_has_no_body_and_the_next_answer_is_paired() -> None:
    talk = Conversation()
    talk.client(get("/", "HEAD") + get("/next"))
    talk.server(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + answer(b"next"))
    assert [path for _m, path in talk.answers()] == ["/", "/next"]
    assert talk.answers()[1][0].endswith(b"next")


def test_rtsp_options_then_describe_gives_the_session_description() -> None:
    sdp = b"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=Media Presentation\r\ni=Hikvision DS-2CD2143G2-I\r\n"
    talk = Conversation(554)
    talk.client(b"OPTIONS rtsp://10.0.0.5/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    talk.server(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n")
    talk.client(b"DESCRIBE rtsp://10.0.0.5/ RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n")
    talk.server(b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(sdp), sdp))
    describe = talk.answers()[1][0]
    assert any(e.kind == "rtsp.sdp" for e in banners.RTSP_RESPONSE.parse(describe, 554, 50000))


ONVIF_INFO = (b'<?xml version="1.0" encoding="UTF-8"?>'
              b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
              b'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><env:Body><tds:GetDeviceInformationResponse>'
              b'<tds:Manufacturer>Dahua</tds:Manufacturer><tds:Model>IPC-HFW2431S-S-S2</tds:Model>'
              b'<tds:FirmwareVersion>2.800.0000000.11.R</tds:FirmwareVersion><tds:SerialNumber>4L03B75PAZ2D3F7'
              b'</tds:SerialNumber></tds:GetDeviceInformationResponse></env:Body></env:Envelope>')
UPNP_DESCRIPTION = (b'<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>'
                    b'<manufacturer>Huawei Technologies Co., Ltd.</manufacturer><modelName>HG8245H</modelName>'
                    b'</device></root>')


@pytest.mark.parametrize("message, expected", [
    (chunked(ONVIF_INFO, 50), {"onvif.manufacturer": "Dahua", "onvif.model": "IPC-HFW2431S-S-S2"}),
    (answer(UPNP_DESCRIPTION), {"upnp.manufacturer": "Huawei Technologies Co., Ltd.", "upnp.model": "HG8245H"}),
    (answer(ONVIF_INFO, "400 Bad Request"), {}),  # only an answer that succeeded is read as the device's
])
def test_an_answer_holding_a_device_document_gives_what_the_probe_reads(message: bytes,
                                                                       expected: dict[str, str]) -> None:
    found = banners.HTTP_RESPONSE.parse(message, 80, 50000, "/whatever")
    assert {e.kind: e.value for e in found if e.kind.startswith(("onvif.", "upnp."))} == expected


def test_a_whole_icon_gives_the_favicon_hash_the_probe_records() -> None:
    icon = bytes(range(256)) * 20  # 5,120 bytes: several segments, under the capture's body bound
    whole = answer(icon, content_type="image/x-icon")
    found = [e for e in banners.HTTP_RESPONSE.parse(whole, 80, 50000, "/favicon.ico") if e.kind == "http.favicon_hash"]
    assert found == [Fact("http.favicon_hash", http_evidence.favicon_hash(icon),
                          context={"sha256": hashlib.sha256(icon).hexdigest(), "size": len(icon)})]
    assert not [e for e in banners.HTTP_RESPONSE.parse(whole[:-1], 80, 50000, "/favicon.ico")
                if e.kind == "http.favicon_hash"]  # a cut icon hashes to nothing real
    typed = [e for e in banners.HTTP_RESPONSE.parse(answer(icon, content_type="image/vnd.microsoft.icon"), 80, 50000,
                                                    "/img/logo") if e.kind == "http.favicon_hash"]
    assert typed == found  # an icon by its type, wherever the page's <link rel="icon"> pointed
    page = answer(b"<html><title>404</title></html>", "200 OK", "text/html")
    assert not [e for e in banners.HTTP_RESPONSE.parse(page, 80, 50000, "/favicon.ico")
                if e.kind == "http.favicon_hash"]  # a page where an icon was asked is not an icon


def test_messages_per_direction_are_bounded() -> None:
    talk = Conversation()
    for n in range(MAX_MESSAGES + 10):
        talk.client(get(f"/{n}"))
        talk.server(answer(b"%d" % n))
    assert len(talk.answers()) == len(talk.requests()) == MAX_MESSAGES
    assert talk.table.streams[SERVER_KEY] is None and talk.table.streams[CLIENT_KEY] is None
    assert len(talk.table.asked[CLIENT_KEY]) <= MAX_MESSAGES


def test_a_message_whose_end_cannot_be_told_ends_its_direction() -> None:
    # Longer than the body bound (a download): read up to the bound, then the direction is done.
    talk = Conversation()
    talk.client(get("/firmware.bin"))
    big = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10000000\r\n\r\n"
    talk.server(big)
    for _ in range(3):
        talk.server(b"z" * (banners.PCAP_BODY // 2))
    assert len(talk.answers()) == 1 and talk.table.streams[SERVER_KEY] is None
    # No length: the body runs to the close, and is read at the FIN as a first message always was.
    talk = Conversation()
    talk.client(get("/"))
    talk.server(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>")
    assert talk.answers() == []  # an HTML page without a length is waited for up to its title
    talk.server(b"<title>NVR</title>", fin=True)
    assert talk.answers() == [(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html><title>NVR</title>", "/")]
    # Not a message of the same kind after the first: the direction is done (bulk data is not looked at).
    talk = Conversation()
    talk.client(get("/"))
    talk.server(answer(b"ok") + b"\x00\x01binary that follows")
    assert len(talk.answers()) == 1 and talk.table.streams[SERVER_KEY] is None


@pytest.mark.parametrize("data, expected", [
    (b"5\r\nhello\r\n0\r\n\r\n", 15),
    (b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nNEXT", 33),
    (b"5\r\nhel", banners.NEED_MORE),
    (b"5\r\nhello\r\n0\r\n", banners.NEED_MORE),  # the trailers' blank line has not arrived
    (b"zz\r\nhello\r\n", banners.UNFOLLOWABLE),
    (b"-5\r\nhello\r\n", banners.UNFOLLOWABLE),
    (b"ffffffffff\r\n", banners.UNFOLLOWABLE),  # past any bound
    (b"1" * 2000, banners.UNFOLLOWABLE),  # a size line that never ends
])
def test_chunked_length(data: bytes, expected: int) -> None:
    assert banners.chunked_length(data, 0, 4096) == expected


def test_a_capture_of_a_keep_alive_connection_gives_each_body_with_its_path(tmp_path: Path) -> None:
    """End to end, on a capture scapy writes: the reader's walkers, the reassembly and evidence/http.py."""
    client, server = ("e0:06:30:00:00:09", "10.0.0.9"), ("e0:06:30:1a:2b:01", "10.0.0.5")
    seq = {client: 1000, server: 50000}
    frames = []

    def say(who: tuple[str, str], payload: bytes) -> None:
        other = server if who == client else client
        sport, dport = (50000, 80) if who == client else (80, 50000)
        frames.append(s.Ether(src=who[0], dst=other[0]) / s.IP(src=who[1], dst=other[1])
                      / s.TCP(sport=sport, dport=dport, flags="PA", seq=seq[who], ack=seq[other]) / payload)
        seq[who] += len(payload)

    say(client, get("/"))
    say(server, answer(b"<html><title>Login</title></html>", content_type="text/html"))
    say(client, get("/ISAPI/System/deviceInfo"))
    say(server, answer(DEVICE_INFO))
    say(client, get("/cgi-bin/magicBox.cgi?action=getSystemInfo"))
    say(server, answer(SYSTEM_INFO, content_type="text/plain"))
    path = tmp_path / "keepalive.pcap"
    s.wrpcap(str(path), frames)
    bodies = {o.context["path"]: (o.value, o.context["frame"]) for o in read_observations(path)
              if o.kind == "http.body"}
    assert bodies == {
        "/": ("<html><title>Login</title></html>", 2),
        "/ISAPI/System/deviceInfo": (DEVICE_INFO.decode(), 4),
        "/cgi-bin/magicBox.cgi?action=getSystemInfo": (SYSTEM_INFO.decode().replace("\r\n", "\n").strip(), 6),
    }


CONVERSATION = [
    (CLIENT_KEY, get("/") + get("/ISAPI/System/deviceInfo")),
    (SERVER_KEY, answer(b"<html><title>Web</title></html>", content_type="text/html") + answer(DEVICE_INFO)),
    (CLIENT_KEY, get("/onvif/device_service", "POST", b"<Envelope/>")),
    (SERVER_KEY, chunked(SYSTEM_INFO)),
]


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_any_segmentation_gives_the_same_messages(data: st.DataObject) -> None:
    """The messages and their paths do not depend on where the segments were cut."""
    whole = Conversation()
    for key, payload in CONVERSATION:
        whole.say(key, payload)
    cut = Conversation()
    for key, payload in CONVERSATION:
        points = sorted(data.draw(st.sets(st.integers(1, len(payload) - 1), max_size=10)))
        for start, end in zip([0, *points], [*points, len(payload)], strict=True):
            cut.say(key, payload[start:end])
    assert [(name, message, path) for name, message, path, _f in cut.got] == \
        [(name, message, path) for name, message, path, _f in whole.got]
    assert len(whole.answers()) == 3


@settings(max_examples=150, deadline=None)
@given(first=st.sampled_from([b"HTTP/1.1 200 OK\r\n", b"GET / HTTP/1.1\r\n", b"RTSP/1.0 200 OK\r\n",
                              b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\n"]),
       pieces=st.lists(st.binary(max_size=300) | st.sampled_from([
           b"Content-Length: 5\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\n", b"\r\n\r\n", b"0\r\n\r\n",
           b"HTTP/1.1 100 Continue\r\n\r\n", b"ffff\r\n", b"GET /a HTTP/1.1\r\n\r\n"]), max_size=12),
       fin=st.booleans())
def test_damaged_http_streams_never_raise(first: bytes, pieces: list[bytes], fin: bool) -> None:
    """Hostile bytes after a message start: the reassembly and every parse end in messages or nothing."""
    report = SkipReport()
    extractor = Extractor("fuzz", report)
    table = extractor.tcp
    seq = {CLIENT_KEY: 1, SERVER_KEY: 1}
    for n, piece in enumerate([first, *pieces]):
        key = SERVER_KEY if n % 3 else CLIENT_KEY
        if not piece:
            continue
        if table.streams.get(key, True) is None:
            continue  # done: the extractor skips its packets
        table.segment(key, seq[key], piece, False, fin and n == len(pieces), "10.0.0.5", 80, 50000, n + 1, 0.0, None)
        seq[key] += len(piece)
    table.flush()
    observations = list(extractor.drain())
    assert all(o.kind for o in observations)


def test_the_same_answer_on_many_connections_is_counted_each_time() -> None:
    """Repeated short messages are parsed once (Extractor.parsed) and still counted per connection."""
    extractor = Extractor("repeat", SkipReport())
    for client in range(3):
        key = bytes([10, 0, 0, client + 1, 10, 0, 0, 5]) + (50000 + client).to_bytes(2, "big") + (80).to_bytes(2, "big")
        for k, payload in ((key, get("/cgi-bin/magicBox.cgi?action=getSystemInfo")),
                           (reverse_key(key), answer(SYSTEM_INFO, content_type="text/plain"))):
            sport = 80 if k != key else 50000 + client
            extractor.tcp.segment(k, 1, payload, False, False, "10.0.0.5", sport, 50000, client + 1, 0.0, None)
    extractor.tcp.flush()
    bodies = [o for o in extractor.drain() if o.kind == "http.body"]
    assert len(bodies) == 1 and bodies[0].context["count"] == 3
    assert bodies[0].context["path"] == "/cgi-bin/magicBox.cgi?action=getSystemInfo"
    assert len(extractor.parsed) == 2  # the request and the answer, each parsed once


def test_a_captured_lldp_walk_joins_its_answers(tmp_path: Path) -> None:
    """A manager walks lldpRemTable column by column: the chassis id, the name and the description
    of one neighbour come in three answers; the capture gives the neighbour whole, keyed by its own
    MAC and never the agent's address, as the probe's walk does."""
    rem = "1.0.8802.1.1.2.1.4.1.1"
    answers = [
        [(f"{rem}.4.0.5.1", ASN1_INTEGER(4)), (f"{rem}.5.0.5.1", ASN1_STRING(bytes.fromhex("0019c6123456")))],
        [(f"{rem}.9.0.5.1", ASN1_STRING(b"zte-olt-1"))],
        [(f"{rem}.10.0.5.1", ASN1_STRING(b"ZXA10 C300, ZTE Corporation\r\nV2.1"))],
    ]
    agent, manager = ("00:e0:fc:00:00:01", "10.0.0.1"), ("02:00:00:00:00:09", "10.0.0.9")
    frames = [s.Ether(src=agent[0], dst=manager[0]) / s.IP(src=agent[1], dst=manager[1])
              / s.UDP(sport=161, dport=40000)
              / s.SNMP(community="public", PDU=s.SNMPresponse(id=i, varbindlist=[
                  s.SNMPvarbind(oid=ASN1_OID(oid), value=value) for oid, value in varbinds]))
              for i, varbinds in enumerate(answers)]
    path = tmp_path / "walk.pcap"
    s.wrpcap(str(path), frames)
    neighbour = {o.kind: o for o in read_observations(path) if o.keys.mac == "00:19:c6:12:34:56"}
    assert {kind: o.value for kind, o in neighbour.items()} == {
        "mac": "00:19:c6:12:34:56", "lldp.chassis_id": "00:19:c6:12:34:56", "lldp.sysname": "zte-olt-1",
        "lldp.sysdescr": "ZXA10 C300, ZTE Corporation\nV2.1"}
    assert all(o.keys.ip is None and o.context["reported_by"] == "10.0.0.1" and o.context["frame"] == 1
               for o in neighbour.values())
    # read alone, the answer with the description ties it to no device
    assert snmp.decode_snmp(bytes(s.SNMP(community="public", PDU=s.SNMPresponse(varbindlist=[
        s.SNMPvarbind(oid=ASN1_OID(oid), value=value) for oid, value in answers[2]])))) == []
