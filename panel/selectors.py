"""Reads of jobs and SSH keys, always through the one permission-filtered queryset."""

from __future__ import annotations

from django.db.models import QuerySet

from panel.models import ACTIVE_JOB_STATES, Job, SshKey


def jobs_for_user(*, user) -> QuerySet[Job]:
    """Staff see every job; a customer the jobs about their own servers (kept after a delete)."""
    qs = Job.objects.select_related("server", "requested_by", "owner")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user.is_staff:
        return qs
    return qs.filter(owner=user)


def job_get_for_user(*, user, job_id) -> Job:
    """One job the user may see; ``Job.DoesNotExist`` otherwise."""
    return jobs_for_user(user=user).get(pk=job_id)


def jobs_for_server(*, user, server) -> QuerySet[Job]:
    return jobs_for_user(user=user).filter(server=server)


def job_active_for_server(*, server) -> Job | None:
    return Job.objects.filter(server=server, state__in=ACTIVE_JOB_STATES).first()


def ssh_keys_for_user(*, user) -> QuerySet[SshKey]:
    """A user's own keys; nobody, staff included, lists another account's keys here."""
    if not getattr(user, "is_authenticated", False):
        return SshKey.objects.none()
    return SshKey.objects.filter(owner=user)
