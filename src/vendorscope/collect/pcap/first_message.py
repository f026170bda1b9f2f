"""The first message of each direction of a TCP connection: which protocol it is, and when
enough bytes have arrived to read it. What the bytes prove is the evidence modules' job.

Protocols are recognised by content, not by port, because devices serve
banners on any port; ports only break ties inside :mod:`vendorscope.evidence.greeting`
(a ``220`` greeting is FTP on 21 and SMTP on 25). Each :class:`FirstMessage`
says when enough bytes have arrived (``complete``), how many to wait for at
most, and which evidence module reads them (``parse``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from vendorscope.evidence import greeting, http, rtsp, sip, ssh, tls
from vendorscope.evidence.record import DecodeError, Evidence

MAX_HEADER_BLOCK = http.MAX_HEAD
_HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"OPTIONS ", b"DELETE ", b"PATCH ", b"CONNECT ")
_CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d{1,9})")
# Body bytes of an HTTP answer a capture keeps per flow: identifying answers (ISAPI XML,
# magicBox key=value, HiLink XML, Redfish roots) are a few KiB; bounded for memory (MAX_STREAMS flows).
PCAP_BODY = 16 * 1024
# Shortest prefix that can tell the protocols apart; fewer bytes wait for more.
MIN_CLASSIFY = 4


class FirstMessage(NamedTuple):
    name: str
    complete: Callable[[bytes], bool]
    parse: Callable[[bytes, int, int], list[Evidence]]
    max_bytes: int = MAX_HEADER_BLOCK


def _greeting(data: bytes, sport: int, dport: int) -> list[Evidence]:
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


def _tls_complete(data: bytes) -> bool:
    try:
        handshake, over = tls.handshake_bytes(data)
        leaf, done = tls.find_certificate(handshake)
    except DecodeError:
        return True
    return leaf is not None or done or over


HTTP_RESPONSE = FirstMessage("http-response", _response_complete, lambda d, s, p: http.response_evidence(d),
                             MAX_HEADER_BLOCK + PCAP_BODY)
HTTP_REQUEST = FirstMessage("http-request", _request_complete, lambda d, s, p: http.request_evidence(d))
# Heads and, for an answer with a length (DESCRIBE's SDP), the body: evidence/rtsp.py reads both.
RTSP_RESPONSE = FirstMessage("rtsp-response", _response_complete, lambda d, s, p: rtsp.response_evidence(d),
                             MAX_HEADER_BLOCK + rtsp.MAX_SDP)
RTSP_REQUEST = FirstMessage("rtsp-request", _request_complete, lambda d, s, p: rtsp.request_evidence(d))
# The line and the server's KEXINIT after it (the same or later segments; a server that sends
# none is read when its flow ends or a bound is reached): see evidence/ssh.py.
SSH = FirstMessage("ssh", ssh.stream_complete, lambda d, s, p: ssh.ssh_evidence(d), ssh.MAX_LINE + 8192)
GREETING = FirstMessage("greeting", greeting.greeting_complete, _greeting, greeting.MAX_READ)
TELNET = FirstMessage("telnet", greeting.telnet_complete, _greeting, greeting.MAX_READ)
SIP = FirstMessage("sip", _request_complete, lambda d, s, p: sip.parse_sip(d))
TLS_SERVER = FirstMessage("tls-server", _tls_complete, lambda d, s, p: tls.decode_server_flight(d)[0],
                          tls.MAX_HANDSHAKE)


def _is_request_line(data: bytes, methods: tuple[bytes, ...], version: bytes) -> bool:
    if not data.startswith(methods):
        return False
    line_end = data.find(b"\n", 0, 2048)
    line = data[:line_end] if line_end >= 0 else data[:2048]
    return version in line


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
