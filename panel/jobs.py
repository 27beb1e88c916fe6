"""Job lifecycle services: the durable record of every change the panel makes on PVE.

How the engine works, and the decisions behind it:

* **One mutating job per server, refused, not queued.** The database constraint
  ``one_active_job_per_server`` allows one queued/running job per server. A second request while
  one is active raises :class:`JobConflict` carrying the active job: the UI says "another job is
  running on this server", the API answers 409 with that job. We refuse instead of queueing because
  a queue hides intents that conflict (a delete behind a resize, two resizes to different sizes);
  the person sees the running job finish and decides again with the truth in front of them.
* **Steps.** ``Job.steps`` lists the job's steps as dicts ``{name, label, task, state, upid,
  upid_node, started_at, finished_at, note}``; ``state`` is pending/running/done/skipped/failed and
  ``task`` is the Celery task that runs the step. Work is queued only after the commit
  (``transaction.on_commit``) as a Celery chain of the tasks of the steps not yet done, so a
  resumed job continues where it stopped.
* **UPIDs before waiting.** A step commits the UPID PVE gave it *before* it waits
  (:func:`job_step_record_upid`); a redelivered or resumed step waits on that UPID instead of
  issuing the operation again.
* **Leases.** A task execution claims the job (:func:`job_start`): ``lease_token`` plus a
  ``heartbeat_at`` it refreshes while it waits on PVE. While the heartbeat is fresher than
  ``JOB_STALE_AFTER_S`` any other delivery of the same job does nothing, so acks_late
  redeliveries and sweeper resumes never run a step twice at once.
* **Sweeper.** :func:`jobs_sweep` (Celery beat, and once when a worker starts) finds active jobs
  whose heartbeat went stale (the worker died) and resumes them, or fails them with the reason
  once they were resumed ``JOB_MAX_RESUMES`` times: nothing stays running forever.
* **No transaction across a PVE call.** Every function here is one short transaction; the step
  code in ``servers.services`` calls PVE between them.
"""

from __future__ import annotations

import logging
import time
import traceback as traceback_module
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from panel.models import ACTIVE_JOB_STATES, AuditEntry, Job, JobState

logger = logging.getLogger(__name__)

STEP_PENDING = "pending"
STEP_RUNNING = "running"
STEP_DONE = "done"
STEP_SKIPPED = "skipped"
STEP_FAILED = "failed"
_STEP_FINISHED = (STEP_DONE, STEP_SKIPPED)

# How often a waiting step writes its heartbeat (seconds); well below JOB_STALE_AFTER_S.
HEARTBEAT_EVERY_S = 5.0


def _heartbeat_every_s() -> float:
    return min(HEARTBEAT_EVERY_S, settings.JOB_STALE_AFTER_S / 3)


class JobConflict(Exception):
    """Another mutating job is already queued or running on this server."""

    def __init__(self, active_job: Job | None):
        self.active_job = active_job
        super().__init__("Another job is already running on this server; wait for it to finish.")


class JobLeaseLost(Exception):
    """Another execution took this job over (ours was presumed dead); stop touching it."""


class JobRetryLater(Exception):
    """The step cannot start yet (e.g. the node's cap on heavy tasks); run the task again later."""

    def __init__(self, message: str, *, countdown_s: float = 10.0):
        self.countdown_s = countdown_s
        super().__init__(message)


@dataclass(frozen=True)
class StepSpec:
    name: str
    label: str
    task: str


def _now():
    return timezone.now()


def _stale_after_s() -> int:
    return int(settings.JOB_STALE_AFTER_S)


# --- creation and dispatch ----------------------------------------------------------------------


def job_create(
    *,
    kind: str,
    server,
    requested_by,
    params: Mapping | None = None,
    steps: Iterable[StepSpec],
    target_name: str = "",
    owner=None,
) -> Job:
    """Record a queued job. Raises :class:`JobConflict` if the server already has an active one.

    The tenant (``owner``) comes from the server so a customer's job list is one filter.
    """
    step_rows = [
        {
            "name": s.name,
            "label": s.label,
            "task": s.task,
            "state": STEP_PENDING,
            "upid": "",
            "upid_node": "",
            "started_at": None,
            "finished_at": None,
            "note": "",
        }
        for s in steps
    ]
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                server=server,
                target_name=target_name or (server.name if server is not None else ""),
                owner=owner if owner is not None else getattr(server, "owner", None),
                requested_by=requested_by,
                params=dict(params or {}),
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


def job_active_for_server(*, server) -> Job | None:
    return Job.objects.filter(server=server, state__in=ACTIVE_JOB_STATES).first()


def _remaining_tasks(job: Job) -> list[str]:
    names: list[str] = []
    for step in job.steps:
        if step["state"] in _STEP_FINISHED:
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


# --- claiming, heartbeats, steps ---------------------------------------------------------------


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
        2 if s["state"] in _STEP_FINISHED else 1 if s["state"] == STEP_RUNNING else 0 for s in steps
    )
    return min(100, int(score * 100 / (2 * len(steps))))


def _step(job: Job, name: str) -> dict:
    for step in job.steps:
        if step["name"] == name:
            return step
    raise KeyError(f"job {job.pk} has no step {name!r}")


def _save_steps(job: Job, *extra_fields: str, **values) -> None:
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
    row = _step(job, step)
    if row["state"] != STEP_RUNNING:
        row["state"] = STEP_RUNNING
        row["started_at"] = _now().isoformat()
    _save_steps(job, current_step=step)
    return row


def job_step_record_upid(*, job: Job, step: str, upid: str, node: str) -> None:
    """Commit the UPID of the PVE task a step started, before anyone waits on it."""
    row = _step(job, step)
    row["upid"] = upid
    row["upid_node"] = node
    # The job's task log follows this task from now on (in the same UPDATE).
    _save_steps(job, upid=upid, upid_node=node, task_log="")


def job_step_done(*, job: Job, step: str, skipped: bool = False, note: str = "") -> None:
    row = _step(job, step)
    row["state"] = STEP_SKIPPED if skipped else STEP_DONE
    row["finished_at"] = _now().isoformat()
    if note:
        row["note"] = note
    _save_steps(job, current_step="")


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
            row = _step(job, step)
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
    _run_failure_hooks(job)
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


# --- failure hooks: let the owning app leave its objects truthful ------------------------------

_failure_hooks: dict[str, Callable[[Job], None]] = {}


def register_failure_hook(*, kinds: Iterable[str], hook: Callable[[Job], None]) -> None:
    """Called after a job of these kinds failed (also when the sweeper gives up on it)."""
    for kind in kinds:
        _failure_hooks[kind] = hook


def _run_failure_hooks(job: Job) -> None:
    hook = _failure_hooks.get(job.kind)
    if hook is None:
        return
    try:
        hook(job)
    except Exception:
        # The job is already failed with its own reason; a hook error must not mask it.
        logger.exception("failure hook for job %s raised", job.pk)


# --- retrying a failed job: the owning app records the new one ---------------------------------

_retry_handlers: dict[str, Callable[..., Job]] = {}


def register_retry_handler(*, kinds: Iterable[str], handler: Callable[..., Job]) -> None:
    """``handler(*, job, user) -> Job`` records a new job doing again what the failed ``job`` asked
    for, through the owning app's own service (so every check runs again), or raises
    ``ValidationError``/:class:`JobConflict`."""
    for kind in kinds:
        _retry_handlers[kind] = handler


def job_retry(*, job: Job, user) -> Job:
    """Queue a new job of the same kind, on the same server, with the same parameters as the
    failed ``job``. The failed job stays as it is (history), marked with the job that retried it.

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
    handler = _retry_handlers.get(current.kind)
    if handler is None:
        raise ValidationError(
            {NON_FIELD_ERRORS: [f"A {current.get_kind_display()} job cannot be retried here."]}
        )
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=current.pk)
        if (locked.result or {}).get("retried_as"):
            raise ValidationError({NON_FIELD_ERRORS: ["This job was just retried."]})
        new_job = handler(job=locked, user=user)
        locked.result = {**(locked.result or {}), "retried_as": str(new_job.pk)}
        Job.objects.filter(pk=locked.pk).update(result=locked.result)
        AuditEntry.objects.create(
            actor=user if getattr(user, "pk", None) else None,
            action="job_retried",
            object_repr=locked.target_name,
            job=new_job,
            details={"retry_of": str(locked.pk), "kind": locked.kind},
        )
    job.result = locked.result
    return new_job


# --- running a task's steps --------------------------------------------------------------------


@dataclass
class StepRun:
    """What a step function gets: the job, its step row, and ways to record progress."""

    job: Job
    name: str
    _last_beat: float = field(default=0.0)

    @property
    def step(self) -> dict:
        return _step(self.job, self.name)

    @property
    def upid(self) -> str:
        return self.step["upid"]

    @property
    def upid_node(self) -> str:
        return self.step["upid_node"]

    def record_upid(self, upid: str, node: str) -> None:
        job_step_record_upid(job=self.job, step=self.name, upid=upid, node=node)

    def save_step(self, **fields) -> None:
        """Store extra facts on the step row (e.g. a retry count, a note)."""
        self.step.update(fields)
        _save_steps(self.job)

    def forget_upid(self) -> None:
        """The recorded task ended in a way that means the operation must be issued again."""
        job_step_record_upid(job=self.job, step=self.name, upid="", node="")

    def heartbeat(self, *_args) -> None:
        now = time.monotonic()
        if now - self._last_beat >= _heartbeat_every_s():
            job_heartbeat(job=self.job)
            self._last_beat = now

    def store_task_log(self, lines: Iterable[str]) -> None:
        job_store_task_log(job=self.job, lines=lines)

    def follow_task_log(
        self,
        fetch: Callable[[], list[str]],
        *,
        every_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> TaskLogFollower:
        """An ``on_poll`` hook for ``wait_for_task``: keeps the lease alive and refreshes the
        job's task log from ``fetch`` at most every ``every_s`` seconds. People read it, so a
        couple of seconds is fresh enough, and it bounds the extra PVE calls to one per
        interval, not one per poll."""
        return TaskLogFollower(run=self, fetch=fetch, every_s=every_s, clock=clock)


class TaskLogFollower:
    """``on_poll`` hook: heartbeat on every poll; the task log only every ``every_s``.

    The first read comes ``every_s`` after the wait began, so the many short tasks cost no extra
    call at all; the final tail is read by the wait itself when the task stops.
    """

    def __init__(self, *, run: StepRun, fetch, every_s: float, clock: Callable[[], float]):
        self.run = run
        self.fetch = fetch
        self.every_s = every_s
        self.clock = clock
        self.last_read = clock()

    def __call__(self, status: dict | None = None) -> None:
        self.run.heartbeat()
        if status is not None and status.get("status") == "stopped":
            return  # the wait reads the final tail itself
        now = self.clock()
        if now - self.last_read < self.every_s:
            return
        self.last_read = now
        try:
            lines = self.fetch()
        except Exception as exc:
            # The live log is for people to watch; failing to read it must not fail the job.
            logger.warning("job %s: could not read the task log: %s", self.run.job.pk, exc)
            return
        if lines:
            self.run.store_task_log(lines)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(error text for people, PVE task log tail) for an exception raised by a step."""
    from proxmox.errors import PveError, PveTaskFailed

    if isinstance(exc, PveTaskFailed):
        return f"PVE task failed: {exc.exitstatus}", "\n".join(exc.log_tail)
    if isinstance(exc, PveError):
        return str(exc), ""
    return f"{type(exc).__name__}: {exc}", ""


def job_run_task(
    *, job_id, task_name: str, handlers: Mapping[str, Callable[[StepRun], None]]
) -> None:
    """Run, in order, the job's unfinished steps that belong to ``task_name``.

    Steps of earlier tasks must be finished first (an out-of-order duplicate delivery does
    nothing). When every step is finished the job succeeds. A step's exception fails the job
    (with PVE's message), except :class:`JobRetryLater` which the task turns into a Celery retry
    and :class:`JobLeaseLost` which means another execution owns the job now.
    """
    job = job_start(job_id=job_id)
    if job is None:
        return
    try:
        for step in job.steps:
            if step["state"] in _STEP_FINISHED:
                continue
            if step["task"] != task_name:
                break  # a step for another task comes first: not ours to run yet
            handler = handlers[step["name"]]
            run = StepRun(job=job, name=step["name"])
            job_step_begin(job=job, step=step["name"])
            try:
                handler(run)
            except (JobRetryLater, JobLeaseLost):
                raise
            except Exception as exc:
                error, task_log = describe_error(exc)
                label = step["label"]
                logger.warning("job %s step %s failed: %s", job.pk, step["name"], error)
                job_fail(
                    job=job,
                    error=f"{label}: {error}",
                    traceback=traceback_module.format_exc(),
                    task_log=task_log,
                    step=step["name"],
                )
                return
            if run.step["state"] not in _STEP_FINISHED:
                job_step_done(job=job, step=step["name"])
        if all(s["state"] in _STEP_FINISHED for s in job.steps):
            job_succeed(job=job)
    except JobLeaseLost:
        logger.info("job %s was taken over by another execution", job_id)
        return
    except JobRetryLater:
        # Reset the step so the retried task begins it cleanly, then hand the lease back.
        job_release(job=job)
        raise
    finally:
        if not job.is_finished:
            job_release(job=job)


# --- the sweeper --------------------------------------------------------------------------------


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
            AuditEntry.objects.create(
                actor=None,
                action=action,
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
