"""TLS certificates: the one place that turns a certificate into evidence, for every source.

A probe hands over the DER the handshake gave it, a capture the start of a
server's byte stream (:func:`decode_server_flight` walks the TLS records up to
1.2; TLS 1.3 sends certificates encrypted), an import the fields a scanner
wrote. All give :func:`certificate_evidence`: subject and issuer in ONE
spelling, RFC 4514 (what ``cryptography`` writes; OpenSSL's one-line form
``C=CN, O=Huawei, CN=x`` is converted by :func:`canonical_dn`), and serial,
validity and SANs as their own kinds and as context of subject and issuer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vendorscope.evidence.record import DecodeError, Evidence, text

if TYPE_CHECKING:
    from cryptography import x509

RECORD_HANDSHAKE = 22
HS_SERVER_HELLO, HS_CERTIFICATE, HS_SERVER_HELLO_DONE = 2, 11, 14
MAX_HANDSHAKE = 128 * 1024
# Protocols other than HTTP that run inside TLS from the first byte (SMTPS, LDAPS, IMAPS, POP3S, SIPS,
# MQTT over TLS). FTPS (990) and Telnets (992) are left to the content: devices often speak plaintext there.
PORTS = frozenset({465, 636, 993, 995, 5061, 8883})
_MAX_SAN = 32
_DN_SPECIAL = frozenset(',+"\\<>;')
# Attribute names as other tools spell them → the short names of RFC 4514 (and OpenSSL).
DN_SHORT_NAMES = {
    "commonName": "CN", "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST",
    "organizationName": "O", "organizationalUnitName": "OU", "emailAddress": "emailAddress",
    "country": "C", "province": "ST", "locality": "L", "organization": "O",
    "organizational_unit": "OU", "common_name": "CN", "email_address": "emailAddress",
    "streetAddress": "STREET", "domainComponent": "DC", "userId": "UID",
}


def looks_like_tls(data: bytes) -> bool:
    return len(data) >= 3 and data[0] == RECORD_HANDSHAKE and data[1] == 3 and data[2] <= 4


def handshake_bytes(stream: bytes) -> tuple[bytes, bool]:
    """Concatenated handshake payload of the leading handshake records; True if a
    non-handshake record (or the end of the clear-text handshake) was reached."""
    pos, out = 0, bytearray()
    while pos + 5 <= len(stream):
        ctype, major, _minor, length = stream[pos], stream[pos + 1], stream[pos + 2], \
            int.from_bytes(stream[pos + 3 : pos + 5], "big")
        if major != 3:
            raise DecodeError("not a TLS record")
        if ctype != RECORD_HANDSHAKE:
            return bytes(out), True
        out += stream[pos + 5 : pos + 5 + length]
        if pos + 5 + length > len(stream) or len(out) > MAX_HANDSHAKE:
            return bytes(out), False
        pos += 5 + length
    return bytes(out), False


def find_certificate(handshake: bytes) -> tuple[bytes | None, bool]:
    """(leaf certificate DER or None, whether the server's clear-text flight is over)."""
    pos = 0
    while pos + 4 <= len(handshake):
        msg_type = handshake[pos]
        length = int.from_bytes(handshake[pos + 1 : pos + 4], "big")
        body = handshake[pos + 4 : pos + 4 + length]
        complete = len(body) == length
        if msg_type == HS_SERVER_HELLO and complete and _is_tls13(body):
            return None, True
        if msg_type == HS_CERTIFICATE:
            if len(body) < 6:
                return None, False
            first_len = int.from_bytes(body[3:6], "big")
            leaf = body[6 : 6 + first_len]
            if len(leaf) == first_len and first_len > 0:
                return leaf, True
            return None, False
        if msg_type == HS_SERVER_HELLO_DONE or not complete:
            return None, complete
        pos += 4 + length
    return None, False


def _is_tls13(server_hello: bytes) -> bool:
    """A ServerHello whose supported_versions extension selects TLS 1.3."""
    try:
        pos = 2 + 32
        pos += 1 + server_hello[pos]  # session id
        pos += 3  # cipher suite, compression
        end = pos + 2 + int.from_bytes(server_hello[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= min(end, len(server_hello)):
            ext = int.from_bytes(server_hello[pos : pos + 2], "big")
            n = int.from_bytes(server_hello[pos + 2 : pos + 4], "big")
            if ext == 43 and n == 2:
                return server_hello[pos + 4 : pos + 6] == b"\x03\x04"
            pos += 4 + n
    except IndexError:
        return False
    return False


def escape_dn_value(value: str) -> str:
    """An attribute value escaped as RFC 4514 section 2.4 asks."""
    out = "".join("\\" + ch if ch in _DN_SPECIAL else ch for ch in value)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def dn_from_pairs(pairs: Iterable[tuple[str, str]]) -> str:
    """The RFC 4514 string of attributes given most significant first (``C``, ``O``, …, ``CN``),
    the order X.500 tools print them in: RFC 4514 lists them the other way round."""
    parts = []
    for name, value in pairs:
        short = DN_SHORT_NAMES.get(name, DN_SHORT_NAMES.get(name.lower(), name))
        if value:
            parts.append(f"{short}={escape_dn_value(value)}")
    return text(",".join(reversed(parts)).encode("utf-8"))


def canonical_dn(dn: str) -> str:
    """A distinguished name written by another tool, in the one spelling (RFC 4514).

    Understood: RFC 4514 (``CN=x,O=y,C=CN``: kept), OpenSSL's one-line form
    (``C=CN, O=y, CN=x``: comma and space, most significant first) and the
    slash form (``/C=CN/O=y/CN=x``)."""
    dn = dn.strip()
    if dn.startswith("/"):
        return dn_from_pairs(_pair(p) for p in dn[1:].split("/") if p)
    parts = _split_unescaped(dn)
    if len(parts) > 1 and all(p.startswith(" ") for p in parts[1:]):
        return dn_from_pairs(_pair(p.strip(), unescape=True) for p in parts)
    return text(dn.encode("utf-8"))


def _pair(part: str, unescape: bool = False) -> tuple[str, str]:
    name, _, value = part.partition("=")
    if unescape:
        value = re.sub(r"\\(.)", r"\1", value)
    return name.strip(), value.strip()


def _split_unescaped(dn: str) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in dn:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def canonical_serial(serial: str) -> str:
    """A serial number as lower-case hex without separators or leading zeros (how ``cryptography``
    prints it); a serial that is not hex is kept as text."""
    compact = serial.replace(":", "").replace(" ", "").lower()
    if compact and all(c in "0123456789abcdef" for c in compact):
        return compact.lstrip("0") or "0"
    return text(serial.encode("utf-8"), 128)


def canonical_time(value: str) -> str:
    """A certificate date as ISO 8601 in UTC (naive dates are UTC, as X.509 says); kept if unreadable."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return text(value.encode("utf-8"), 64)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.isoformat()


def certificate_evidence(subject: str | None, issuer: str | None, *, serial: str | None = None,
                         not_before: str | None = None, not_after: str | None = None,
                         san: Iterable[str] = (), self_signed: bool | None = None,
                         extra: Mapping[str, Any] | None = None) -> list[Evidence]:
    """The evidence of one certificate, the same from every source: subject and issuer (each with
    the rest of the certificate as context), and serial, validity and each SAN as their own kinds."""
    serial = canonical_serial(serial) if serial else None
    not_before = canonical_time(not_before) if not_before else None
    not_after = canonical_time(not_after) if not_after else None
    names = [text(n.encode("utf-8"), 255) for n in list(san)[:_MAX_SAN]]
    names = [n for n in names if n]
    context: dict[str, Any] = {**(extra or {}), "tls": True, "serial": serial, "not_before": not_before,
                               "not_after": not_after, "san": names, "self_signed": self_signed}
    context = {k: v for k, v in context.items() if v not in (None, [])}
    out = []
    if subject:
        out.append(Evidence("tls.cert.subject", subject, context={**context, "issuer": issuer} if issuer else context))
    if issuer:
        out.append(Evidence("tls.cert.issuer", issuer, context={**context, "subject": subject} if subject else context))
    if serial:
        out.append(Evidence("tls.cert.serial", serial, context=context))
    if not_before and not_after:
        out.append(Evidence("tls.cert.validity", f"{not_before}/{not_after}", context=context))
    out.extend(Evidence("tls.cert.san", n, context=context) for n in names)
    return out


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str
    issuer: str
    serial: str
    not_before: datetime | None
    not_after: datetime | None
    san: tuple[str, ...]
    self_signed: bool

    def evidence(self, extra: Mapping[str, Any] | None = None) -> list[Evidence]:
        return certificate_evidence(
            self.subject, self.issuer, serial=self.serial,
            not_before=self.not_before.isoformat() if self.not_before else None,
            not_after=self.not_after.isoformat() if self.not_after else None,
            san=self.san, self_signed=self.self_signed, extra=extra)


def parse_certificate(der: bytes) -> CertInfo:
    """The facts of a DER certificate; raises DecodeError on a malformed one."""
    # Imported here: cryptography costs about 0.03 s of every start-up, and most runs
    # (captures without TLS, most imports) never parse a certificate.
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, TypeError, x509.InvalidVersion) as exc:
        raise DecodeError(f"unreadable TLS certificate ({str(exc)[:80]})") from None
    try:
        subject = text(cert.subject.rfc4514_string().encode("utf-8"))
        issuer = text(cert.issuer.rfc4514_string().encode("utf-8"))
    except (ValueError, TypeError):
        subject = issuer = ""
    san: list[str] = []
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        san.extend(str(n) for n in names.get_values_for_type(x509.DNSName))
        san.extend(str(n) for n in names.get_values_for_type(x509.IPAddress))
    except (x509.ExtensionNotFound, ValueError, TypeError):
        pass  # no SAN, or a malformed one: the rest of the certificate still counts
    try:
        self_signed = cert.subject == cert.issuer
        serial = format(cert.serial_number, "x")
    except (ValueError, TypeError) as exc:
        raise DecodeError(f"unreadable TLS certificate ({str(exc)[:80]})") from None
    return CertInfo(subject, issuer, serial, _when(cert, "not_valid_before_utc"), _when(cert, "not_valid_after_utc"),
                    tuple(san[:_MAX_SAN]), self_signed)


def _when(cert: x509.Certificate, attr: str) -> datetime | None:
    try:
        value: datetime = getattr(cert, attr)
    except (ValueError, AttributeError, TypeError):
        return None
    return value


def certificate_facts(der: bytes) -> list[Evidence]:
    """The evidence of a DER certificate (see :func:`certificate_evidence`); raises DecodeError."""
    return parse_certificate(der).evidence()


def decode_server_flight(stream: bytes) -> tuple[list[Evidence], bool]:
    """(facts, done) from the start of a server's byte stream."""
    handshake, over = handshake_bytes(stream)
    leaf, done = find_certificate(handshake)
    if leaf is not None:
        return certificate_facts(leaf), True
    return [], done or over
