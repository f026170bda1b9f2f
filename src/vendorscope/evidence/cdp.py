"""CDP (Cisco Discovery Protocol, carried in 802.2 SNAP): device id, platform, software
version, port, capabilities, and the addresses the device states for itself."""

from __future__ import annotations

from struct import unpack_from

from vendorscope.evidence.record import DecodeError, Evidence, ipv4, ipv6, text

SNAP_CDP = b"\xaa\xaa\x03\x00\x00\x0c\x20\x00"  # LLC SNAP, Cisco OUI, protocol id 0x2000
_IPV6_PROTO = b"\xaa\xaa\x03\x00\x00\x00\x86\xdd"
CAPABILITIES = ("router", "trans-bridge", "source-route-bridge", "switch", "host", "igmp", "repeater",
                "phone", "remote", "cvta", "mac-relay")
_MAX_TLVS = 128
_MAX_ADDRESSES = 32


def is_cdp(llc: bytes) -> bool:
    return llc[:8] == SNAP_CDP


def _addresses(value: bytes) -> list[str]:
    if len(value) < 4:
        raise DecodeError("truncated CDP address TLV")
    count = min(unpack_from("!I", value)[0], _MAX_ADDRESSES)
    pos, out = 4, []
    for _ in range(count):
        if pos + 2 > len(value):
            raise DecodeError("truncated CDP address")
        proto_len = value[pos + 1]
        proto = value[pos + 2 : pos + 2 + proto_len]
        pos += 2 + proto_len
        if pos + 2 > len(value):
            raise DecodeError("truncated CDP address")
        addr_len = unpack_from("!H", value, pos)[0]
        addr = value[pos + 2 : pos + 2 + addr_len]
        pos += 2 + addr_len
        if len(addr) != addr_len:
            raise DecodeError("truncated CDP address")
        if proto == b"\xcc" and addr_len == 4:
            out.append(ipv4(addr))
        elif proto == _IPV6_PROTO and addr_len == 16:
            out.append(ipv6(addr))
    return out


def decode_cdp(payload: bytes) -> list[Evidence]:
    """Decode a CDP PDU (the bytes after the 8-byte SNAP header)."""
    if len(payload) < 4:
        raise DecodeError("truncated CDP header")
    facts: list[Evidence] = []
    pos, seen = 4, 0
    while pos + 4 <= len(payload) and seen < _MAX_TLVS:
        kind, length = unpack_from("!HH", payload, pos)
        if length < 4 or pos + length > len(payload):
            raise DecodeError(f"truncated CDP TLV (type {kind})")
        value = payload[pos + 4 : pos + length]
        pos += length
        seen += 1
        if kind == 0x0001 and value:
            device_id = text(value, 255)
            facts.append(Evidence("cdp.device_id", device_id, hostname=device_id.lower()))
        elif kind in (0x0002, 0x0016):
            facts.extend(Evidence("cdp.address", a, ip=a) for a in _addresses(value))
        elif kind == 0x0003 and value:
            facts.append(Evidence("cdp.port_id", text(value, 255)))
        elif kind == 0x0004 and len(value) >= 4:
            bits = unpack_from("!I", value)[0]
            facts.append(Evidence("cdp.capabilities", ",".join(n for i, n in enumerate(CAPABILITIES) if bits >> i & 1)
                              or "none"))
        elif kind == 0x0005 and value:
            facts.append(Evidence("cdp.version", text(value)))
        elif kind == 0x0006 and value:
            facts.append(Evidence("cdp.platform", text(value, 255)))
        elif kind == 0x000A and len(value) >= 2:
            facts.append(Evidence("cdp.native_vlan", str(unpack_from("!H", value)[0])))
    if 0 < len(payload) - pos < 4 and seen < _MAX_TLVS:
        raise DecodeError("truncated CDP TLV header")
    return facts
