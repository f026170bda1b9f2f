"""The first message of each direction of a TCP connection: SSH, HTTP, RTSP, FTP, SMTP and
Telnet banners, TLS server handshakes; and SIP messages (UDP or TCP).

Protocols are recognised by content, not by port, because devices serve
banners on any port; ports only break ties (a ``220`` greeting is FTP on 21
and SMTP on 25). Each :class:`FirstMessage` says when enough bytes have
arrived (``complete``) and what they prove (``parse``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from vendorscope.collect.banners import strip_telnet
from vendorscope.collect.pcap import tls
from vendorscope.collect.pcap.errors import DecodeError
from vendorscope.collect.pcap.facts import Fact, text
from vendorscope.collect.pcap.ssdp import http_headers

MAX_HEADER_BLOCK = 16 * 1024
MAX_BANNER = 2048
_HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"OPTIONS ", b"DELETE ", b"PATCH ", b"CONNECT ")
_RTSP_METHODS = (b"OPTIONS ", b"DESCRIBE ", b"SETUP ", b"PLAY ", b"ANNOUNCE ", b"GET_PARAMETER ", b"TEARDOWN ")
_SIP_METHODS = (b"REGISTER ", b"INVITE ", b"OPTIONS ", b"SUBSCRIBE ", b"NOTIFY ", b"MESSAGE ", b"BYE ", b"ACK ")
_TITLE = re.compile(rb"<title[^>]{0,200}>([^<]{0,512})</title", re.IGNORECASE)
FTP_PORTS = frozenset({21, 2121})
SMTP_PORTS = frozenset({25, 465, 587, 2525})
TELNET_PORTS = frozenset({23, 2323})
# Shortest prefix that can tell the protocols apart; fewer bytes wait for more.
MIN_CLASSIFY = 4


class FirstMessage(NamedTuple):
    name: str
    complete: Callable[[bytes], bool]
    parse: Callable[[bytes, int, int], list[Fact]]
    max_bytes: int = MAX_HEADER_BLOCK


# -- line banners ---------------------------------------------------------


def _line_complete(data: bytes) -> bool:
    return b"\n" in data or len(data) >= 255


def _parse_ssh(data: bytes, sport: int, dport: int) -> list[Fact]:
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    return [Fact("ssh.banner", text(line, 255))] if line.startswith(b"SSH-") else []


def _greeting_complete(data: bytes) -> bool:
    """A 220 greeting ends with a line '220 …' (earlier lines are '220-…')."""
    if len(data) >= MAX_BANNER:
        return True
    return any(len(line) >= 4 and line[3:4] == b" " and line[:3].isdigit() for line in data.split(b"\n")[:-1])


def _greeting_text(data: bytes) -> str:
    lines = [ln.rstrip(b"\r") for ln in data[:MAX_BANNER].split(b"\n")]
    out = []
    for line in lines:
        if not line:
            continue
        out.append(line)
        if len(line) >= 4 and line[3:4] == b" ":
            break
    return text(b"\n".join(out), MAX_BANNER)


def _parse_greeting(data: bytes, sport: int, dport: int) -> list[Fact]:
    banner = _greeting_text(data)
    upper = banner.upper()
    if sport in SMTP_PORTS or "SMTP" in upper or "ESMTP" in upper or "MAIL" in upper:
        kind = "smtp.banner"
    elif sport in FTP_PORTS or "FTP" in upper:
        kind = "ftp.banner"
    else:
        kind = "tcp.banner"
    return [Fact(kind, banner)] if banner else []


# -- telnet ---------------------------------------------------------------


def _telnet_text(data: bytes) -> str:
    raw = strip_telnet(data[:MAX_BANNER])[0].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = [ln.strip() for ln in raw.split(b"\n")]
    return text(b"\n".join(ln for ln in lines if ln), MAX_BANNER)


def _telnet_complete(data: bytes) -> bool:
    if len(data) >= MAX_BANNER:
        return True
    banner = _telnet_text(data)
    return banner.endswith((":", ">", "#", "$", "]")) or "login" in banner[-40:].lower()


def _parse_telnet(data: bytes, sport: int, dport: int) -> list[Fact]:
    banner = _telnet_text(data)
    return [Fact("telnet.banner", banner)] if banner else []


# -- HTTP and RTSP --------------------------------------------------------


def _header_end(data: bytes) -> int:
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        return end + 4
    end = data.find(b"\n\n")
    return end + 2 if end >= 0 else -1


def _request_complete(data: bytes) -> bool:
    return _header_end(data) >= 0 or len(data) >= MAX_HEADER_BLOCK


def _response_complete(data: bytes) -> bool:
    """Headers, and for HTML the title too when it comes soon after."""
    end = _header_end(data)
    if end < 0:
        return len(data) >= MAX_HEADER_BLOCK
    head = data[:end].lower()
    if b"text/html" not in head:
        return True
    body = data[end:]
    if b"</title" in body.lower() or len(body) >= 4096:
        return True
    m = re.search(rb"content-length:\s*(\d{1,9})", head)
    return m is not None and len(body) >= int(m.group(1))


def _parse_response(data: bytes, sport: int, dport: int, prefix: str) -> list[Fact]:
    end = _header_end(data)
    _start, headers = http_headers(data[: end if end >= 0 else MAX_HEADER_BLOCK])
    facts = [Fact(f"{prefix}.server", v) for v in headers.get("server", ()) if v]
    facts += [Fact(f"{prefix}.www_authenticate", v) for v in headers.get("www-authenticate", ()) if v]
    if prefix == "http" and end >= 0 and (m := _TITLE.search(data, end)) and (title := text(m.group(1), 255)):
        facts.append(Fact("http.title", title))
    return facts


def _parse_request(data: bytes, sport: int, dport: int, prefix: str) -> list[Fact]:
    end = _header_end(data)
    _start, headers = http_headers(data[: end if end >= 0 else MAX_HEADER_BLOCK])
    return [Fact(f"{prefix}.user_agent", v) for v in headers.get("user-agent", ()) if v]


HTTP_RESPONSE = FirstMessage("http-response", _response_complete,
                             lambda d, s, p: _parse_response(d, s, p, "http"), MAX_HEADER_BLOCK + 4096)
HTTP_REQUEST = FirstMessage("http-request", _request_complete, lambda d, s, p: _parse_request(d, s, p, "http"))
RTSP_RESPONSE = FirstMessage("rtsp-response", _request_complete, lambda d, s, p: _parse_response(d, s, p, "rtsp"))
RTSP_REQUEST = FirstMessage("rtsp-request", _request_complete, lambda d, s, p: _parse_request(d, s, p, "rtsp"))
SSH = FirstMessage("ssh", _line_complete, _parse_ssh, 255)
GREETING = FirstMessage("greeting", _greeting_complete, _parse_greeting, MAX_BANNER)
TELNET = FirstMessage("telnet", _telnet_complete, _parse_telnet, MAX_BANNER)


# -- SIP ------------------------------------------------------------------


def is_sip(data: bytes) -> bool:
    if data.startswith(b"SIP/2.0 "):
        return True
    if data.startswith(_SIP_METHODS):
        line_end = data.find(b"\n", 0, 512)
        return line_end > 0 and data[:line_end].rstrip(b"\r").endswith(b"SIP/2.0")
    return False


def parse_sip(data: bytes, sport: int = 0, dport: int = 0) -> list[Fact]:
    """SIP user agents name themselves in User-Agent (requests) and Server (responses)."""
    if not is_sip(data):
        raise DecodeError("not a SIP message")
    end = _header_end(data)
    _start, headers = http_headers(data[: end if end >= 0 else MAX_HEADER_BLOCK])
    values = headers.get("user-agent", []) + headers.get("server", [])
    return [Fact("sip.user_agent", v) for v in values if v]


SIP = FirstMessage("sip", _request_complete, parse_sip)


# -- TLS ------------------------------------------------------------------


def _tls_complete(data: bytes) -> bool:
    try:
        handshake, over = tls.handshake_bytes(data)
        leaf, done = tls.find_certificate(handshake)
    except DecodeError:
        return True
    return leaf is not None or done or over


def _parse_tls(data: bytes, sport: int, dport: int) -> list[Fact]:
    return tls.decode_server_flight(data)[0]


TLS_SERVER = FirstMessage("tls-server", _tls_complete, _parse_tls, tls.MAX_HANDSHAKE)


# -- which one ------------------------------------------------------------


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
    if head.startswith(b"220"):
        return GREETING
    if data[:1] == b"\xff" or (sport in TELNET_PORTS and data[:1].isascii()):
        return TELNET
    if head.startswith(_HTTP_METHODS + _RTSP_METHODS + _SIP_METHODS):
        if _is_request_line(data, _HTTP_METHODS, b" HTTP/1."):
            return HTTP_REQUEST
        if _is_request_line(data, _RTSP_METHODS, b" RTSP/1."):
            return RTSP_REQUEST
        if is_sip(data):
            return SIP
        return None
    if head.startswith(b"SIP/2.0 "):
        return SIP
    return None
