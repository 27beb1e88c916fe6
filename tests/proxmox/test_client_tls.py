"""TLS pinning against a real HTTPS server on 127.0.0.1 with a self-signed certificate."""

import datetime
import hashlib
import http.server
import json
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from proxmox.client import PveClient
from proxmox.errors import PveTlsError
from proxmox.tls import format_fingerprint, normalize_fingerprint


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pve1.invalid")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "pve-ssl.pem"
    key_file = tmp_path / "pve-ssl.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return cert_file, key_file, hashlib.sha256(der).hexdigest()


class _VersionHandler(http.server.BaseHTTPRequestHandler):
    seen_auth: list = []

    def do_GET(self):
        type(self).seen_auth.append(self.headers.get("Authorization"))
        body = json.dumps({"data": {"version": "9.1.3", "release": "9.1", "repoid": "abc"}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def https_server(tmp_path):
    cert_file, key_file, fingerprint = _self_signed(tmp_path)
    _VersionHandler.seen_auth = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _VersionHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", fingerprint
    server.shutdown()
    server.server_close()


def _client(url, **kwargs):
    return PveClient(url, token_id="panel@pve!panel", token_secret="secret", **kwargs)


def test_pinned_fingerprint_accepts_the_self_signed_node(https_server):
    url, fingerprint = https_server
    client = _client(url, fingerprint_sha256=format_fingerprint(fingerprint))
    assert client.version()["version"] == "9.1.3"


def test_wrong_fingerprint_is_refused_before_the_token_is_sent(https_server):
    url, fingerprint = https_server
    wrong = format_fingerprint(("0" if fingerprint[0] != "0" else "1") + fingerprint[1:])
    client = _client(url, fingerprint_sha256=wrong)
    with pytest.raises(PveTlsError) as exc:
        client.version()
    assert "fingerprints did not match" in str(exc.value).lower()
    assert _VersionHandler.seen_auth == []


def test_default_verification_refuses_an_unknown_ca(https_server):
    url, _ = https_server
    with pytest.raises(PveTlsError) as exc:
        _client(url).version()
    assert "certificate verify failed" in str(exc.value)
    assert _VersionHandler.seen_auth == []


def test_fingerprint_formats_are_normalised():
    raw = "ab" * 32
    assert normalize_fingerprint(":".join(["AB"] * 32)) == raw
    assert normalize_fingerprint(raw.upper()) == raw
    assert format_fingerprint(raw) == ":".join(["AB"] * 32)
    with pytest.raises(ValueError):
        normalize_fingerprint("AB:CD")
    with pytest.raises(ValueError):
        normalize_fingerprint("zz" * 32)
