"""SIP: user agents name themselves in User-Agent (requests) and Server (responses)."""

from __future__ import annotations

from vendorscope.evidence.http import MAX_HEAD, header_end, http_headers
from vendorscope.evidence.record import DecodeError, Evidence

PORTS = frozenset({5060})  # UDP and TCP
METHODS = (b"REGISTER ", b"INVITE ", b"OPTIONS ", b"SUBSCRIBE ", b"NOTIFY ", b"MESSAGE ", b"BYE ", b"ACK ")


def is_sip(data: bytes) -> bool:
    if data.startswith(b"SIP/2.0 "):
        return True
    if data.startswith(METHODS):
        line_end = data.find(b"\n", 0, 512)
        return line_end > 0 and data[:line_end].rstrip(b"\r").endswith(b"SIP/2.0")
    return False


def parse_sip(data: bytes) -> list[Evidence]:
    """sip.user_agent of a SIP request or response; raises DecodeError when it is not SIP."""
    if not is_sip(data):
        raise DecodeError("not a SIP message")
    end = header_end(data)
    _start, headers = http_headers(data[: end if end >= 0 else MAX_HEAD])
    values = headers.get("user-agent", []) + headers.get("server", [])
    return [Evidence("sip.user_agent", v) for v in values if v]
