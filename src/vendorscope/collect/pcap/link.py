"""Link layers → network layer: Ethernet (802.1Q, QinQ), Linux SLL/SLL2, raw IP, BSD loopback.

:func:`link_layer` answers the three things the extractor needs from a frame:
the protocol it carries (an EtherType, or :data:`LLC` for 802.2 frames such as
CDP), where that payload starts, the sender's MAC when the link layer names
one, and the VLAN tags on the way.
"""

from __future__ import annotations

from struct import unpack_from

from vendorscope.collect.pcap.errors import DecodeError

# Link types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
# DLT_RAW had other numbers on some BSDs; captures carry them as link types 12 and 14.
RAW_LINK_TYPES = frozenset({LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4, LINKTYPE_IPV6})
SUPPORTED_LINK_TYPES = frozenset(
    {LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_LOOP, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2} | RAW_LINK_TYPES
)

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
ETH_LLDP = 0x88CC
VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})
LLC = -2  # 802.3 length field: the payload is an 802.2 LLC frame
_SLL_LLC = 0x0004  # SLL protocol value for 802.2 LLC frames
_MAX_TAGS = 4
_BSD_AF_INET6 = frozenset({10, 24, 28, 30})  # AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, macOS

LinkInfo = tuple[int, int, bytes | None, tuple[int, ...]]
"""(ethertype or LLC, payload offset, source MAC or None, VLAN ids outer first)"""


def ethernet(data: bytes) -> LinkInfo:
    if len(data) < 14:
        raise DecodeError("truncated Ethernet header")
    ethertype = (data[12] << 8) | data[13]
    offset = 14
    vlans: tuple[int, ...] = ()
    while ethertype in VLAN_TPIDS:
        if len(data) < offset + 4 or len(vlans) >= _MAX_TAGS:
            raise DecodeError("truncated or too deeply nested VLAN tags")
        tci, ethertype = unpack_from("!HH", data, offset)
        vlans += (tci & 0x0FFF,)
        offset += 4
    if ethertype <= 1500:  # 802.3 length field
        ethertype = LLC
    return ethertype, offset, data[6:12], vlans


def linux_sll(data: bytes) -> LinkInfo:
    if len(data) < 16:
        raise DecodeError("truncated Linux cooked (SLL) header")
    _pkttype, hatype, addr_len, protocol = unpack_from("!HHH8xH", data, 0)
    mac = data[6:12] if hatype == 1 and addr_len == 6 else None
    return _sll_protocol(protocol), 16, mac, ()


def linux_sll2(data: bytes) -> LinkInfo:
    if len(data) < 20:
        raise DecodeError("truncated Linux cooked (SLL2) header")
    protocol, _reserved, _ifindex, hatype, _pkttype, addr_len = unpack_from("!HHIHBB", data, 0)
    mac = data[12:18] if hatype == 1 and addr_len == 6 else None
    return _sll_protocol(protocol), 20, mac, ()


def _sll_protocol(protocol: int) -> int:
    return LLC if protocol == _SLL_LLC else protocol


def raw_ip(data: bytes) -> LinkInfo:
    if not data:
        raise DecodeError("empty raw IP packet")
    version = data[0] >> 4
    if version == 4:
        return ETH_IPV4, 0, None, ()
    if version == 6:
        return ETH_IPV6, 0, None, ()
    raise DecodeError(f"raw IP packet of IP version {version}")


def bsd_loopback(data: bytes, big_endian: bool) -> LinkInfo:
    if len(data) < 4:
        raise DecodeError("truncated loopback header")
    family = int.from_bytes(data[:4], "big" if big_endian else "little")
    if family == 2:
        return ETH_IPV4, 4, None, ()
    if family in _BSD_AF_INET6:
        return ETH_IPV6, 4, None, ()
    if not big_endian and int.from_bytes(data[:4], "big") in (2, *_BSD_AF_INET6):
        # DLT_NULL is in the capturing host's byte order, which the file does not record.
        return bsd_loopback(data, True)
    raise DecodeError(f"loopback frame of address family {family}")


def link_layer(link_type: int, data: bytes) -> LinkInfo:
    """Decode the link-layer header of one frame."""
    if link_type == LINKTYPE_ETHERNET:
        return ethernet(data)
    if link_type in RAW_LINK_TYPES:
        return raw_ip(data)
    if link_type == LINKTYPE_LINUX_SLL:
        return linux_sll(data)
    if link_type == LINKTYPE_LINUX_SLL2:
        return linux_sll2(data)
    if link_type == LINKTYPE_NULL:
        return bsd_loopback(data, False)
    if link_type == LINKTYPE_LOOP:
        return bsd_loopback(data, True)
    raise DecodeError(f"unsupported link type {link_type}")
