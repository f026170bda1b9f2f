"""TLS: the certificate a port presents, read with verification off.

Verification is off on purpose: devices present self-signed and expired
certificates, and who issued them is the evidence. Old protocol versions and
ciphers are allowed for the same reason (a camera from 2014 speaks TLS 1.0).
The handshake goes through :meth:`Gate.open`; parsing uses ``cryptography``.
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from vendorscope.collect.probe.gate import Gate, ProbeFailed, Session, Step
from vendorscope.collect.probe.scope import ScopeViolation
from vendorscope.model import Observation

MAX_NAMES = 20  # SAN entries kept


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


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str
    issuer: str
    serial: str
    not_before: datetime | None
    not_after: datetime | None
    san: tuple[str, ...]
    self_signed: bool


def parse_certificate(der: bytes) -> CertInfo:
    """The facts of a DER certificate; raises ValueError on a malformed one."""
    cert = x509.load_der_x509_certificate(der)
    try:
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
    except ValueError:
        subject = issuer = ""
    san: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        names = ext.value
        if isinstance(names, x509.SubjectAlternativeName):
            san.extend(str(n) for n in names.get_values_for_type(x509.DNSName))
            san.extend(str(n) for n in names.get_values_for_type(x509.IPAddress))
    except (x509.ExtensionNotFound, ValueError):
        pass
    return CertInfo(
        subject=subject[:1024],
        issuer=issuer[:1024],
        serial=format(cert.serial_number, "x"),
        not_before=_when(cert, "not_valid_before_utc"),
        not_after=_when(cert, "not_valid_after_utc"),
        san=tuple(san[:MAX_NAMES]),
        self_signed=cert.subject == cert.issuer,
    )


def _when(cert: x509.Certificate, attr: str) -> datetime | None:
    try:
        value: datetime = getattr(cert, attr)
    except (ValueError, AttributeError):
        return None
    return value


def certificate_observations(gate: Gate, step: Step, der: bytes | None) -> list[Observation]:
    """tls.cert.subject and tls.cert.issuer, each carrying the rest of the certificate."""
    if not der:
        return []
    try:
        info = parse_certificate(der)
    except ValueError as exc:
        step.detail = f"malformed certificate: {exc}"[:200]
        return []
    context: dict[str, Any] = {
        "serial": info.serial,
        "san": list(info.san),
        "not_before": info.not_before.isoformat() if info.not_before else None,
        "not_after": info.not_after.isoformat() if info.not_after else None,
        "self_signed": info.self_signed,
        "tls": True,
    }
    out = []
    if info.subject:
        out.append(gate.observe(step, "tls.cert.subject", info.subject, issuer=info.issuer, **context))
    if info.issuer:
        out.append(gate.observe(step, "tls.cert.issuer", info.issuer, subject=info.subject, **context))
    return out


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
