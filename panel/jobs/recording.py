"""Recording a job and queueing its work: ``job_create`` (one active job per server),
``job_dispatch`` (the Celery chain, after the commit) and ``job_retry`` (a failed job recorded
again)."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import capfirst

from panel.audit import audit_record
from panel.jobs.lease import STEP_FINISHED, STEP_PENDING
from panel.jobs.registry import JobDefinition, job_definition_or_none
from panel.models import ACTIVE_JOB_STATES, Job, JobState

# The one wording of a conflict, for pages, admin, the API (panel.outcomes) and logs alike.
CONFLICT_ADVICE = "Wait for it to finish, then try again."


def conflict_reason(active_job: Job | None) -> str:
    """'another job is running on this server: Power (running, 50% done)'."""
    if active_job is None:
        return "another job is running on this server"
    return (
        f"another job is running on this server: {active_job.get_kind_display()} "
        f"({active_job.get_state_display().lower()}, {active_job.progress}% done)"
    )


def conflict_message(active_job: Job | None) -> str:
    return f"{capfirst(conflict_reason(active_job))}. {CONFLICT_ADVICE}"


class JobConflict(Exception):
    """Another mutating job is already queued or running on this server."""

    def __init__(self, active_job: Job | None):
        self.active_job = active_job
        super().__init__(conflict_message(active_job))


def job_create(
    *,
    definition: JobDefinition,
    server,
    requested_by,
    params: Mapping | None = None,
    target_name: str = "",
    owner=None,
) -> Job:
    """Record a queued job of ``definition``'s kind, with the declared steps that apply to its
    ``params``. Raises :class:`JobConflict` if the server already has an active one.

    The tenant (``owner``) comes from the server so a customer's job list is one filter.
    """
    params = dict(params or {})
    step_rows = [
        {
            "name": s.name,
            "label": s.label_for(params),
            "task": s.task.name,
            "state": STEP_PENDING,
            "upid": "",
            "upid_node": "",
            "started_at": None,
            "finished_at": None,
            "note": "",
        }
        for s in definition.steps_for(params)
    ]
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=definition.kind,
                server=server,
                target_name=target_name or (server.name if server is not None else ""),
                owner=owner if owner is not None else getattr(server, "owner", None),
                requested_by=requested_by,
                params=params,
                steps=step_rows,
            )
    except IntegrityError:
        active = (
            Job.objects.filter(server=server, state__in=ACTIVE_JOB_STATES).first()
            if server is not None
            else None
        )
        if active is None:
            raise
        raise JobConflict(active) from None
    return job


def _remaining_tasks(job: Job) -> list[str]:
    names: list[str] = []
    for step in job.steps:
        if step["state"] in STEP_FINISHED:
            continue
        if not names or names[-1] != step["task"]:
            names.append(step["task"])
    return names


def job_dispatch(*, job: Job) -> None:
    """Queue the Celery chain of the job's unfinished steps once the transaction commits."""
    job_id = str(job.pk)
    task_names = _remaining_tasks(job)
    if not task_names:
        return

    def send() -> None:
        from celery import chain

        from config.celery import app

        signatures = [app.signature(name, args=(job_id,), immutable=True) for name in task_names]
        if len(signatures) == 1:
            signatures[0].apply_async()
        else:
            chain(*signatures).apply_async()

    transaction.on_commit(send)


def job_retry(*, job: Job, user) -> Job:
    """Queue a new job of the same kind, on the same server, with the same parameters as the
    failed ``job``, through the kind's declared ``retry``. The failed job stays as it is
    (history), marked with the job that retried it.

    Only a failed job can be retried, and only once: a retry that fails is retried in its turn.
    """
    current = Job.objects.filter(pk=job.pk).first()
    if current is None:
        raise ValidationError({NON_FIELD_ERRORS: ["This job no longer exists."]})
    if current.state != JobState.FAILED:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    f"Only a failed job can be retried; this one is {current.get_state_display()}."
                ]
            }
        )
    retried_as = (current.result or {}).get("retried_as")
    if retried_as:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    f"This job was already retried as job {retried_as}; retry that one if it "
                    "failed."
                ]
            }
        )
    definition = job_definition_or_none(kind=current.kind)
    if definition is None or definition.retry is None:
        raise ValidationError(
            {NON_FIELD_ERRORS: [f"A {current.get_kind_display()} job cannot be retried here."]}
        )
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=current.pk)
        if (locked.result or {}).get("retried_as"):
            raise ValidationError({NON_FIELD_ERRORS: ["This job was just retried."]})
        new_job = definition.retry(job=locked, user=user)
        locked.result = {**(locked.result or {}), "retried_as": str(new_job.pk)}
        Job.objects.filter(pk=locked.pk).update(result=locked.result)
        audit_record(
            actor=user,
            action="job_retried",
            server=locked.server,
            object_repr=locked.target_name,
            job=new_job,
            details={"retry_of": str(locked.pk), "kind": locked.kind},
        )
    job.result = locked.result
    return new_job
