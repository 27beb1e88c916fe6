"""Reads of servers, always through the one permission filter (`Server.objects.restrict`)."""

from __future__ import annotations

from django.db.models import QuerySet

from servers.models import Server


def servers_for_user(*, user) -> QuerySet[Server]:
    """Staff see every server; a customer only their own (anyone else: none)."""
    return Server.objects.restrict(user).select_related("node", "plan", "owner", "template")


SPEC_FIELDS = ("cpu_cores", "memory_mib", "disk_gib")


def server_ordered_specs(*, server: Server) -> dict[str, int]:
    """What was ordered for a server PVE has not confirmed yet (its specs are still 0): the specs
    of its latest create job; {} once PVE has confirmed them, or if there is no such job."""
    if server.cpu_cores:
        return {}
    create = server.jobs.filter(kind="create").order_by("-created_at").first()
    params = create.params if create is not None else {}
    return {field: params[field] for field in SPEC_FIELDS if params.get(field)}
