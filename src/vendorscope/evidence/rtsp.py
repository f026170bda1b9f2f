"""RTSP (cameras, recorders): Server and WWW-Authenticate of answers, User-Agent of requests.
RTSP heads are HTTP heads: :mod:`.http` reads them with the ``rtsp`` prefix."""

from __future__ import annotations

from vendorscope.evidence import http
from vendorscope.evidence.record import Evidence

PORTS = frozenset({554, 8554, 10554})
METHODS = (b"OPTIONS ", b"DESCRIBE ", b"SETUP ", b"PLAY ", b"ANNOUNCE ", b"GET_PARAMETER ", b"TEARDOWN ")


def response_evidence(data: bytes) -> list[Evidence]:
    return http.response_evidence(data, "rtsp")


def request_evidence(data: bytes) -> list[Evidence]:
    return http.request_evidence(data, "rtsp")
