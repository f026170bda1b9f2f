"""Certificates for the lab's HTTPS services, made with `cryptography`.

Each profile gets a certificate whose subject and issuer are the vendor's, as
the device presents it: self-signed when subject and issuer agree, otherwise
signed by a throw-away key standing in for the vendor's device CA.
"""

from __future__ import annotations

import datetime as dt
import re
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_ATTRIBUTES = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
}
# Device certificates are made once at the factory and last for decades.
NOT_BEFORE = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2041, 1, 1, tzinfo=dt.UTC)


# A comma separates attributes only when the next attribute's KEY= follows it,
# so "O=ZheJiang Dahua Technology Co., Ltd." stays one value.
_SEPARATOR = re.compile(r",\s*(?=[A-Za-z]+=)")


def parse_dn(text: str) -> x509.Name:
    """'C=CN, O=Huawei, CN=Huawei' → a Name, attributes in the order written."""
    attributes = []
    for part in _SEPARATOR.split(text):
        key, sep, value = part.strip().partition("=")
        oid = _ATTRIBUTES.get(key.strip().upper())
        if not sep or oid is None or not value.strip():
            raise ValueError(f"bad distinguished name part {part.strip()!r} in {text!r}")
        attributes.append(x509.NameAttribute(oid, value.strip()))
    return x509.Name(attributes)


def make_certificate(subject: str, issuer: str | None = None) -> tuple[bytes, bytes]:
    """PEM certificate and PEM private key for a server named `subject`."""
    subject_name = parse_dn(subject)
    issuer_name = parse_dn(issuer) if issuer else subject_name
    key = ec.generate_private_key(ec.SECP256R1())
    signer = key if issuer_name == subject_name else ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def server_context(cert_pem: bytes, key_pem: bytes, directory: Path, stem: str) -> ssl.SSLContext:
    """A server TLS context; the ssl module loads certificates only from files."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert_pem)
    key_path.touch(mode=0o600)
    key_path.write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context
