"""Request-scoped facts the panel records: the activity log's context and the session list."""

from __future__ import annotations

from django.utils import timezone

from panel.audit import AuditContext, audit_context_reset, audit_context_set
from panel.models import AuditChannel
from panel.services import LAST_USED_EVERY, user_session_touch

_SEEN_KEY = "_panel_seen"


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be unless a proxy we
    # trust sets it; behind a reverse proxy, have the server (gunicorn's --forwarded-allow-ips,
    # or the proxy's PROXY protocol) put the client's address in REMOTE_ADDR.
    return request.META.get("REMOTE_ADDR") or None


def request_channel(path: str) -> str:
    if path.startswith("/api/"):
        return AuditChannel.API
    if path.startswith("/admin/"):
        return AuditChannel.ADMIN
    return AuditChannel.WEB


class AuditContextMiddleware:
    """Sets ``panel.audit``'s context (address, front door) for the request's duration."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = audit_context_set(
            AuditContext(channel=request_channel(request.path), ip=client_ip(request))
        )
        try:
            return self.get_response(request)
        finally:
            audit_context_reset(token)


class SessionActivityMiddleware:
    """Keeps the signed-in browser's row (``UserSession``) current, at most once a minute.

    Runs on the way out, so the session a sign-in just created (with its new key) is recorded
    by the same request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is None or user is None or not user.is_authenticated:
            return response
        browser_seen(request, user=user)
        return response


def browser_seen(request, *, user) -> None:
    """Record the signed-in browser (at most once a minute per session); the sign-in itself
    records it too, so the first page after it costs no write."""
    session = request.session
    key = session.session_key
    if not key:
        return
    now = timezone.now()
    seen = session.get(_SEEN_KEY)
    if seen and seen[0] == key and now.timestamp() - seen[1] < LAST_USED_EVERY.total_seconds():
        return
    user_session_touch(
        user=user,
        session_key=key,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ip=client_ip(request),
        now=now,
    )
    session[_SEEN_KEY] = [key, now.timestamp()]
