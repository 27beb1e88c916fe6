"""What a job kind is: one declaration per kind, registered by the app that owns it.

An app declares each of its job kinds once, in its own ``<app>/jobs.py`` (``servers/jobs.py``
holds create, resize, power, ...; a backup app would add ``backups/jobs.py``), and registers the
declarations in its ``AppConfig.ready()``, so every process (web, worker, shell, management
command) knows every kind before it can touch a job. The engine knows no app: it reads here which
steps a kind has, which Celery task runs each step, what a step calls, what a failure means and how
a failed job is retried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# How much longer than its longest PVE wait a task may run before Celery's soft limit fails it
# (reading back, lock retries, the database); the hard limit comes a minute after the soft one.
TASK_MARGIN_S = 600


@dataclass(frozen=True)
class JobTask:
    """A Celery task that runs job steps: one per operation on PVE (clone, resize, start, ...).

    ``wait_s`` is the longest PVE wait of a step it runs; its time limits are derived from it.
    The task itself is thin (``<app>/tasks.py``): a job id in, :func:`panel.jobs.job_task_run`.
    """

    name: str
    wait_s: int
    margin_s: int = TASK_MARGIN_S

    def celery_options(self) -> dict[str, Any]:
        """The ``shared_task`` options of every job task: late acks (a worker that dies loses no
        step; the lease makes a redelivery harmless) and the time limits."""
        soft_s = self.wait_s + self.margin_s
        return {
            "name": self.name,
            "bind": True,
            "acks_late": True,
            "reject_on_worker_lost": True,
            "max_retries": None,  # only JobRetryLater retries (node cap, PVE briefly unreachable)
            "soft_time_limit": soft_s,
            "time_limit": soft_s + 60,
        }


@dataclass(frozen=True)
class StepDef:
    """One step of a job kind: ``handler(run, **kwargs)`` runs it inside the Celery task ``task``.

    ``label`` is what people read (a string, or a function of the job's params); ``when`` (a
    function of the params) leaves the step out of a job that does not need it.
    """

    name: str
    label: str | Callable[[Mapping], str]
    task: JobTask
    handler: Callable[..., None]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    when: Callable[[Mapping], bool] | None = None

    def label_for(self, params: Mapping) -> str:
        return self.label(params) if callable(self.label) else self.label

    def applies_to(self, params: Mapping) -> bool:
        return self.when is None or bool(self.when(params))


@dataclass(frozen=True)
class JobDefinition:
    """Everything about one job kind.

    * ``steps``: in order; a job records those that apply to its params.
    * ``on_failure(job)``: after a job of this kind failed (also when the sweeper gives up on it),
      the owning app leaves its objects truthful (e.g. the server's status as PVE left it).
    * ``retry(*, job, user) -> Job``: records a new job doing again what the failed ``job`` asked
      for, through the app's own service (so every check runs again), or raises
      ``ValidationError``/``JobConflict``; None when this kind cannot be retried.
    """

    kind: str
    steps: tuple[StepDef, ...]
    on_failure: Callable[[Any], None] | None = None
    retry: Callable[..., Any] | None = None

    def step(self, name: str) -> StepDef:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"a {self.kind} job has no step {name!r}")

    def steps_for(self, params: Mapping) -> list[StepDef]:
        return [step for step in self.steps if step.applies_to(params)]


_definitions: dict[str, JobDefinition] = {}


def register_job_definitions(*definitions: JobDefinition) -> None:
    """Called from an app's ``AppConfig.ready()``; a kind is declared exactly once."""
    for definition in definitions:
        known = _definitions.get(definition.kind)
        if known is not None and known is not definition:
            raise ImproperlyConfigured(f"The job kind {definition.kind!r} is declared twice.")
        _definitions[definition.kind] = definition


def job_definition(*, kind: str) -> JobDefinition:
    definition = job_definition_or_none(kind=kind)
    if definition is None:
        raise LookupError(f"No app declared the job kind {kind!r} (is its app in INSTALLED_APPS?)")
    return definition


def job_definition_or_none(*, kind: str) -> JobDefinition | None:
    return _definitions.get(kind)


def job_definitions() -> dict[str, JobDefinition]:
    return dict(_definitions)
