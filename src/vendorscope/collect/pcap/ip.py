"""Network and transport headers: IPv4, IPv6 (with extension headers), TCP and UDP.

The field offsets are named here once (RFC 791, 8200, 9293, 768); the
extractor's fast path reads the same fields inline for speed, by these names.
Every function takes the frame and the offset of its header, checks lengths,
and raises :class:`DecodeError` for a header it cannot read.
"""

from __future__ import annotations

from vendorscope.collect.pcap.errors import DecodeError

# IPv4 header (RFC 791), offsets from its start
V4_VERSION_IHL = 0
V4_TOTAL_LENGTH = 2
V4_FLAGS_FRAGMENT = 6  # 3 flag bits, 13 bits of fragment offset
V4_PROTOCOL = 9
V4_SRC = 12
V4_DST = 16
V4_MIN_HEADER = 20
# IPv6 header (RFC 8200)
V6_PAYLOAD_LENGTH = 4
V6_NEXT_HEADER = 6
V6_SRC = 8
V6_DST = 24
V6_HEADER = 40
_V6_EXTENSIONS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_V6_FRAGMENT = 44
_MAX_V6_EXTENSIONS = 8
# TCP header (RFC 9293)
TCP_SPORT = 0
TCP_DPORT = 2
TCP_SEQ = 4
TCP_DATA_OFFSET = 12  # high nibble: header length in 32-bit words
TCP_FLAGS = 13
TCP_MIN_HEADER = 20
FIN, SYN, RST = 0x01, 0x02, 0x04
# UDP header (RFC 768)
UDP_SPORT = 0
UDP_DPORT = 2
UDP_HEADER = 8
# IP protocol numbers
PROTO_TCP, PROTO_UDP, PROTO_ICMPV6 = 6, 17, 58


# (protocol, transport header offset, end of the packet, source address offset, address length
# 4 or 16; the destination address follows the source): a plain tuple, made for every packet.
IpHeader = tuple[int, int, int, int, int]


def ipv4(data: bytes, off: int) -> IpHeader | None:
    """The IPv4 header at ``off``; None for a later fragment (no transport header in it)."""
    if len(data) < off + V4_MIN_HEADER:
        raise DecodeError("truncated IPv4 header")
    vihl = data[off + V4_VERSION_IHL]
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < V4_MIN_HEADER:
        raise DecodeError("bad IPv4 header")
    if (data[off + V4_FLAGS_FRAGMENT] & 0x1F) or data[off + V4_FLAGS_FRAGMENT + 1]:
        return None
    end = min(off + ((data[off + V4_TOTAL_LENGTH] << 8) | data[off + V4_TOTAL_LENGTH + 1]), len(data))
    return data[off + V4_PROTOCOL], off + ihl, end, off + V4_SRC, 4


def ipv6(data: bytes, off: int) -> IpHeader | None:
    """The IPv6 header at ``off`` with its extension headers walked; None for a later fragment."""
    if len(data) < off + V6_HEADER:
        raise DecodeError("truncated IPv6 header")
    if data[off] >> 4 != 6:
        raise DecodeError("bad IPv6 header")
    end = min(off + V6_HEADER + ((data[off + V6_PAYLOAD_LENGTH] << 8) | data[off + V6_PAYLOAD_LENGTH + 1]),
              len(data))
    nxt = data[off + V6_NEXT_HEADER]
    l4 = off + V6_HEADER
    for _ in range(_MAX_V6_EXTENSIONS):
        if nxt in _V6_EXTENSIONS:
            if l4 + 8 > end:
                raise DecodeError("truncated IPv6 extension header")
            nxt, l4 = data[l4], l4 + (data[l4 + 1] + 1) * 8
        elif nxt == _V6_FRAGMENT:
            if l4 + 8 > end:
                raise DecodeError("truncated IPv6 fragment header")
            if (data[l4 + 2] << 8 | data[l4 + 3]) & 0xFFF8:
                return None
            nxt, l4 = data[l4], l4 + 8
        else:
            break
    return nxt, l4, end, off + V6_SRC, 16


def to_multicast(data: bytes, src: int, addr_len: int) -> bool:
    """Whether the destination (right after the source address at ``src``) is multicast or broadcast."""
    dst = src + addr_len
    if addr_len == 16:
        return data[dst] == 0xFF
    return data[dst] >= 224 or data[dst : dst + 4] == b"\xff\xff\xff\xff"


def tcp_payload_start(data: bytes, l4: int, end: int) -> int:
    """Where the TCP payload starts; raises DecodeError for a truncated header."""
    if end - l4 < TCP_MIN_HEADER:
        raise DecodeError("truncated TCP header")
    return l4 + (data[l4 + TCP_DATA_OFFSET] >> 4) * 4
