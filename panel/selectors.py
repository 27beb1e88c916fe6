"""Reads of jobs, always through the one permission filter (``Job.objects.restrict(user)``), and
of a user's own SSH keys (``SshKey.objects.owned_by(user)``, its sibling in panel/querysets.py)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from knox.models import get_token_model

from panel.models import AuditEntry, Job, SshKey, UserSession


def jobs_for_user(*, user) -> QuerySet[Job]:
    """Staff see every job; a customer the jobs about their own servers (kept after a delete)."""
    return Job.objects.restrict(user).select_related("server", "requested_by", "owner")


def job_get_for_user(*, user, job_id) -> Job:
    """One job the user may see; ``Job.DoesNotExist`` otherwise."""
    return jobs_for_user(user=user).get(pk=job_id)


def ssh_keys_for_user(*, user) -> QuerySet[SshKey]:
    """A user's own keys; nobody, staff included, lists another account's keys here."""
    return SshKey.objects.owned_by(user)


def activity_for_user(*, user) -> QuerySet[AuditEntry]:
    """The activity log as ``user`` may read it: a customer their own entries, staff all."""
    return AuditEntry.objects.restrict(user).select_related("actor", "job", "server")


def user_sessions_for_user(*, user) -> QuerySet[UserSession]:
    """The user's own signed-in browsers, most recently seen first; a browser not seen for
    longer than a session lives has expired and is left out."""
    alive_since = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return UserSession.objects.owned_by(user).filter(last_seen_at__gte=alive_since)


def api_tokens_for_user(*, user):
    """The user's own API tokens that have not expired, newest first."""
    if not getattr(user, "is_authenticated", False):
        return get_token_model().objects.none()
    return (
        get_token_model()
        .objects.filter(user=user)
        .exclude(expiry__lt=timezone.now())
        .select_related("profile")
        .order_by("-created")
    )
