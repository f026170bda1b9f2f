"""mDNS / DNS-SD and LLMNR: host names with their addresses, service instances, TXT records.

Both speak DNS wire format; :func:`parse_dns` reads it with compression pointers
followed at most a few times, so a loop of pointers cannot hang the reader.
"""

from __future__ import annotations

from struct import unpack_from
from typing import NamedTuple

from vendorscope.evidence.record import DecodeError, Evidence, ipv4, ipv6, text

TYPE_A, TYPE_PTR, TYPE_TXT, TYPE_AAAA, TYPE_SRV = 1, 12, 16, 28, 33
PORTS = frozenset({5353})  # mDNS (UDP)
LLMNR_PORTS = frozenset({5355})  # LLMNR (UDP)
_MAX_RECORDS = 128
_MAX_JUMPS = 16
_MAX_NAME = 255
_MAX_TXT = 32


class Record(NamedTuple):
    name: str
    rtype: int
    data: bytes
    offset: int  # of the data in the message, for names inside it (PTR, SRV)


def read_name(msg: bytes, pos: int) -> tuple[str, int]:
    """A possibly compressed name at ``pos``; returns (name, offset after it)."""
    labels: list[str] = []
    end = -1
    jumps = 0
    length = 0
    while True:
        if pos >= len(msg):
            raise DecodeError("truncated DNS name")
        n = msg[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(msg):
                raise DecodeError("truncated DNS name pointer")
            jumps += 1
            if jumps > _MAX_JUMPS:
                raise DecodeError("DNS name pointer loop")
            if end < 0:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | msg[pos + 1]
            continue
        if n & 0xC0:
            raise DecodeError("bad DNS label type")
        label = msg[pos + 1 : pos + 1 + n]
        if len(label) != n:
            raise DecodeError("truncated DNS label")
        length += n + 1
        if length > _MAX_NAME:
            raise DecodeError("DNS name too long")
        labels.append(label.decode("utf-8", "replace"))
        pos += 1 + n
    return ".".join(labels), end if end >= 0 else pos


def parse_dns(msg: bytes) -> tuple[int, list[Record]]:
    """(flags, answer + authority + additional records); questions are skipped."""
    if len(msg) < 12:
        raise DecodeError("truncated DNS header")
    _id, flags, qd, an, ns, ar = unpack_from("!HHHHHH", msg)
    pos = 12
    for _ in range(min(qd, _MAX_RECORDS)):
        pos = read_name(msg, pos)[1] + 4
    records: list[Record] = []
    for _ in range(min(an + ns + ar, _MAX_RECORDS)):
        name, pos = read_name(msg, pos)
        if pos + 10 > len(msg):
            raise DecodeError("truncated DNS record")
        rtype, _cls, _ttl, rdlen = unpack_from("!HHIH", msg, pos)
        pos += 10
        if pos + rdlen > len(msg):
            raise DecodeError("truncated DNS record data")
        records.append(Record(name, rtype, msg[pos : pos + rdlen], pos))
        pos += rdlen
    return flags, records


def _host(name: str) -> str:
    """'cam-01.local' → 'cam-01': the device's own name without the link-local domain."""
    return name.removesuffix(".").removesuffix(".local").lower()


def _address_fact(kind: str, rec: Record) -> Evidence | None:
    if rec.rtype == TYPE_A and len(rec.data) == 4:
        addr = ipv4(rec.data)
    elif rec.rtype == TYPE_AAAA and len(rec.data) == 16:
        addr = ipv6(rec.data)
    else:
        return None
    return Evidence(kind, rec.name, ip=addr, hostname=_host(rec.name))


def decode_mdns(payload: bytes) -> list[Evidence]:
    """Responses and announcements (queries name what others look for, not the sender)."""
    flags, records = parse_dns(payload)
    if not flags & 0x8000:
        return []
    facts: list[Evidence] = []
    for rec in records:
        if rec.rtype in (TYPE_A, TYPE_AAAA):
            if fact := _address_fact("mdns.hostname", rec):
                facts.append(fact)
        elif rec.rtype == TYPE_PTR and not rec.name.startswith("_services."):
            # Service instance names carry the model and often the MAC ("AXIS M3045-V - ACCC8E…").
            target = read_name(payload, rec.offset)[0]
            if target.endswith(("._tcp.local", "._udp.local")) and not target.startswith("_"):
                facts.append(Evidence("mdns.service", target))
        elif rec.rtype == TYPE_TXT:
            pos, count = 0, 0
            while pos < len(rec.data) and count < _MAX_TXT:
                n = rec.data[pos]
                entry = rec.data[pos + 1 : pos + 1 + n]
                pos += 1 + n
                count += 1
                if b"=" in entry and (value := text(entry)):
                    facts.append(Evidence("mdns.txt", value))
    return facts


def decode_llmnr(payload: bytes) -> list[Evidence]:
    """LLMNR responses: the responder answers for its own name."""
    flags, records = parse_dns(payload)
    if not flags & 0x8000:
        return []
    return [f for rec in records if (f := _address_fact("llmnr.name", rec)) is not None]
