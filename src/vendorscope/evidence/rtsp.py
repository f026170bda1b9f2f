"""RTSP (cameras, recorders): Server and WWW-Authenticate of answers, User-Agent of requests,
and the session description (SDP, RFC 4566) of an answer to DESCRIBE.
RTSP heads are HTTP heads: :mod:`.http` reads them with the ``rtsp`` prefix.

``rtsp.sdp`` keeps the session-level lines that come from the server's software: ``s=`` (session
name), ``i=`` (session information) and the session attributes (``a=tool:``, vendor attributes
such as ``a=packetization-supported:``), one per line in the order sent. Media sections
(``m=`` and after), and ``a=control``/``a=range``/direction attributes, which name the stream
rather than the server, are left out. Many stacks share one session name ("Media Presentation",
"Media Server"), so rules match only lines that name a maker (rules/rtsp.toml).
"""

from __future__ import annotations

from vendorscope.evidence import http
from vendorscope.evidence.record import Evidence, clean_text

PORTS = frozenset({554, 8554, 10554})
METHODS = (b"OPTIONS ", b"DESCRIBE ", b"SETUP ", b"PLAY ", b"ANNOUNCE ", b"GET_PARAMETER ", b"TEARDOWN ")
MAX_SDP = 16 * 1024  # bytes of a description read (one a camera sends is 0.3-2 KiB)
MAX_SDP_LINES = 128  # session-level lines looked at
MAX_SDP_LINE = 256  # characters kept of one line
MAX_SDP_VALUE = 1024  # characters of the rtsp.sdp value (kinds.toml max_chars)
_SKIPPED_ATTRIBUTES = (b"a=control:", b"a=range:", b"a=recvonly", b"a=sendonly", b"a=sendrecv", b"a=inactive")


def sdp_summary(body: bytes) -> str | None:
    """The identifying session-level lines of a session description, or None when it is not one."""
    body = body[:MAX_SDP].lstrip()
    if not body.startswith(b"v=0"):
        return None
    lines: list[str] = []
    for raw in body.split(b"\n", MAX_SDP_LINES)[:MAX_SDP_LINES]:
        line = raw.strip()
        if line.startswith(b"m="):
            break  # the media sections start: the session level is over
        if len(line) < 3 or line[1:2] != b"=":
            continue
        if line[:1] in (b"s", b"i") or (line[:1] == b"a" and not line.startswith(_SKIPPED_ATTRIBUTES)):
            text = clean_text(line, MAX_SDP_LINE)
            if len(text) > 2:
                lines.append(text)
    value = "\n".join(lines)[:MAX_SDP_VALUE]
    return value or None


def sdp_evidence(body: bytes, content_type: str | None = None) -> list[Evidence]:
    """``rtsp.sdp`` of a DESCRIBE answer's body (SDP by its type, or by its first line when untyped)."""
    if content_type is not None and "sdp" not in content_type.lower():
        return []
    summary = sdp_summary(body)
    return [Evidence("rtsp.sdp", summary)] if summary else []


def response_evidence(data: bytes) -> list[Evidence]:
    out = http.response_evidence(data, "rtsp")
    end = http.header_end(data)
    if end >= 0 and len(data) > end:
        _start, headers = http.http_headers(data[:end])
        types = headers.get("content-type")
        out.extend(sdp_evidence(data[end:], types[0] if types else None))
    return out


def request_evidence(data: bytes) -> list[Evidence]:
    return http.request_evidence(data, "rtsp")
