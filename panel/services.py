"""Writes of the account: a customer's SSH keys, browser sessions and API tokens."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from importlib import import_module

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from knox.models import get_token_model

from panel.audit import audit_record
from panel.models import ApiTokenProfile, SshKey, TokenScope, UserSession

# A browser's or token's "last seen/used" is refreshed at most this often, so polling costs no
# write per request.
LAST_USED_EVERY = timedelta(minutes=1)
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
    with transaction.atomic():
        key = SshKey.objects.create(
            owner=owner, name=name, public_key=line, fingerprint=fingerprint
        )
        audit_record(
            actor=owner,
            owner=owner,
            action="ssh_key_added",
            object_repr=name,
            details={"fingerprint": fingerprint},
        )
    return key


def ssh_key_delete(*, key: SshKey, user) -> None:
    """Servers built with the key keep it; it is only no longer offered for new builds."""
    if key.owner_id != user.pk:
        raise PermissionDenied("This key is not yours.")
    with transaction.atomic():
        audit_record(
            actor=user,
            owner=key.owner_id,
            action="ssh_key_removed",
            object_repr=key.name,
            details={"fingerprint": key.fingerprint},
        )
        key.delete()


def ssh_keys_text(keys) -> str:
    """The keys as cloud-init wants them: one public key a line."""
    return "\n".join(key.public_key for key in keys)


# --- browser sessions ------------------------------------------------------------------------


def _session_store(session_key: str):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)


def user_session_touch(*, user, session_key: str, user_agent: str, ip: str | None, now) -> None:
    UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={"user": user, "user_agent": user_agent[:300], "ip": ip, "last_seen_at": now},
    )


def user_session_forget(*, user, session_key: str) -> None:
    """The browser signed itself out: its row goes (the session store has flushed it already)."""
    UserSession.objects.owned_by(user).filter(session_key=session_key).delete()


def user_session_end(*, user, session_key: str) -> None:
    """Sign one of the user's browsers out: its session is deleted from the session store, so
    its next request is anonymous. Another account's session is refused as absent."""
    row = UserSession.objects.owned_by(user).filter(session_key=session_key).first()
    if row is None:
        raise UserSession.DoesNotExist
    _session_store(session_key).delete()
    row.delete()
    audit_record(actor=user, owner=user, action="session_ended", object_repr=row.user_agent[:200])


def user_sessions_end_others(*, user, keep_session_key: str | None) -> int:
    """Sign every other browser of the user out (after a password change or a new second
    factor); returns how many were ended."""
    others = UserSession.objects.owned_by(user).exclude(session_key=keep_session_key or "")
    keys = list(others.values_list("session_key", flat=True))
    for key in keys:
        _session_store(key).delete()
    others.delete()
    if keys:
        audit_record(actor=user, owner=user, action="sessions_ended", details={"count": len(keys)})
    return len(keys)


# --- API tokens --------------------------------------------------------------------------------


def api_token_create(*, user, name: str, scope: str, expiry) -> tuple[object, str]:
    """A new knox token with its name and scope; returns (the token row, the secret)."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the token a name, e.g. the tool that will use it."]
    elif len(name) > 100:
        errors["name"] = ["Use at most 100 characters."]
    if scope not in TokenScope.values:
        errors["scope"] = ["Choose read only or full access."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        instance, secret = get_token_model().objects.create(user=user, expiry=expiry)
        ApiTokenProfile.objects.create(token=instance, name=name, scope=scope)
        audit_record(
            actor=user,
            owner=user,
            action="api_token_created",
            object_repr=name,
            details={"scope": scope, "token_key": instance.token_key},
        )
    return instance, secret


def api_token_revoke(*, user, token) -> None:
    if token.user_id != user.pk:
        raise PermissionDenied("This token is not yours.")
    profile = ApiTokenProfile.objects.filter(token=token).first()
    with transaction.atomic():
        audit_record(
            actor=user,
            owner=user,
            action="api_token_revoked",
            object_repr=profile.name if profile else token.token_key,
        )
        token.delete()


def api_token_mark_used(*, token, now) -> None:
    """Record that the token was used, at most once a minute (a poll loop costs no write)."""
    ApiTokenProfile.objects.filter(token=token).exclude(
        last_used_at__gt=now - LAST_USED_EVERY
    ).update(last_used_at=now)
