"""Weak signals (hint kinds): SSDP ST/NT and X-User-Agent, the SSH server's KEXINIT lists and HASSH."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st
from probe_servers import ssh_kexinit_packet

from vendorscope.collect.pcap.first_message import SSH, classify
from vendorscope.evidence import ssh, upnp
from vendorscope.evidence.kinds import HINT_KINDS, registry
from vendorscope.evidence.record import DecodeError

LISTS = ["curve25519-sha256,diffie-hellman-group14-sha256", "rsa-sha2-256,ssh-rsa", "aes128-ctr,aes256-ctr",
         "aes128-ctr,aes256-ctr", "hmac-sha2-256", "hmac-sha2-256", "none", "none", "", ""]


def test_kinds_are_registered_hints() -> None:
    assert {"ssh.kex", "ssh.hassh", "ssdp.st", "ssdp.user_agent", "snmp.syslocation"} <= HINT_KINDS
    assert all(registry()[k].hint for k in HINT_KINDS)


def test_kexinit_with_the_banner_in_one_segment() -> None:
    data = b"SSH-2.0-dropbear_2019.78\r\n" + ssh_kexinit_packet(LISTS)
    assert classify(data, 22, 50000) is SSH and SSH.complete(data)
    found = {e.kind: e for e in SSH.parse(data, 22, 50000)}
    assert found["ssh.banner"].value == "SSH-2.0-dropbear_2019.78"
    hassh = hashlib.md5(";".join((LISTS[0], LISTS[3], LISTS[5], LISTS[7])).encode(),
                        usedforsecurity=False).hexdigest()
    assert found["ssh.hassh"].value == hassh
    assert found["ssh.kex"].value == ";".join((LISTS[0], LISTS[1], LISTS[3], LISTS[5], LISTS[7]))


def test_banner_alone_and_broken_kexinit() -> None:
    assert [e.kind for e in ssh.ssh_evidence(b"SSH-2.0-HUAWEI-1.5\r\n")] == ["ssh.banner"]
    broken = b"SSH-2.0-x\r\n" + ssh_kexinit_packet(LISTS)[:-20]
    assert [e.kind for e in ssh.ssh_evidence(broken)] == ["ssh.banner"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=600))
def test_kexinit_parser_on_hostile_bytes(data: bytes) -> None:
    try:
        lists = ssh.kexinit_lists(data)
    except DecodeError:
        return
    assert len(lists) == 10 and all(x.isascii() for x in lists)


def test_ssdp_st_and_x_user_agent() -> None:
    answer = (b"HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
              b"USN: uuid:abc::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
              b"X-User-Agent: redsonic\r\nLOCATION: http://192.0.2.1:37215/desc.xml\r\n\r\n")
    found = {(e.kind, e.value) for e in upnp.decode_ssdp(answer)}
    assert ("ssdp.st", "urn:schemas-upnp-org:device:InternetGatewayDevice:1") in found
    assert ("ssdp.user_agent", "redsonic") in found
    notify = b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n\r\n"
    assert not any(e.kind == "ssdp.st" for e in upnp.decode_ssdp(notify))  # generic: says nothing


def test_kinds_file_rejects_bad_hint_fields() -> None:
    import pytest

    from vendorscope.evidence.kinds import KindsError, is_hint_value, parse_kinds

    with pytest.raises(KindsError, match="hint_prefixes"):
        parse_kinds({"kind": [{"name": "a", "hint_prefixes": [""]}]})
    with pytest.raises(KindsError, match="max_chars"):
        parse_kinds({"kind": [{"name": "a", "max_chars": 0}]})
    assert is_hint_value("snmp.sysobjectid", "1.3.6.1.4.1.4413.1.1")
    assert not is_hint_value("snmp.sysobjectid", "1.3.6.1.4.1.2011.2.23.631")
