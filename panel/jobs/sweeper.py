"""The sweeper: active jobs whose worker stopped making progress are resumed, or failed with the
reason once they were resumed too often, so nothing stays running forever."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from panel.audit import audit_record
from panel.jobs.lease import _now, _stale_after_s, job_fail
from panel.jobs.recording import job_dispatch
from panel.models import ACTIVE_JOB_STATES, Job

logger = logging.getLogger(__name__)


def jobs_sweep(*, stale_after_s: float | None = None, max_resumes: int | None = None) -> list:
    """Resume active jobs whose worker stopped making progress; fail those resumed too often.

    Returns ``[(job_id, "resumed"|"failed"), ...]``.
    """
    stale_after_s = _stale_after_s() if stale_after_s is None else stale_after_s
    max_resumes = (
        int(getattr(settings, "JOB_MAX_RESUMES", 3)) if max_resumes is None else max_resumes
    )
    now = _now()
    stale_before = now - timedelta(seconds=stale_after_s)
    stale = Q(heartbeat_at__lt=stale_before) | Q(
        heartbeat_at__isnull=True, created_at__lt=stale_before
    )
    outcome = []
    to_fail: list[tuple[Job, str]] = []
    for job_id in Job.objects.filter(stale, state__in=ACTIVE_JOB_STATES).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            job = (
                Job.objects.select_for_update()
                .filter(stale, pk=job_id, state__in=ACTIVE_JOB_STATES)
                .first()
            )
            if job is None:
                continue  # it moved on while we looked
            age = (
                f"no heartbeat for {int((now - job.heartbeat_at).total_seconds())} s"
                if job.heartbeat_at
                else f"not picked up for {int((now - job.created_at).total_seconds())} s"
            )
            if job.attempts > max_resumes:
                reason = (
                    f"The worker running this job stopped ({age}) and the job was already "
                    f"resumed {job.attempts - 1} times; giving up."
                )
                # Take the lease so no late delivery runs it while we fail it below.
                job.lease_token = uuid.uuid4().hex
                job.heartbeat_at = now
                job.save(update_fields=["lease_token", "heartbeat_at"])
                to_fail.append((job, reason))
                action = "job_failed_by_sweeper"
            else:
                reason = f"Resumed by the sweeper: {age}."
                job.lease_token = ""
                job.heartbeat_at = now
                job.attempts += 1
                job.save(update_fields=["lease_token", "heartbeat_at", "attempts"])
                job_dispatch(job=job)
                outcome.append((str(job.pk), "resumed"))
                action = "job_resumed"
            audit_record(
                actor=None,
                action=action,
                server=job.server,
                object_repr=job.target_name,
                job=job,
                details={"reason": reason},
            )
            logger.warning("job %s: %s", job.pk, reason)
    # Outside the transaction: failure hooks may look at PVE to leave the server truthful.
    for job, reason in to_fail:
        job_fail(job=job, error=reason, step=job.current_step or None)
        outcome.append((str(job.pk), "failed"))
    return outcome
