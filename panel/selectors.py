"""Reads of jobs, always through the one permission filter (``Job.objects.restrict(user)``), and
of a user's own SSH keys (``SshKey.objects.owned_by(user)``, its sibling in panel/querysets.py)."""

from __future__ import annotations

from django.db.models import QuerySet

from panel.models import Job, SshKey


def jobs_for_user(*, user) -> QuerySet[Job]:
    """Staff see every job; a customer the jobs about their own servers (kept after a delete)."""
    return Job.objects.restrict(user).select_related("server", "requested_by", "owner")


def job_get_for_user(*, user, job_id) -> Job:
    """One job the user may see; ``Job.DoesNotExist`` otherwise."""
    return jobs_for_user(user=user).get(pk=job_id)


def ssh_keys_for_user(*, user) -> QuerySet[SshKey]:
    """A user's own keys; nobody, staff included, lists another account's keys here."""
    return SshKey.objects.owned_by(user)
