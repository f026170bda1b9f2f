"""RTSP: OPTIONS and DESCRIBE (no credentials), for the Server header, the realm of a challenge and,
when DESCRIBE is answered, the session description's identifying lines (``rtsp.sdp``).

Cameras and recorders answer RTSP on 554 even when their web interface is
off, and their Server header names the firmware. Answers are read with the
capped, deadline-bound reader of :mod:`http`.
"""

from __future__ import annotations

import asyncio

from vendorscope.collect.probe.gate import Gate, ProbeFailed, Session, Step
from vendorscope.collect.probe.http import USER_AGENT, XML_CAP, HttpResponse, read_response
from vendorscope.collect.probe.scope import ScopeViolation
from vendorscope.evidence import http as http_evidence
from vendorscope.evidence import rtsp as rtsp_evidence
from vendorscope.model import Observation


def rtsp_url(host: str, port: int, path: str = "/") -> str:
    authority = f"[{host}]" if ":" in host else host
    return f"rtsp://{authority}:{port}{path}"


def build_rtsp_request(method: str, url: str, cseq: int, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    lines = [
        f"{method} {url} RTSP/1.0",
        f"CSeq: {cseq}",
        f"User-Agent: {USER_AGENT}",
        *(f"{k}: {v}" for k, v in extra),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", "replace")


async def _ask(
    session: Session, method: str, cseq: int, extra: tuple[tuple[str, str], ...] = ()
) -> tuple[HttpResponse, Step]:
    timeout = session.gate.scope.timeout
    async with session.exchange(f"rtsp.{method.lower()}", timeout=timeout) as step:
        session.writer.write(build_rtsp_request(method, rtsp_url(session.target, session.port), cseq, extra))
        deadline = asyncio.get_running_loop().time() + timeout * 0.9
        response = await read_response(session.reader, deadline=deadline, body_cap=XML_CAP, method=method)
        step.outcome = f"{response.protocol.lower()} {response.status}"
    return response, step


async def probe_rtsp(gate: Gate, target: str, port: int, *, report_open: bool = False) -> list[Observation]:
    """OPTIONS then DESCRIBE on one connection (reopened once if the server closes it)."""
    out: list[Observation] = []
    session: Session | None = None
    try:
        session = await gate.open(target, port)
        if report_open:
            out.append(gate.observe(session.opened_by, "tcp.open", str(port)))
        for cseq, method, extra in ((1, "OPTIONS", ()), (2, "DESCRIBE", (("Accept", "application/sdp"),))):
            if session.closed:
                session = await gate.open(target, port)
            response, step = await _ask(session, method, cseq, extra)
            if response.protocol != "RTSP":
                break  # an HTTP server on an RTSP port: the HTTP probe covers it
            out.extend(gate.record(step, ev, status=response.status, public=response.header("Public"))
                       for ev in http_evidence.response_headers_evidence(response.headers, "rtsp"))
            if method == "DESCRIBE" and response.status == 200 and response.body:
                out.extend(gate.record(step, ev, status=response.status)
                           for ev in rtsp_evidence.sdp_evidence(response.body, response.header("Content-Type")))
            if (response.header("Connection") or "").lower() == "close":  # RTSP/1.0 is persistent otherwise
                await session.aclose()
    except ScopeViolation:
        pass  # audited by the gate; cannot happen for a checked target
    except ProbeFailed as exc:
        if report_open and exc.connected is not None and not out:
            out.append(gate.observe(exc.connected, "tcp.open", str(port)))
    finally:
        if session is not None:
            await session.aclose()
    return out
