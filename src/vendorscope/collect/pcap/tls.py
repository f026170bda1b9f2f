"""TLS (up to 1.2): the server's certificate, read from its handshake in the clear.

:func:`certificate_facts` takes the reassembled start of a server's byte
stream; it walks TLS records, joins handshake fragments and parses the leaf
certificate of the Certificate message with ``cryptography``. TLS 1.3 sends
certificates encrypted, so there is nothing to read there.
"""

from __future__ import annotations

from cryptography import x509

from vendorscope.collect.pcap.errors import DecodeError
from vendorscope.collect.pcap.facts import Fact, text

RECORD_HANDSHAKE = 22
HS_SERVER_HELLO, HS_CERTIFICATE, HS_SERVER_HELLO_DONE = 2, 11, 14
MAX_HANDSHAKE = 128 * 1024
_MAX_SAN = 32


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


def certificate_facts(der: bytes) -> list[Fact]:
    try:
        cert = x509.load_der_x509_certificate(der)
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        serial = format(cert.serial_number, "x")
        validity = f"{cert.not_valid_before_utc.isoformat()}/{cert.not_valid_after_utc.isoformat()}"
    except (ValueError, TypeError) as exc:
        raise DecodeError(f"unreadable TLS certificate ({str(exc)[:80]})") from None
    facts = [
        Fact("tls.cert.subject", text(subject.encode())),
        Fact("tls.cert.issuer", text(issuer.encode())),
        Fact("tls.cert.serial", serial),
        Fact("tls.cert.validity", validity),
    ]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)][:_MAX_SAN]
        names += [str(a) for a in san.get_values_for_type(x509.IPAddress)][: _MAX_SAN - len(names)]
        facts.extend(Fact("tls.cert.san", text(n.encode(), 255)) for n in names)
    except (x509.ExtensionNotFound, ValueError, TypeError):
        pass  # no SAN, or a malformed one: the rest of the certificate still counts
    return facts


def decode_server_flight(stream: bytes) -> tuple[list[Fact], bool]:
    """(facts, done) from the start of a server's byte stream."""
    handshake, over = handshake_bytes(stream)
    leaf, done = find_certificate(handshake)
    if leaf is not None:
        return certificate_facts(leaf), True
    return [], done or over
