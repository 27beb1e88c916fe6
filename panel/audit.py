"""The activity log's writer and the request context it reads.

Services stay free of ``request``: ``panel.middleware.AuditContextMiddleware`` puts the
caller's address and front door (web, API, admin) into a context variable for the duration of
the request, the API's token authentication adds the token's name, and ``audit_record`` reads
them. Outside a request (Celery tasks, management commands) the context is empty and entries
are written as channel "system" without an address.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, replace

from panel.models import AuditChannel, AuditEntry


@dataclass(frozen=True)
class AuditContext:
    channel: str = AuditChannel.SYSTEM
    ip: str | None = None
    token_name: str = ""


_OUTSIDE_A_REQUEST = AuditContext()
_context: contextvars.ContextVar[AuditContext] = contextvars.ContextVar("audit_context")


def audit_context() -> AuditContext:
    return _context.get(_OUTSIDE_A_REQUEST)


def audit_context_set(context: AuditContext) -> contextvars.Token:
    """Returns the token to pass to ``audit_context_reset`` when the request ends."""
    return _context.set(context)


def audit_context_reset(token: contextvars.Token) -> None:
    _context.reset(token)


def audit_context_update(**changes) -> None:
    """Refine the current request's context (the API's authentication names the token)."""
    _context.set(replace(audit_context(), **changes))


def audit_record(
    *,
    actor,
    action: str,
    owner=None,
    server=None,
    job=None,
    object_repr: str = "",
    details: dict | None = None,
) -> AuditEntry:
    """Write one activity entry; ``owner`` (the customer it concerns) defaults to the server's
    owner, then the job's."""
    context = audit_context()
    actor = actor if getattr(actor, "pk", None) else None
    if owner is None and server is not None:
        owner = server.owner_id
    if owner is None and job is not None:
        owner = job.owner_id
    owner_id = getattr(owner, "pk", owner)
    return AuditEntry.objects.create(
        actor=actor,
        actor_is_staff=bool(actor is not None and actor.is_staff),
        owner_id=owner_id,
        server=server,
        action=action,
        object_repr=(object_repr or (str(server) if server is not None else ""))[:200],
        job=job,
        channel=context.channel,
        ip=context.ip,
        token_name=context.token_name,
        details=details or {},
    )
