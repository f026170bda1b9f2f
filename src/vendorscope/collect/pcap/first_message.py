"""The first message of each direction of a TCP connection: which protocol it is, and when
enough bytes have arrived to read it. What the bytes prove is the evidence modules' job.

HTTP and RTSP are read message after message on one connection (a client asks several paths
over one keep-alive connection; RTSP asks OPTIONS, then DESCRIBE): their :class:`FirstMessage`
also says how long a whole message is (``length``), so :mod:`.tcp` can cut the bytes into
messages, and whether it is a request or the answer to one (``role``), so each answer is read
with the target of the request it answers. A message whose end cannot be told cheaply (no
length, runs to the close, longer than ``max_bytes``) is read as the first message always
was, and ends the reading of its direction.

Protocols are recognised by content, not by port, because devices serve
banners on any port; ports only break ties inside :mod:`vendorscope.evidence.greeting`
(a ``220`` greeting is FTP on 21 and SMTP on 25). Each :class:`FirstMessage`
says when enough bytes have arrived (``complete``), how many to wait for at
most, and which evidence module reads them (``parse``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import NamedTuple, Protocol

from vendorscope.evidence import greeting, http, onvif, rtsp, sip, ssh, tls, upnp
from vendorscope.evidence.record import DecodeError, Evidence

MAX_HEADER_BLOCK = http.MAX_HEAD
_HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"OPTIONS ", b"DELETE ", b"PATCH ", b"CONNECT ")
_CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d{1,9})")
# Body bytes of an HTTP answer a capture keeps per flow: identifying answers (ISAPI XML,
# magicBox key=value, HiLink XML, Redfish roots) are a few KiB; bounded for memory (MAX_STREAMS flows).
PCAP_BODY = 16 * 1024
# Shortest prefix that can tell the protocols apart; fewer bytes wait for more.
MIN_CLASSIFY = 4
# What ``FirstMessage.length`` answers besides a length: wait for more bytes; or the end of this
# message cannot be told (no length, longer than the bound, damaged framing), so it is the last read.
NEED_MORE, UNFOLLOWABLE = 0, -1
REQUEST, RESPONSE = "request", "response"
# Anchored at a line start ("x-content-length" is not the length); the head is lower-cased first.
_FRAMING_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d{1,9})[ \t]*\r?\n")
_FRAMING_CHUNKED = re.compile(rb"\ntransfer-encoding:[^\n]*chunked")
_NO_BODY_STATUS = re.compile(rb"^[a-z]{4}/\d\.\d +(?:1\d\d|204|304)\b")
_CHUNK_LINE = 1024  # longest chunk-size line (with extensions) or trailer line looked at


class Parse(Protocol):
    def __call__(self, data: bytes, sport: int, dport: int, path: str | None = None) -> list[Evidence]: ...


class FirstMessage(NamedTuple):
    name: str
    complete: Callable[[bytes], bool]
    parse: Parse  # ``path``: for an answer, the target of the request it answers (when the capture holds it)
    max_bytes: int = MAX_HEADER_BLOCK
    # Protocols read message after message: the whole message's length at the start of the bytes
    # (NEED_MORE, UNFOLLOWABLE), given the method of the request it answers; and REQUEST or RESPONSE.
    length: Callable[[bytes, str | None], int] | None = None
    role: str = ""


def _greeting(data: bytes, sport: int, dport: int, path: str | None = None) -> list[Evidence]:
    found = greeting.classify(sport, data)
    return [found] if found is not None else []


def _request_complete(data: bytes) -> bool:
    return http.header_end(data) >= 0 or len(data) >= MAX_HEADER_BLOCK


def _response_complete(data: bytes) -> bool:
    """Headers and the body up to :data:`PCAP_BODY` bytes (bounded per flow; fewer when the answer is shorter).

    The end of the flow (FIN), the segment cap of :mod:`.tcp` and ``max_bytes``
    end the wait too, so an answer without a length costs at most that."""
    end = http.header_end(data)
    if end < 0:
        return len(data) >= MAX_HEADER_BLOCK
    head = data[:end].lower()
    body = data[end:]
    if len(body) >= PCAP_BODY:
        return True
    if b"transfer-encoding: chunked" in head:
        return b"\r\n0\r\n" in body[-64:] or body.startswith(b"0\r\n")
    m = _CONTENT_LENGTH.search(head)
    if m is not None:
        return len(body) >= int(m.group(1))
    # No length: the body runs to the close. Waiting for it could hold every such flow to the
    # end of the capture, so only an HTML page's title is waited for (what arrived is kept).
    return b"text/html" not in head or b"</title" in body.lower() or len(body) >= 4096


def chunked_length(data: bytes, start: int, limit: int) -> int:
    """Where a chunked body that begins at ``start`` ends (after its last chunk and trailers, RFC 9112
    section 7.1), NEED_MORE, or UNFOLLOWABLE when it is damaged or would end past ``limit``."""
    pos = start
    while True:
        line_end = data.find(b"\n", pos, pos + _CHUNK_LINE)
        if line_end < 0:
            return NEED_MORE if len(data) - pos < _CHUNK_LINE else UNFOLLOWABLE
        size_text = data[pos:line_end].split(b";")[0].strip()
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
            return UNFOLLOWABLE
        size = int(size_text[:8], 16) if len(size_text) <= 8 else limit + 1
        if size == 0:
            return _trailers_end(data, line_end + 1, limit)
        pos = line_end + 1 + size + 2  # the chunk and its CRLF
        if pos > limit:
            return UNFOLLOWABLE
        if pos > len(data):
            return NEED_MORE


def _trailers_end(data: bytes, pos: int, limit: int) -> int:
    """After the last chunk: trailer lines up to an empty one."""
    while pos <= limit:
        line_end = data.find(b"\n", pos, pos + _CHUNK_LINE)
        if line_end < 0:
            return NEED_MORE if len(data) - pos < _CHUNK_LINE else UNFOLLOWABLE
        if line_end == pos or data[pos:line_end] == b"\r":
            return line_end + 1
        pos = line_end + 1
    return UNFOLLOWABLE


def _message_length(data: bytes, limit: int, no_body: bool, body_to_close: bool) -> int:
    """Length of the HTTP-style message at the start of ``data``: head, then the body its
    Content-Length or chunked encoding delimits; UNFOLLOWABLE past ``limit``."""
    end = http.header_end(data)
    if end < 0:
        return UNFOLLOWABLE if len(data) >= MAX_HEADER_BLOCK else NEED_MORE
    if end > MAX_HEADER_BLOCK:
        return UNFOLLOWABLE
    head = data[: end].lower()
    if no_body or _NO_BODY_STATUS.match(head):
        return end
    if _FRAMING_CHUNKED.search(head):
        return chunked_length(data, end, limit)
    m = _FRAMING_LENGTH.search(head)
    if m is None:
        # An answer without a length runs to the close (HTTP); a request without one has no body.
        return UNFOLLOWABLE if body_to_close else end
    total = end + int(m.group(1))
    return total if total <= limit else UNFOLLOWABLE


def _http_response_length(data: bytes, method: str | None) -> int:
    return _message_length(data, MAX_HEADER_BLOCK + PCAP_BODY, method == "HEAD", True)


def _http_request_length(data: bytes, method: str | None) -> int:
    return _message_length(data, MAX_HEADER_BLOCK, False, False)


def _rtsp_response_length(data: bytes, method: str | None) -> int:
    # RTSP has a body only with Content-Length (RFC 2326 section 4.3); never chunked.
    return _message_length(data, MAX_HEADER_BLOCK + rtsp.MAX_SDP, False, False)


# Answers whose body is a device document the probe also reads (collect/probe/http.py): ONVIF
# GetDeviceInformation and a UPnP device description. Told by their XML, not by the path asked, so
# a control point fetching a description from wherever SSDP said is read too.
_ONVIF_INFO, _UPNP_DEVICE = b"GetDeviceInformationResponse", b"urn:schemas-upnp-org:device-1-0"


# The icon the probe hashes (collect/probe/http.py _favicon): /favicon.ico, or a body typed as an icon.
_ICON_TYPE = re.compile(rb"\ncontent-type:[ \t]*image/(?:x-icon|vnd\.microsoft\.icon)", re.I)


def _http_response(data: bytes, sport: int, dport: int, path: str | None = None) -> list[Evidence]:
    found = http.response_evidence(data, "http", path)
    if _ONVIF_INFO in data or _UPNP_DEVICE in data:
        found += _device_document(data)
    if path is not None and (path.split("?")[0].lower().endswith("/favicon.ico")
                             or _ICON_TYPE.search(data, 0, max(http.header_end(data), 0))):
        found += _favicon(data)
    return found


def _favicon(data: bytes) -> list[Evidence]:
    """``http.favicon_hash`` of a whole 200 answer that is not a page, as the probe records it (sha256, size)."""
    end = http.header_end(data)
    if end < 0 or not data.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")) or b"text/html" in data[:end].lower():
        return []
    if _http_response_length(data, None) != len(data):
        return []  # cut by the capture's body bound or a lost segment: a part of an icon hashes to nothing real
    _start, headers = http.http_headers(data[:end])
    icon = http.body_bytes(data[end:], [(name, v) for name, values in headers.items() for v in values])
    if not icon:
        return []
    return [Evidence("http.favicon_hash", http.favicon_hash(icon),
                     context={"sha256": hashlib.sha256(icon).hexdigest(), "size": len(icon)})]


def _device_document(data: bytes) -> list[Evidence]:
    """onvif.* or upnp.* of a 200 answer whose body is a GetDeviceInformationResponse or a device description."""
    end = http.header_end(data)
    if end < 0 or not data.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
        return []
    _start, headers = http.http_headers(data[:end])
    body = http.body_bytes(data[end:], [(name, v) for name, values in headers.items() for v in values])
    if not body:
        return []
    if _ONVIF_INFO in body:
        return onvif.device_information_evidence(onvif.parse_device_information(body))
    return upnp.description_evidence(upnp.parse_description(body))


def _tls_complete(data: bytes) -> bool:
    try:
        handshake, over = tls.handshake_bytes(data)
        leaf, done = tls.find_certificate(handshake)
    except DecodeError:
        return True
    return leaf is not None or done or over


HTTP_RESPONSE = FirstMessage("http-response", _response_complete, _http_response, MAX_HEADER_BLOCK + PCAP_BODY,
                             _http_response_length, RESPONSE)
HTTP_REQUEST = FirstMessage("http-request", _request_complete, lambda d, s, p, path=None: http.request_evidence(d),
                            MAX_HEADER_BLOCK, _http_request_length, REQUEST)
# Heads and, for an answer with a length (DESCRIBE's SDP), the body: evidence/rtsp.py reads both.
RTSP_RESPONSE = FirstMessage("rtsp-response", _response_complete,
                             lambda d, s, p, path=None: rtsp.response_evidence(d),
                             MAX_HEADER_BLOCK + rtsp.MAX_SDP, _rtsp_response_length, RESPONSE)
RTSP_REQUEST = FirstMessage("rtsp-request", _request_complete, lambda d, s, p, path=None: rtsp.request_evidence(d),
                            MAX_HEADER_BLOCK, _http_request_length, REQUEST)
# The line and the server's KEXINIT after it (the same or later segments; a server that sends
# none is read when its flow ends or a bound is reached): see evidence/ssh.py.
SSH = FirstMessage("ssh", ssh.stream_complete, lambda d, s, p, path=None: ssh.ssh_evidence(d), ssh.MAX_LINE + 8192)
GREETING = FirstMessage("greeting", greeting.greeting_complete, _greeting, greeting.MAX_READ)
TELNET = FirstMessage("telnet", greeting.telnet_complete, _greeting, greeting.MAX_READ)
SIP = FirstMessage("sip", _request_complete, lambda d, s, p, path=None: sip.parse_sip(d))
TLS_SERVER = FirstMessage("tls-server", _tls_complete, lambda d, s, p, path=None: tls.decode_server_flight(d)[0],
                          tls.MAX_HANDSHAKE)


def _is_request_line(data: bytes, methods: tuple[bytes, ...], version: bytes) -> bool:
    if not data.startswith(methods):
        return False
    line_end = data.find(b"\n", 0, 2048)
    line = data[:line_end] if line_end >= 0 else data[:2048]
    return version in line


_ANSWER_STARTS = (b"HTTP/1.", b"RTSP/1.", b"SIP/2.0 ")


def undecided(data: bytes) -> bool:
    """True when :func:`classify` cannot tell yet what ``data`` is, so more bytes are waited for: a
    request whose line has not arrived whole (``GET /ISAPI/Sy``), or the first bytes of an answer's
    start line (``HTTP``)."""
    if len(data) < 8 and any(start.startswith(data) for start in _ANSWER_STARTS):
        return True
    return data.startswith(_HTTP_METHODS + rtsp.METHODS + sip.METHODS) and data.find(b"\n", 0, 2048) < 0 \
        and len(data) < 2048


def classify(data: bytes, sport: int, dport: int) -> FirstMessage | None:
    """The first message this direction starts with, or None if it is nothing we read."""
    head = data[:8]
    if head.startswith(b"SSH-"):
        return SSH
    if head.startswith(b"HTTP/1."):
        return HTTP_RESPONSE
    if head.startswith(b"RTSP/1."):
        return RTSP_RESPONSE
    if head[:1] == b"\x16":
        return TLS_SERVER if len(data) >= 6 and tls.looks_like_tls(data) and data[5] == tls.HS_SERVER_HELLO else None
    if head.startswith((b"220", b"+OK", b"* OK")):
        return GREETING
    if data[:1] == b"\xff" or (sport in greeting.TELNET_PORTS and data[:1].isascii()):
        return TELNET
    if head.startswith(_HTTP_METHODS + rtsp.METHODS + sip.METHODS):
        if _is_request_line(data, _HTTP_METHODS, b" HTTP/1."):
            return HTTP_REQUEST
        if _is_request_line(data, rtsp.METHODS, b" RTSP/1."):
            return RTSP_REQUEST
        if sip.is_sip(data):
            return SIP
        return None
    if head.startswith(b"SIP/2.0 "):
        return SIP
    return None
