"""Writes of the account: a customer's SSH keys."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from django.core.exceptions import PermissionDenied, ValidationError

from panel.models import SshKey

MAX_KEY_LENGTH = 16384  # an RSA-16384 key line is about 2.8 KB; anything longer is not a key


def ssh_key_parse(public_key: str) -> tuple[str, str]:
    """The key as one normalised line and its SHA256 fingerprint (as `ssh-keygen -l` prints it),
    or a ValidationError saying what is wrong with it."""
    line = " ".join((public_key or "").split())
    if not line:
        raise ValidationError("Paste a public key.")
    if len(line) > MAX_KEY_LENGTH or "PRIVATE KEY" in line:
        raise ValidationError(
            "This is not a public key. Paste the contents of the .pub file "
            "(it starts with ssh-ed25519, ssh-rsa or ecdsa-sha2-...)."
        )
    try:
        load_ssh_public_key(line.encode())
    except (ValueError, UnsupportedAlgorithm):
        raise ValidationError(
            "This is not an OpenSSH public key. Paste the contents of the .pub file "
            "(it starts with ssh-ed25519, ssh-rsa or ecdsa-sha2-...)."
        ) from None
    blob = base64.b64decode(line.split(" ")[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return line, f"SHA256:{digest}"


def ssh_key_create(*, owner, name: str, public_key: str) -> SshKey:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the key a name, e.g. the computer it is on."]
    elif len(name) > 100:
        errors["name"] = ["Use at most 100 characters."]
    elif SshKey.objects.owned_by(owner).filter(name=name).exists():
        errors["name"] = ["You already have a key with this name."]
    line = fingerprint = ""
    try:
        line, fingerprint = ssh_key_parse(public_key)
    except ValidationError as error:
        errors["public_key"] = error.messages
    else:
        existing = SshKey.objects.owned_by(owner).filter(fingerprint=fingerprint).first()
        if existing is not None:
            errors["public_key"] = [f"This key is already in your account as {existing.name}."]
    if errors:
        raise ValidationError(errors)
    return SshKey.objects.create(owner=owner, name=name, public_key=line, fingerprint=fingerprint)


def ssh_key_delete(*, key: SshKey, user) -> None:
    """Servers built with the key keep it; it is only no longer offered for new builds."""
    if key.owner_id != user.pk:
        raise PermissionDenied("This key is not yours.")
    key.delete()


def ssh_keys_text(keys) -> str:
    """The keys as cloud-init wants them: one public key a line."""
    return "\n".join(key.public_key for key in keys)
