"""Normalising and checking what staff type in for a node: API URL, token id, TLS fingerprint.

Shared by the admin form and by ``node_register`` so that both store the same canonical values.
"""

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError

from nodes.models import PVE_TOKEN_ID_RE
from panel.validators import HOSTNAME_RE

PVE_DEFAULT_PORT = 8006
API_URL_MAX_LENGTH = 200  # Node.api_url's column
_API_PATH_SUFFIX = "/api2/json"
_HEX_64_RE = re.compile(r"^[0-9A-F]{64}$")

MSG_NOT_HTTPS = "The PVE API must be reached over https."
MSG_BAD_URL = (
    "Enter the PVE API address as https://host[:port], e.g. https://pve1.example.com:8006."
)
MSG_TOKEN_ID = (
    "Not a PVE API token id: use the form user@realm!tokenid, e.g. panel@pve!panel "
    "(Datacenter > Permissions > API Tokens)."
)
MSG_TOKEN_ID_WITH_SECRET = (
    "This looks like a token id with its secret attached: enter only user@realm!tokenid here "
    "and put the secret in the token secret field."
)
MSG_FINGERPRINT = (
    "Not a SHA-256 certificate fingerprint: expected 32 hex bytes such as AB:CD:...:EF "
    "(shown by `pvenode cert info` on the node)."
)
MSG_TLS_OFF_WITHOUT_PIN = (
    "TLS verification cannot be turned off without a pinned certificate. For PVE's self-signed "
    "certificate, pin its SHA-256 fingerprint (shown by `pvenode cert info` on the node) instead."
)


def normalise_api_url(value: str) -> str:
    """Return ``https://host:port`` for what staff typed; port 8006 is added when missing.

    A pasted ``/api2/json`` suffix or trailing slash is dropped: the client adds the API path.
    """
    raw = (value or "").strip()
    if not raw:
        raise ValidationError(MSG_BAD_URL, code="invalid")
    if "://" not in raw:
        # "pve1.example.com:8006" has no scheme: it is not https either, but say how to write it.
        raise ValidationError(MSG_NOT_HTTPS, code="not_https")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(MSG_BAD_URL, code="invalid") from exc
    if parts.scheme.lower() != "https":
        raise ValidationError(MSG_NOT_HTTPS, code="not_https")
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError(MSG_BAD_URL, code="invalid")
    path = parts.path.rstrip("/")
    if path.endswith(_API_PATH_SUFFIX):
        path = path[: -len(_API_PATH_SUFFIX)]
    if path:
        raise ValidationError(MSG_BAD_URL, code="invalid")
    host = parts.hostname.lower()
    if not _is_ip_address(host) and not HOSTNAME_RE.match(host):
        raise ValidationError(MSG_BAD_URL, code="invalid")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    url = urlunsplit(("https", f"{host}:{port or PVE_DEFAULT_PORT}", "", "", ""))
    if len(url) > API_URL_MAX_LENGTH:
        raise ValidationError(MSG_BAD_URL, code="invalid")
    return url


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def normalise_token_id(value: str) -> str:
    token_id = (value or "").strip()
    if token_id.startswith("PVEAPIToken") or "=" in token_id:
        raise ValidationError(MSG_TOKEN_ID_WITH_SECRET, code="token_with_secret")
    if not re.match(PVE_TOKEN_ID_RE, token_id):
        raise ValidationError(MSG_TOKEN_ID, code="invalid_token_id")
    return token_id


def normalise_fingerprint(value: str) -> str:
    """Return ``AB:CD:...`` (upper case, colon-separated) or "" for an empty value.

    Accepts lower case, ``-``/space separators or none, and openssl's ``sha256 Fingerprint=...``
    output.
    """
    raw = (value or "").strip()
    if not raw:
        return ""
    if "=" in raw:
        label, _, raw = raw.partition("=")
        if "sha256" not in label.lower().replace("-", ""):
            raise ValidationError(MSG_FINGERPRINT, code="invalid_fingerprint")
    hex_digits = re.sub(r"[\s:\-]", "", raw).upper()
    if not _HEX_64_RE.match(hex_digits):
        raise ValidationError(MSG_FINGERPRINT, code="invalid_fingerprint")
    return ":".join(hex_digits[i : i + 2] for i in range(0, 64, 2))
