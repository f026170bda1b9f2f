"""NetBIOS name service: the names a Windows (or Samba, or camera) host registers for itself."""

from __future__ import annotations

from struct import unpack_from

from vendorscope.evidence.mdns import read_name
from vendorscope.evidence.record import DecodeError, Evidence, ipv4, text

_OP_REGISTRATION, _OP_REFRESH, _OP_REFRESH_ALT, _OP_MULTIHOMED = 5, 8, 9, 15
_NB, _NBSTAT = 0x20, 0x21
PORTS = frozenset({137})  # NetBIOS name service (UDP)
_UNIQUE_SUFFIXES = frozenset({0x00, 0x20})  # workstation and server service: the host's own name
_MAX_NAMES = 64


def decode_netbios_name(encoded: str) -> tuple[str, int]:
    """First-level decoding (RFC 1001 §14.1): 32 letters → 15-byte name + suffix."""
    label = encoded.split(".", 1)[0]
    if len(label) != 32 or not all("A" <= c <= "P" for c in label.upper()):
        raise DecodeError("bad NetBIOS name encoding")
    label = label.upper()
    raw = bytes(((ord(label[i]) - 65) << 4) | (ord(label[i + 1]) - 65) for i in range(0, 32, 2))
    return text(raw[:15].rstrip(b" ")), raw[15]


def _name_fact(name: str, suffix: int, group: bool) -> Evidence | None:
    if group or suffix not in _UNIQUE_SUFFIXES or not name or name.startswith(("*", "\x01")):
        return None
    return Evidence("nbns.name", name, hostname=name.lower())


def decode_nbns(payload: bytes) -> list[Evidence]:
    """Registrations and refreshes (the sender's own names) and node-status answers."""
    if len(payload) < 12:
        raise DecodeError("truncated NBNS header")
    _tid, flags, qd, an, _ns, ar = unpack_from("!HHHHHH", payload)
    opcode, is_response = (flags >> 11) & 0xF, bool(flags & 0x8000)
    pos = 12
    facts: list[Evidence] = []
    if not is_response and opcode in (_OP_REGISTRATION, _OP_REFRESH, _OP_REFRESH_ALT, _OP_MULTIHOMED):
        if qd < 1 or ar < 1:
            return []
        encoded, pos = read_name(payload, pos)
        name, suffix = decode_netbios_name(encoded)
        pos += 4  # question type and class
        _rname, pos = read_name(payload, pos)
        if pos + 12 > len(payload):
            raise DecodeError("truncated NBNS registration record")
        nb_flags = unpack_from("!H", payload, pos + 10)[0]
        address = payload[pos + 12 : pos + 16]
        fact = _name_fact(name, suffix, bool(nb_flags & 0x8000))
        if fact is not None:
            facts.append(fact._replace(ip=ipv4(address)) if len(address) == 4 else fact)
        return facts
    if is_response and opcode == 0 and an >= 1:
        for _ in range(qd):
            pos = read_name(payload, pos)[1] + 4
        _rname, pos = read_name(payload, pos)
        if pos + 10 > len(payload):
            raise DecodeError("truncated NBNS answer")
        rtype, _cls, _ttl, rdlen = unpack_from("!HHIH", payload, pos)
        pos += 10
        data = payload[pos : pos + rdlen]
        if len(data) != rdlen:
            raise DecodeError("truncated NBNS answer data")
        if rtype == _NBSTAT and data:
            # Node status: the responder lists its own names (18 bytes each).
            for i in range(min(data[0], _MAX_NAMES)):
                entry = data[1 + 18 * i : 19 + 18 * i]
                if len(entry) < 18:
                    raise DecodeError("truncated NBNS node status name")
                fact = _name_fact(text(entry[:15].rstrip(b" ")), entry[15], bool(entry[16] & 0x80))
                if fact is not None:
                    facts.append(fact)
        elif rtype == _NB:
            name, suffix = decode_netbios_name(_rname)
            for i in range(0, len(data) - 5, 6):
                fact = _name_fact(name, suffix, bool(data[i] & 0x80))
                if fact is not None:
                    facts.append(fact._replace(ip=ipv4(data[i + 2 : i + 6])))
    return facts
