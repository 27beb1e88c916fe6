"""TLS for PVE: pin the node's certificate by its SHA-256 fingerprint.

PVE nodes usually present a certificate signed by the cluster's own self-signed CA. Instead of
turning verification off, the panel pins the fingerprint PVE shows in the GUI (`AB:CD:...`):
urllib3 compares the peer certificate's digest during the handshake (``assert_fingerprint``) and
refuses the connection on a mismatch, before any request (and so the token) is sent.
"""

from __future__ import annotations

import re

from requests.adapters import HTTPAdapter

_HEX64_RE = re.compile(r"[0-9a-f]{64}")


def normalize_fingerprint(value: str) -> str:
    """``AB:CD:...`` / ``ab cd ...`` / ``abcd...`` -> 64 lower-case hex digits, or ValueError."""
    cleaned = re.sub(r"[\s:]", "", str(value)).lower()
    if not _HEX64_RE.fullmatch(cleaned):
        raise ValueError(
            "a SHA-256 fingerprint is 32 bytes: 64 hex digits, optionally colon-separated"
        )
    return cleaned


def format_fingerprint(value: str) -> str:
    """64 hex digits -> PVE's display form ``AB:CD:...``."""
    hexdigits = normalize_fingerprint(value).upper()
    return ":".join(hexdigits[i : i + 2] for i in range(0, 64, 2))


class FingerprintAdapter(HTTPAdapter):
    """An adapter whose connections trust exactly one certificate, by SHA-256 fingerprint."""

    def __init__(self, fingerprint_sha256: str, **kwargs):
        self.fingerprint_sha256 = normalize_fingerprint(fingerprint_sha256)
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["assert_fingerprint"] = self.fingerprint_sha256
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)

    def send(self, request, *args, **kwargs):
        # The pin replaces CA-chain and hostname checks (the chain is PVE's private CA), so the
        # chain check must be off or the handshake fails before the fingerprint is compared.
        # urllib3 counts a pinned connection as verified, so no InsecureRequestWarning either.
        kwargs["verify"] = False
        return super().send(request, *args, **kwargs)
