"""The job's state, written only by the execution holding its lease.

A task execution claims the job (:func:`job_start`): ``lease_token`` plus a ``heartbeat_at`` it
refreshes while it waits on PVE. Every write of the steps, the UPID, the task log and the end
state is one UPDATE filtered on the lease token; when it matches no row another execution took
the job over and :class:`JobLeaseLost` tells this one to stop touching it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from panel.jobs.registry import job_definition_or_none
from panel.models import Job, JobState

logger = logging.getLogger(__name__)

STEP_PENDING = "pending"
STEP_RUNNING = "running"
STEP_DONE = "done"
STEP_SKIPPED = "skipped"
STEP_FAILED = "failed"
STEP_FINISHED = (STEP_DONE, STEP_SKIPPED)


class JobLeaseLost(Exception):
    """Another execution took this job over (ours was presumed dead); stop touching it."""


def _now():
    return timezone.now()


def _stale_after_s() -> int:
    return int(settings.JOB_STALE_AFTER_S)


def job_start(*, job_id) -> Job | None:
    """Claim the job for this execution. None when there is nothing to do: the job is finished,
    unknown, or held by an execution whose heartbeat is still fresh."""
    now = _now()
    stale_before = now - timedelta(seconds=_stale_after_s())
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if job.lease_token and job.heartbeat_at and job.heartbeat_at > stale_before:
            logger.info("job %s is held by a live execution; this delivery does nothing", job.pk)
            return None
        job.lease_token = uuid.uuid4().hex
        job.heartbeat_at = now
        fields = ["lease_token", "heartbeat_at"]
        if job.state == JobState.QUEUED:
            job.state = JobState.RUNNING
            job.started_at = now
            job.attempts += 1
            fields += ["state", "started_at", "attempts"]
        job.save(update_fields=fields)
    return job


def job_release(*, job: Job) -> None:
    """Give the lease back (end of a task in a chain); the next task claims it at once."""
    Job.objects.filter(pk=job.pk, lease_token=job.lease_token).update(lease_token="")


def job_heartbeat(*, job: Job) -> None:
    """Prove this execution is alive. Raises :class:`JobLeaseLost` if the job was taken over."""
    now = _now()
    updated = Job.objects.filter(
        pk=job.pk, lease_token=job.lease_token, state=JobState.RUNNING
    ).update(heartbeat_at=now)
    if not updated:
        raise JobLeaseLost(f"job {job.pk} is no longer held by this execution")
    job.heartbeat_at = now


def _progress(steps: list[dict]) -> int:
    if not steps:
        return 0
    score = sum(
        2 if s["state"] in STEP_FINISHED else 1 if s["state"] == STEP_RUNNING else 0 for s in steps
    )
    return min(100, int(score * 100 / (2 * len(steps))))


def step_row(job: Job, name: str) -> dict:
    for step in job.steps:
        if step["name"] == name:
            return step
    raise KeyError(f"job {job.pk} has no step {name!r}")


def save_steps(job: Job, *extra_fields: str, **values) -> None:
    """Write the steps (and given fields) only while we hold the lease."""
    job.progress = _progress(job.steps)
    for key, value in values.items():
        setattr(job, key, value)
    fields = {"steps": job.steps, "progress": job.progress, "heartbeat_at": _now()}
    fields.update({f: getattr(job, f) for f in extra_fields})
    fields.update(values)
    updated = Job.objects.filter(pk=job.pk, lease_token=job.lease_token).update(**fields)
    if not updated:
        raise JobLeaseLost(f"job {job.pk} is no longer held by this execution")


def job_step_begin(*, job: Job, step: str) -> dict:
    row = step_row(job, step)
    if row["state"] != STEP_RUNNING:
        row["state"] = STEP_RUNNING
        row["started_at"] = _now().isoformat()
    save_steps(job, current_step=step)
    return row


def job_step_record_upid(*, job: Job, step: str, upid: str, node: str) -> None:
    """Commit the UPID of the PVE task a step started, before anyone waits on it."""
    row = step_row(job, step)
    row["upid"] = upid
    row["upid_node"] = node
    # The job's task log follows this task from now on (in the same UPDATE).
    save_steps(job, upid=upid, upid_node=node, task_log="")


def job_step_done(*, job: Job, step: str, skipped: bool = False, note: str = "") -> None:
    row = step_row(job, step)
    row["state"] = STEP_SKIPPED if skipped else STEP_DONE
    row["finished_at"] = _now().isoformat()
    if note:
        row["note"] = note
    save_steps(job, current_step="")


def job_store_task_log(*, job: Job, lines: Iterable[str]) -> None:
    """Store the tail of the PVE task log the job follows now (one UPDATE, only if it changed),
    so the job's page shows it while the task runs; only while we hold the lease."""
    text = "\n".join(lines)
    if text == job.task_log:
        return
    updated = Job.objects.filter(pk=job.pk, lease_token=job.lease_token).update(task_log=text)
    if not updated:
        raise JobLeaseLost(f"job {job.pk} is no longer held by this execution")
    job.task_log = text


def job_set_result(*, job: Job, **values) -> None:
    job.result = {**job.result, **values}
    Job.objects.filter(pk=job.pk).update(result=job.result)


def job_succeed(*, job: Job) -> None:
    now = _now()
    job.state = JobState.SUCCEEDED
    job.progress = 100
    job.finished_at = now
    job.current_step = ""
    updated = Job.objects.filter(pk=job.pk, lease_token=job.lease_token).update(
        state=job.state,
        progress=100,
        finished_at=now,
        current_step="",
        lease_token="",
        steps=job.steps,
        result=job.result,
    )
    if not updated:
        raise JobLeaseLost(f"job {job.pk} is no longer held by this execution")


def job_fail(
    *, job: Job, error: str, traceback: str = "", task_log: str = "", step: str | None = None
) -> None:
    """Mark the job failed with PVE's own message, the task log tail and our traceback."""
    now = _now()
    if step:
        try:
            row = step_row(job, step)
            row["state"] = STEP_FAILED
            row["finished_at"] = now.isoformat()
        except KeyError:
            pass
    job.state = JobState.FAILED
    job.error = error
    job.traceback = traceback
    job.task_log = task_log or job.task_log
    job.finished_at = now
    # The owning app first makes its objects truthful, so whoever sees the job failed also sees
    # the server as PVE left it.
    _run_failure_hook(job)
    updated = Job.objects.filter(pk=job.pk, lease_token=job.lease_token).update(
        state=JobState.FAILED,
        error=error,
        traceback=traceback,
        task_log=job.task_log,
        finished_at=now,
        lease_token="",
        steps=job.steps,
        result=job.result,
    )
    if not updated:
        raise JobLeaseLost(f"job {job.pk} is no longer held by this execution")


def _run_failure_hook(job: Job) -> None:
    """The kind's declared ``on_failure`` (registered in its app's ``ready()``, so present in
    every process that can fail a job)."""
    definition = job_definition_or_none(kind=job.kind)
    if definition is None or definition.on_failure is None:
        return
    try:
        definition.on_failure(job)
    except Exception:
        # The job is already failed with its own reason; a hook error must not mask it.
        logger.exception("failure hook for job %s raised", job.pk)
