"""HTTP (and the RTSP/SIP/SSDP heads that share its syntax): Server, WWW-Authenticate and its
realm, User-Agent, the page title, the favicon hash. One extraction for every source.

Title: the text of the first ``<title>`` within the first 64 KiB of the body,
HTML entities unescaped, whitespace collapsed, controls dropped, cut at
:data:`MAX_TITLE` characters. A title a scanner already extracted goes through
:func:`title_text`, the same unescaping and cap.

Favicon hash: the Shodan convention, MurmurHash3 (x86, 32-bit, seed 0, signed)
of the base64 encoding of the icon with a newline every 76 characters
(``mmh3.hash(base64.encodebytes(icon))``), as a decimal string: the number
fingerprint collections and internet-scan data publish.

Body (``http.body``): the first :data:`BODY_CAP` bytes of a response body, after
de-chunking and ``Content-Encoding`` gzip/deflate (inflated output bounded to
:data:`BODY_CAP`, so a compression bomb costs at most that), decoded in the
charset the answer names (UTF-8, then Latin-1, when it names none or a wrong
one), NULs and control characters other than newline and tab dropped. A body whose
Content-Type says it is media (``image/``, ``audio/``, ``video/``, ``font/``) gives none: its
bytes are not text a rule could read (a capture of a keep-alive connection holds the icons and
pictures a page loads, each would be a body of mojibake). The
request path that produced it goes into the context: the same bytes mean
different things under ``/ISAPI/System/deviceInfo`` and ``/``. Every source
(probe, pcap, scan data) goes through :func:`body_evidence`.
"""

from __future__ import annotations

import base64
import codecs
import html
import re
import zlib
from collections.abc import Iterable

from vendorscope.evidence.record import DecodeError, Evidence, text

PORTS = frozenset({80, 81, 88, 5000, 7547, 8000, 8008, 8080, 8081, 8888, 37215, 49152, 52869})  # 7547: TR-069
TLS_PORTS = frozenset({443, 4443, 7443, 8443, 9443, 10443})  # HTTPS
MAX_TITLE = 256
MAX_HEADER_VALUE = 1024
TITLE_SCAN = 64 * 1024
MAX_HEAD = 16 * 1024
_MAX_HEADERS = 64
BODY_CAP = 64 * 1024  # bytes of a body kept (after decompression) and characters of http.body
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_REALM = re.compile(r'realm\s*=\s*(?:"([^"]*)"|([^\s,]+))', re.I)
_SPACE = re.compile(r"\s+")
_STATUS = re.compile(r"^HTTP/\d\.\d +(\d{3})")
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I)
_MEDIA_TYPES = ("image/", "audio/", "video/", "font/")  # not text: no http.body (see the module docstring)


def header_end(data: bytes) -> int:
    """Where the body starts (after the blank line), or -1 when the head is not complete."""
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        return end + 4
    end = data.find(b"\n\n")
    return end + 2 if end >= 0 else -1


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
        headers.setdefault(name.strip().lower().decode("latin-1"), []).append(text(value, MAX_HEADER_VALUE))
    return start, headers


def realm_of(challenge: str) -> str | None:
    """The realm of a WWW-Authenticate challenge, or None."""
    m = _REALM.search(challenge)
    if m is None:
        return None
    return m.group(1) if m.group(1) is not None else m.group(2)


def header_value(value: str) -> str:
    """A header value as every source keeps it: controls dropped, trimmed, capped."""
    return "".join(ch for ch in value if ch >= " " and ch != "\x7f").strip()[:MAX_HEADER_VALUE]


def response_headers_evidence(headers: Iterable[tuple[str, str]], protocol: str = "http") -> list[Evidence]:
    """Server and WWW-Authenticate (with its realm) of an HTTP or RTSP answer."""
    out: list[Evidence] = []
    for name, raw in headers:
        lower = name.strip().lower()
        value = header_value(raw)
        if not value:
            continue
        if lower == "server":
            out.append(Evidence(f"{protocol}.server", value))
        elif lower == "www-authenticate":
            realm = realm_of(value)
            out.append(Evidence(f"{protocol}.www_authenticate", value, context={"realm": realm} if realm else None))
    return out


def request_headers_evidence(headers: Iterable[tuple[str, str]], protocol: str = "http") -> list[Evidence]:
    """The User-Agent a client sends (devices name themselves in it)."""
    return [Evidence(f"{protocol}.user_agent", v) for name, raw in headers
            if name.strip().lower() == "user-agent" and (v := header_value(raw))]


def _pairs(headers: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(name, v) for name, values in headers.items() for v in values]


def response_evidence(data: bytes, protocol: str = "http", path: str | None = None) -> list[Evidence]:
    """Evidence of the start of an HTTP/RTSP answer: its head, and for HTTP the page title and the body
    (with ``path``, the target of the request it answers, when known)."""
    end = header_end(data)
    start_line, headers = http_headers(data[: end if end >= 0 else MAX_HEAD])
    out = response_headers_evidence(_pairs(headers), protocol)
    if protocol == "http" and end >= 0:
        charset = next((m.group(1).decode("ascii") for v in headers.get("content-type", ())
                        if (m := _CHARSET.search(v.encode("latin-1", "replace")))), None)
        found = title(data[end:], charset)
        if found:
            out.append(Evidence("http.title", found))
        status = _STATUS.match(start_line)
        body = body_evidence(data[end:], _pairs(headers), path, int(status.group(1)) if status else None)
        if body is not None:
            out.append(body)
    return out


def dechunk(raw: bytes, cap: int = BODY_CAP) -> bytes:
    """The payload of a chunked body (RFC 9112 section 7.1), up to ``cap`` bytes; what arrived when cut short."""
    out = bytearray()
    pos = 0
    while len(out) < cap:
        line_end = raw.find(b"\n", pos, pos + 1024)
        if line_end < 0:
            break
        try:
            size = int(raw[pos:line_end].split(b";")[0].strip() or b"x", 16)
        except ValueError:
            break
        if size <= 0:
            break
        start = line_end + 1
        out += raw[start : start + min(size, cap - len(out))]
        pos = start + size + 2  # the chunk's CRLF
        if pos > len(raw):
            break
    return bytes(out[:cap])


def inflate(raw: bytes, encoding: str, cap: int = BODY_CAP) -> bytes | None:
    """A gzip/deflate body inflated to at most ``cap`` bytes; the bytes as they are for identity; None otherwise.

    Output is bounded (``max_length``): a small bomb never becomes more than ``cap`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw[:cap]
    if encoding in ("gzip", "x-gzip"):
        waits = [16 + zlib.MAX_WBITS]
    elif encoding == "deflate":  # zlib-wrapped per the RFC; raw deflate in practice too
        waits = [zlib.MAX_WBITS, -zlib.MAX_WBITS]
    else:
        return None
    for wbits in waits:
        try:
            out = zlib.decompressobj(wbits).decompress(raw, cap)
        except zlib.error:
            continue
        return out[:cap]
    return None


def body_text(raw: bytes, charset: str | None = None) -> str:
    """Body bytes as text: the named charset when Python knows it and it decodes, else UTF-8, else Latin-1."""
    for name in (charset, "utf-8"):
        if not name:
            continue
        try:
            decoded = raw.decode(codecs.lookup(name).name)
            break
        except (LookupError, UnicodeDecodeError):
            continue
    else:
        decoded = raw.decode("latin-1")
    return _BODY_CONTROL.sub("", decoded.replace("\r\n", "\n"))[:BODY_CAP]


def _header(headers: Iterable[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.strip().lower() == name), "")


def body_bytes(raw: bytes, headers: Iterable[tuple[str, str]], *, chunked_done: bool = False) -> bytes | None:
    """An answer's body as its sender meant it: de-chunked, inflated (at most :data:`BODY_CAP` bytes);
    None when its Content-Encoding cannot be read."""
    pairs = list(headers)
    if not chunked_done and "chunked" in _header(pairs, "transfer-encoding").lower():
        raw = dechunk(raw, 4 * BODY_CAP)
    return inflate(raw[: 4 * BODY_CAP], _header(pairs, "content-encoding").split(",")[-1])


def body_evidence(raw: bytes, headers: Iterable[tuple[str, str]], path: str | None = None,
                  status: int | None = None, *, chunked_done: bool = False) -> Evidence | None:
    """``http.body`` of an answer's body bytes (as they came on the wire, unless ``chunked_done``), or None.

    ``headers`` are the answer's (name, value) pairs: Transfer-Encoding,
    Content-Encoding and the Content-Type charset say how to read the bytes."""
    pairs = list(headers)
    if _header(pairs, "content-type").strip().lower().startswith(_MEDIA_TYPES):
        return None
    body = body_bytes(raw, pairs, chunked_done=chunked_done)
    if not body:
        return None
    content_type = header_value(_header(pairs, "content-type"))
    m = _CHARSET.search(content_type.encode("latin-1", "replace")) or _CHARSET.search(body[:2048])
    value = body_text(body, m.group(1).decode("ascii", "replace") if m else None).strip()
    if not value:
        return None
    context = {"path": header_value(path)[:512] if path else None, "status": status,
               "content_type": content_type[:128] or None, "bytes": len(body)}
    return Evidence("http.body", value, context={k: v for k, v in context.items() if v is not None})


def request_target(data: bytes) -> tuple[str, str] | None:
    """(method, target) of an HTTP/RTSP request line (``GET /ISAPI/System/deviceInfo HTTP/1.1``), or None.

    The target is kept as sent (controls dropped, capped): it is the ``path`` a body's context names."""
    line_end = data.find(b"\n", 0, MAX_HEAD)
    parts = (data[:line_end] if line_end >= 0 else data[:MAX_HEAD]).rstrip(b"\r").split(b" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        return None
    return parts[0].decode("latin-1")[:16], header_value(parts[1].decode("latin-1"))[:512]


def request_evidence(data: bytes, protocol: str = "http") -> list[Evidence]:
    end = header_end(data)
    _start, headers = http_headers(data[: end if end >= 0 else MAX_HEAD])
    return request_headers_evidence(_pairs(headers), protocol)


def title_text(raw: str) -> str | None:
    """A title as text: entities unescaped, whitespace collapsed, controls dropped, capped."""
    collapsed = _SPACE.sub(" ", html.unescape(raw)).strip()
    return "".join(ch for ch in collapsed if ch >= " " and ch != "\x7f")[:MAX_TITLE] or None


def title(body: bytes, charset: str | None = None) -> str | None:
    """The page title of an HTML body (see the module docstring), or None."""
    window = body[:TITLE_SCAN]
    lower = window.lower()
    start = lower.find(b"<title")
    if start < 0:
        return None
    open_end = lower.find(b">", start)
    if open_end < 0:
        return None
    close = lower.find(b"</title", open_end)
    raw = window[open_end + 1 : close if close >= 0 else open_end + 1 + 512]
    if charset is None and (m := _CHARSET.search(body[:2048])):
        charset = m.group(1).decode("ascii", "replace")
    try:
        decoded = raw.decode(charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        decoded = raw.decode("utf-8", "replace")
    return title_text(decoded)


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit, signed like ``mmh3.hash``."""
    mask = 0xFFFFFFFF
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & mask
    length = len(data)
    tail_start = length - (length & 3)
    for i in range(0, tail_start, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    k = 0
    rest = length & 3
    if rest == 3:
        k ^= data[tail_start + 2] << 16
    if rest >= 2:
        k ^= data[tail_start + 1] << 8
    if rest >= 1:
        k ^= data[tail_start]
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h - 0x100000000 if h & 0x80000000 else h


def favicon_hash(icon: bytes) -> str:
    """Shodan's favicon hash: mmh3 of the MIME-style base64 of the icon."""
    return str(murmur3_32(base64.encodebytes(icon)))
