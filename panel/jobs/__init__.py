"""The job engine: the durable record of every change the panel makes on PVE.

Import from here (``from panel.jobs import job_create, JobConflict``); the modules are split by
concern:

* ``registry``  -- what a job kind is: ``JobDefinition`` (its ``StepDef`` steps, each naming its
  handler, arguments and ``JobTask``; what a failure means; how a retry works), registered by the
  owning app's ``AppConfig.ready()`` from its ``<app>/jobs.py``;
* ``recording`` -- ``job_create``, ``job_dispatch``, ``job_retry``, ``JobConflict``;
* ``lease``     -- the job's state, written only under its lease: ``job_start``, heartbeats,
  ``job_step_*``, ``job_succeed``, ``job_fail`` (which runs the kind's failure hook);
* ``runtime``   -- inside a Celery task: ``job_task_run``, ``job_run_task``, ``StepRun``;
* ``sweeper``   -- ``jobs_sweep``.

How the engine works, and the decisions behind it:

* **One mutating job per server, refused, not queued.** The database constraint
  ``one_active_job_per_server`` allows one queued/running job per server. A second request while
  one is active raises :class:`JobConflict` carrying the active job: the UI says "another job is
  running on this server", the API answers 409 with that job. We refuse instead of queueing because
  a queue hides intents that conflict (a delete behind a resize, two resizes to different sizes);
  the person sees the running job finish and decides again with the truth in front of them.
* **Steps.** ``Job.steps`` lists the job's steps as dicts ``{name, label, task, state, upid,
  upid_node, started_at, finished_at, note}`` copied from the kind's declaration when the job is
  recorded; ``state`` is pending/running/done/skipped/failed and ``task`` is the Celery task (one
  per PVE operation) that runs the step. Work is queued only after the commit
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
  handlers (e.g. ``servers.steps``) call PVE between them.
"""

from panel.jobs.lease import (
    STEP_DONE,
    STEP_FAILED,
    STEP_PENDING,
    STEP_RUNNING,
    STEP_SKIPPED,
    JobLeaseLost,
    job_fail,
    job_heartbeat,
    job_release,
    job_set_result,
    job_start,
    job_step_begin,
    job_step_done,
    job_step_record_upid,
    job_store_task_log,
    job_succeed,
)
from panel.jobs.recording import JobConflict, job_create, job_dispatch, job_retry
from panel.jobs.registry import (
    JobDefinition,
    JobTask,
    StepDef,
    job_definition,
    job_definitions,
    register_job_definitions,
)
from panel.jobs.runtime import (
    JobRetryLater,
    StepRun,
    TaskLogFollower,
    describe_error,
    job_run_task,
    job_task_run,
)
from panel.jobs.sweeper import jobs_sweep

__all__ = [
    "STEP_DONE",
    "STEP_FAILED",
    "STEP_PENDING",
    "STEP_RUNNING",
    "STEP_SKIPPED",
    "JobConflict",
    "JobDefinition",
    "JobLeaseLost",
    "JobRetryLater",
    "JobTask",
    "StepDef",
    "StepRun",
    "TaskLogFollower",
    "describe_error",
    "job_create",
    "job_definition",
    "job_definitions",
    "job_dispatch",
    "job_fail",
    "job_heartbeat",
    "job_release",
    "job_retry",
    "job_run_task",
    "job_set_result",
    "job_start",
    "job_step_begin",
    "job_step_done",
    "job_step_record_upid",
    "job_store_task_log",
    "job_succeed",
    "job_task_run",
    "jobs_sweep",
    "register_job_definitions",
]
