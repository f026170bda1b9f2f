"""What a protocol decoder finds: a kind, a value, and the device keys the bytes themselves state."""

from __future__ import annotations

import socket
from typing import NamedTuple

MAX_VALUE = 1024  # longer values are cut: banners are attacker-controlled


class Fact(NamedTuple):
    """One piece of evidence from one frame.

    ``mac``/``ip``/``hostname``/``serial`` are set only when the protocol's
    content binds the fact to that key (the sender MAC in an ARP packet, the
    client MAC of a DHCP request). The extractor adds the keys that come from
    the packet headers according to what the protocol allows (see extract.py).
    """

    kind: str
    value: str
    mac: str | None = None
    ip: str | None = None
    hostname: str | None = None
    serial: str | None = None
    third_party: bool = False  # describes another device than the sender: use only these keys


def text(raw: bytes, limit: int = MAX_VALUE) -> str:
    """Bytes from the wire as a clean one-value string: UTF-8 (lossy), no NULs, trimmed, bounded."""
    s = raw[: limit * 2].decode("utf-8", "replace").replace("\x00", "").strip()
    return s[:limit]


def ipv4(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, raw)


def ipv6(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


def mac(raw: bytes) -> str:
    return raw.hex(":")


def is_unicast_mac(raw: bytes) -> bool:
    """Not multicast/broadcast and not all zeroes: a MAC that can name one interface."""
    return len(raw) == 6 and not raw[0] & 1 and raw != b"\x00" * 6


def is_printable(raw: bytes) -> bool:
    return all(32 <= b < 127 for b in raw)


def hex_or_text(raw: bytes) -> str:
    """Identifiers that may be text or binary (LLDP chassis ids, DHCP client ids)."""
    return text(raw) if raw and is_printable(raw) else raw.hex(":")
