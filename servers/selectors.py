"""Reads of servers, always through the one permission-filtered queryset."""

from __future__ import annotations

from django.db.models import QuerySet

from servers.models import Server


def servers_for_user(*, user) -> QuerySet[Server]:
    """Staff see every server; a customer only their own (anyone else: none)."""
    qs = Server.objects.select_related("node", "plan", "owner", "template")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user.is_staff:
        return qs
    return qs.filter(owner=user)


def server_get_for_user(*, user, pk) -> Server:
    """One server the user may see; ``Server.DoesNotExist`` otherwise (a 404, never a 403)."""
    return servers_for_user(user=user).get(pk=pk)
