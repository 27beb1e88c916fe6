"""Reads of servers, always through the one permission filter (`Server.objects.restrict`)."""

from __future__ import annotations

from django.db.models import QuerySet

from servers.models import Server


def servers_for_user(*, user) -> QuerySet[Server]:
    """Staff see every server; a customer only their own (anyone else: none)."""
    return Server.objects.restrict(user).select_related("node", "plan", "owner", "template")
