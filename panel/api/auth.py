"""Knox tokens with the panel's additions: the token's name goes into the activity log's
context, its last use is recorded, and a read-only token may only read."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework import permissions

from panel.audit import audit_context_update
from panel.models import ApiTokenProfile, TokenScope
from panel.services import api_token_mark_used


def _profile(token) -> ApiTokenProfile | None:
    try:
        return token.profile
    except ApiTokenProfile.DoesNotExist:
        return None


class PanelTokenAuthentication(TokenAuthentication):
    def validate_user(self, auth_token):
        user, token = super().validate_user(auth_token)
        profile = _profile(token)
        audit_context_update(token_name=profile.name if profile else token.token_key)
        api_token_mark_used(token=token, now=timezone.now())
        return user, token


class TokenScopePermission(permissions.BasePermission):
    """A read-only token is refused (403) for anything but GET, HEAD and OPTIONS."""

    message = "This API token is read-only."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        token = getattr(request, "auth", None)
        profile = _profile(token) if token is not None and hasattr(token, "digest") else None
        return profile is None or profile.scope != TokenScope.READ


class PanelTokenScheme(KnoxTokenScheme):
    """The schema documents the subclass exactly as knox's own token (drf-spectacular matches
    the authentication class by name, not by inheritance)."""

    target_class = "panel.api.auth.PanelTokenAuthentication"
