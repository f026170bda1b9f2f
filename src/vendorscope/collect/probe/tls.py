"""TLS: the certificate a port presents, read with verification off.

Verification is off on purpose: devices present self-signed and expired
certificates, and who issued them is the evidence. Old protocol versions and
ciphers are allowed for the same reason (a camera from 2014 speaks TLS 1.0).
The handshake goes through :meth:`Gate.open`; :mod:`vendorscope.evidence.tls` reads the certificate.
"""

from __future__ import annotations

import ssl
import warnings
from functools import cache

from vendorscope.collect.probe.gate import Gate, ProbeFailed, Session, Step
from vendorscope.collect.probe.scope import ScopeViolation
from vendorscope.evidence.record import DecodeError
from vendorscope.evidence.tls import CertInfo, parse_certificate
from vendorscope.model import Observation

__all__ = ["CertInfo", "certificate_observations", "client_context", "parse_certificate", "probe_tls"]


@cache
def client_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # deprecated for servers we trust; these we don't, we only listen
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):  # pragma: no cover - OpenSSL built without them
            pass
    return ctx


def certificate_observations(gate: Gate, step: Step, der: bytes | None) -> list[Observation]:
    """The certificate's evidence (see :mod:`vendorscope.evidence.tls`)."""
    if not der:
        return []
    try:
        info = parse_certificate(der)
    except DecodeError as exc:
        step.detail = f"malformed certificate: {exc}"[:200]
        return []
    return [gate.record(step, ev) for ev in info.evidence()]


async def probe_tls(gate: Gate, target: str, port: int, *, report_open: bool = False) -> list[Observation]:
    """Handshake and read the certificate of a TLS port (not HTTP: nothing else is sent)."""
    try:
        session: Session = await gate.open(target, port, tls=client_context())
    except ScopeViolation:
        return []
    except ProbeFailed as exc:
        if report_open and exc.connected:  # accepted the connection, not our TLS: still an open port
            return [gate.observe(exc.connected, "tcp.open", str(port), ended=exc.outcome)]
        return []
    async with session:
        out = [gate.observe(session.opened_by, "tcp.open", str(port))] if report_open else []
        out.extend(certificate_observations(gate, session.opened_by, session.peer_certificate()))
        return out
