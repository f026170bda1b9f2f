"""SSDP (UPnP discovery): SERVER, USN and LOCATION of announcements and search answers,
and the USER-AGENT of searches."""

from __future__ import annotations

from vendorscope.collect.pcap.errors import DecodeError
from vendorscope.collect.pcap.facts import Fact, text

_MAX_HEADERS = 64


def http_headers(block: bytes) -> tuple[str, dict[str, list[str]]]:
    """(start line, lower-cased header name → values) of an HTTP-style header block."""
    lines = block.split(b"\n", _MAX_HEADERS + 1)[: _MAX_HEADERS + 1]
    if not lines:
        raise DecodeError("empty HTTP-style message")
    start = text(lines[0], 512)
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        line = line.rstrip(b"\r")
        if not line:
            break
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            continue
        headers.setdefault(name.strip().lower().decode("latin-1"), []).append(text(value))
    return start, headers


def decode_ssdp(payload: bytes) -> list[Fact]:
    if not payload.startswith((b"NOTIFY ", b"HTTP/1.", b"M-SEARCH ")):
        raise DecodeError("not an SSDP message")
    start, headers = http_headers(payload)
    facts: list[Fact] = []
    if start.startswith("M-SEARCH"):
        facts.extend(Fact("http.user_agent", v) for v in headers.get("user-agent", ()) if v)
        return facts
    if start.startswith("NOTIFY") and "ssdp:byebye" in headers.get("nts", [""])[0]:
        return facts
    facts.extend(Fact("upnp.server", v) for v in headers.get("server", ()) if v)
    facts.extend(Fact("ssdp.usn", v) for v in headers.get("usn", ()) if v)
    facts.extend(Fact("ssdp.location", v) for v in headers.get("location", ()) if v)
    return facts
