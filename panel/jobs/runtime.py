"""Running a job's steps inside a Celery task: ``job_task_run`` (what every job task calls),
``job_run_task`` (the steps of one task, in order), ``StepRun`` (what a step handler gets).
"""

from __future__ import annotations

import logging
import time
import traceback as traceback_module
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from django.conf import settings

from panel.jobs.lease import (
    STEP_FINISHED,
    JobLeaseLost,
    job_fail,
    job_heartbeat,
    job_release,
    job_start,
    job_step_begin,
    job_step_done,
    job_step_record_upid,
    job_store_task_log,
    job_succeed,
    save_steps,
    step_row,
)
from panel.jobs.registry import job_definition
from panel.models import Job

logger = logging.getLogger(__name__)

# How often a waiting step writes its heartbeat (seconds); well below JOB_STALE_AFTER_S.
HEARTBEAT_EVERY_S = 5.0


def _heartbeat_every_s() -> float:
    return min(HEARTBEAT_EVERY_S, settings.JOB_STALE_AFTER_S / 3)


class JobRetryLater(Exception):
    """The step cannot start yet (e.g. the node's cap on heavy tasks); run the task again later."""

    def __init__(self, message: str, *, countdown_s: float = 10.0):
        self.countdown_s = countdown_s
        super().__init__(message)


@dataclass
class StepRun:
    """What a step function gets: the job, its step row, and ways to record progress."""

    job: Job
    name: str
    _last_beat: float = field(default=0.0)

    @property
    def step(self) -> dict:
        return step_row(self.job, self.name)

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
        save_steps(self.job)

    def skip(self, note: str) -> None:
        """PVE already holds what this step would do: the step is done, skipped, with why."""
        job_step_done(job=self.job, step=self.name, skipped=True, note=note)

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


StepHandler = Callable[[StepRun], None]


def _declared_handlers(job: Job) -> Mapping[str, StepHandler]:
    """Each step of the job's kind, bound to the arguments its declaration gives it."""
    definition = job_definition(kind=job.kind)
    return {
        step.name: (lambda run, step=step: step.handler(run, **step.kwargs))
        for step in definition.steps
    }


def job_run_task(
    *, job_id, task_name: str, handlers: Mapping[str, StepHandler] | None = None
) -> None:
    """Run, in order, the job's unfinished steps that belong to ``task_name``.

    Each step runs the handler its kind's declaration names (``handlers`` replaces them, for the
    engine's own tests). Steps of earlier tasks must be finished first (an out-of-order duplicate
    delivery does nothing). When every step is finished the job succeeds. A step's exception fails
    the job (with PVE's message), except :class:`JobRetryLater` which the task turns into a Celery
    retry and :class:`JobLeaseLost` which means another execution owns the job now.
    """
    job = job_start(job_id=job_id)
    if job is None:
        return
    try:
        if handlers is None:
            handlers = _declared_handlers(job)
        for step in job.steps:
            if step["state"] in STEP_FINISHED:
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
            if run.step["state"] not in STEP_FINISHED:
                job_step_done(job=job, step=step["name"])
        if all(s["state"] in STEP_FINISHED for s in job.steps):
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


def job_task_run(task, job_id: str) -> None:
    """The body of every job task (``@shared_task(**JobTask.celery_options())``): run the job's
    steps that belong to this task; a step that cannot start yet makes Celery run it again."""
    try:
        job_run_task(job_id=job_id, task_name=task.name)
    except JobRetryLater as exc:
        raise task.retry(countdown=exc.countdown_s, exc=exc) from None
