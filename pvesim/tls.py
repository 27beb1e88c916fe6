"""A throw-away self-signed certificate, as a fresh PVE node has, and its SHA-256 fingerprint."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Certificate:
    cert_pem: bytes
    key_pem: bytes
    fingerprint_sha256: str  # AB:CD:... upper-case hex, PVE's `fingerprint-sha256` format


def generate_certificate(hostname: str = "localhost") -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PVE Cluster Node (simulated)"),
            x509.NameAttribute(NameOID.COMMON_NAME, hostname),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=730))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(hostname),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return Certificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        fingerprint_sha256=_fingerprint(cert),
    )


def _fingerprint(cert: x509.Certificate) -> str:
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def load_or_create_certificate(path: str | os.PathLike | None) -> Certificate:
    """A new certificate, or the one kept in ``path`` (key + cert PEM) so a restarted demo
    keeps its fingerprint and the panel's pinned nodes keep working."""
    if path is None:
        return generate_certificate()
    if os.path.exists(path):
        with open(path, "rb") as fh:
            data = fh.read()
        cert_start = data.index(b"-----BEGIN CERTIFICATE-----")
        key_pem, cert_pem = data[:cert_start], data[cert_start:]
        cert = x509.load_pem_x509_certificate(cert_pem)
        return Certificate(cert_pem, key_pem, _fingerprint(cert))
    certificate = generate_certificate()
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        fh.write(certificate.key_pem + certificate.cert_pem)
    return certificate


def server_context(certificate: Certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # load_cert_chain only reads files; keep them only as long as it needs them.
    with tempfile.TemporaryDirectory(prefix="pvesim-tls-") as tmp:
        cert_path = os.path.join(tmp, "cert.pem")
        key_path = os.path.join(tmp, "key.pem")
        with open(cert_path, "wb") as fh:
            fh.write(certificate.cert_pem)
        with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as fh:
            fh.write(certificate.key_pem)
        context.load_cert_chain(cert_path, key_path)
    return context
