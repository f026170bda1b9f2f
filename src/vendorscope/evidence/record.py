"""The one record a protocol module returns: a kind, a value, its context, and the keys the
bytes themselves state. pcap, probe and the importers all turn it into an Observation.

Also the text helpers every protocol module shares: values from the wire are
hostile, so they are decoded leniently, stripped of control characters and cut.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from typing import Any, NamedTuple

MAX_VALUE = 1024  # longer values are cut: banners are attacker-controlled
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class DecodeError(ValueError):
    """A protocol module met bytes it cannot parse; the message names what ("truncated LLDP TLV")."""


class Evidence(NamedTuple):
    """One piece of evidence before it becomes an Observation.

    ``context`` carries what the protocol adds to the value (a certificate's
    serial and validity, the port, the NSE script). ``mac``/``ip``/``hostname``/
    ``serial`` are set only when the protocol's content binds the evidence to
    that key (the sender MAC in an ARP packet, the client MAC of a DHCP
    request); the source adds the keys its transport knows (packet headers,
    the probed address, the import row).
    """

    kind: str
    value: str
    mac: str | None = None
    ip: str | None = None
    hostname: str | None = None
    serial: str | None = None
    third_party: bool = False  # describes another device than the sender: use only these keys
    context: Mapping[str, Any] | None = None


def text(raw: bytes, limit: int = MAX_VALUE) -> str:
    """Bytes from the wire as a clean one-value string: UTF-8 (lossy), no NULs, trimmed, bounded."""
    s = raw[: limit * 2].decode("utf-8", "replace").replace("\x00", "").strip()
    return s[:limit]


def clean_text(data: bytes, limit: int = MAX_VALUE) -> str:
    """Printable multi-line text: UTF-8 (Latin-1 when not), newlines kept, controls and blank lines dropped."""
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        decoded = data.decode("latin-1")
    decoded = _CONTROL.sub("", decoded.replace("\r\n", "\n").replace("\r", "\n"))
    lines = (line.strip() for line in decoded.split("\n"))
    return "\n".join(line for line in lines if line)[:limit]


def clean_str(value: str, limit: int = MAX_VALUE) -> str:
    """:func:`clean_text` for a value that arrived as text (an import field)."""
    return clean_text(value.encode("utf-8", "replace"), limit)


def ipv4(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, raw)


def ipv6(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


def mac(raw: bytes) -> str:
    return raw.hex(":")


_MAC_SEPARATORS = str.maketrans("", "", ":-. ")
_HEX = frozenset("0123456789abcdefABCDEF")


def mac_from_text(text: str | None) -> str | None:
    """A MAC written in any common notation (``58-50-ED-1F-E3-85``, ``5850.ed1f.e385``, bare hex) as
    ``58:50:ed:1f:e3:85``; None when it is not one. The one reader of MACs that data spells out."""
    if not text:
        return None
    digits = text.strip().translate(_MAC_SEPARATORS)
    if len(digits) != 12 or not _HEX.issuperset(digits):
        return None
    return bytes.fromhex(digits).hex(":")


def is_unicast_mac(raw: bytes) -> bool:
    """Not multicast/broadcast and not all zeroes: a MAC that can name one interface."""
    return len(raw) == 6 and not raw[0] & 1 and raw != b"\x00" * 6


def is_printable(raw: bytes) -> bool:
    return all(32 <= b < 127 for b in raw)


def hex_or_text(raw: bytes) -> str:
    """Identifiers that may be text or binary (LLDP chassis ids, DHCP client ids)."""
    return text(raw) if raw and is_printable(raw) else raw.hex(":")
