"""ARP: the IPv4 ↔ MAC bindings that let IP-level evidence be tied to a device's MAC."""

from __future__ import annotations

from struct import unpack_from

from vendorscope.evidence.record import DecodeError, Evidence, ipv4, ipv6, is_unicast_mac, mac

ETHERTYPE = 0x0806  # ARP; neighbour discovery rides on ICMPv6
_ZERO_IP = b"\x00\x00\x00\x00"


def _binding(hw: bytes, proto: bytes) -> Evidence | None:
    if not is_unicast_mac(hw) or proto == _ZERO_IP or proto[0] in (0, 127, 255) or proto[0] >= 224:
        return None
    ip = ipv4(proto)
    return Evidence("arp.ip", ip, mac=mac(hw), ip=ip)


def decode_arp(payload: bytes) -> list[Evidence]:
    """Sender bindings of requests and replies, and the target binding of replies."""
    if len(payload) < 8:
        raise DecodeError("truncated ARP header")
    htype, ptype, hlen, plen, op = unpack_from("!HHBBH", payload)
    if htype != 1 or ptype != 0x0800 or hlen != 6 or plen != 4:
        return []  # not Ethernet/IPv4 ARP: nothing to bind
    if len(payload) < 28:
        raise DecodeError("truncated ARP packet")
    facts = [_binding(payload[8:14], payload[14:18])]
    if op == 2:
        facts.append(_binding(payload[18:24], payload[24:28]))
    return [f for f in facts if f is not None]


# -- IPv6 neighbour discovery: the ARP of IPv6 ------------------------------

_ND_RS, _ND_RA, _ND_NS, _ND_NA = 133, 134, 135, 136
_OPT_SOURCE_LL, _OPT_TARGET_LL = 1, 2


def decode_ndp(icmp: bytes, source_ip: bytes) -> list[Evidence]:
    """Bindings from router/neighbour solicitations and advertisements.

    ``icmp`` is the ICMPv6 message, ``source_ip`` the 16-byte IPv6 source.
    An advertisement binds its target address to the target link-layer
    address option; the other messages bind the sender's address to the
    source link-layer address option.
    """
    if len(icmp) < 4:
        raise DecodeError("truncated ICMPv6 header")
    kind = icmp[0]
    if kind not in (_ND_RS, _ND_RA, _ND_NS, _ND_NA):
        return []
    fixed = {_ND_RS: 8, _ND_RA: 16, _ND_NS: 24, _ND_NA: 24}[kind]
    if len(icmp) < fixed:
        raise DecodeError("truncated neighbour discovery message")
    address = icmp[8:24] if kind == _ND_NA else source_ip
    want = _OPT_TARGET_LL if kind == _ND_NA else _OPT_SOURCE_LL
    pos = fixed
    while pos + 2 <= len(icmp):
        opt, units = icmp[pos], icmp[pos + 1]
        if units == 0:
            raise DecodeError("neighbour discovery option of length zero")
        if pos + 8 * units > len(icmp):
            raise DecodeError("truncated neighbour discovery option")
        if opt == want and units == 1:
            hw = icmp[pos + 2 : pos + 8]
            if is_unicast_mac(hw) and address != b"\x00" * 16:
                ip = ipv6(address)
                return [Evidence("ndp.ip", ip, mac=mac(hw), ip=ip)]
        pos += 8 * units
    return []
