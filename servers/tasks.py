"""Celery tasks for the server lifecycle: thin. Each takes a job id and runs that job's steps
belonging to it (``servers.steps``); a create is the chain clone -> configure -> resize -> start.

Delivery guarantees come from settings (``acks_late``, ``reject_on_worker_lost``, prefetch 1) and
from the job's lease: a duplicate delivery while another execution is alive does nothing.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from panel.jobs import JobRetryLater
from servers.steps import server_job_run

_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": None,  # only JobRetryLater retries (node cap, PVE briefly unreachable)
}


def _run(task, job_id: str) -> None:
    try:
        server_job_run(job_id=job_id, task_name=task.name)
    except JobRetryLater as exc:
        raise task.retry(countdown=exc.countdown_s, exc=exc) from None


def _limits(timeout_key: str, extra_s: int = 600) -> dict:
    """A hard time limit past the longest PVE wait of the task (the soft one fails the job)."""
    wait_s = int(settings.PROXMOX_TASK_TIMEOUTS_S[timeout_key])
    return {"soft_time_limit": wait_s + extra_s, "time_limit": wait_s + extra_s + 60}


@shared_task(name="servers.tasks.clone", **_OPTIONS, **_limits("clone"))
def clone(self, job_id: str) -> None:
    _run(self, job_id)


@shared_task(name="servers.tasks.configure", **_OPTIONS, **_limits("configure"))
def configure(self, job_id: str) -> None:
    _run(self, job_id)


@shared_task(name="servers.tasks.resize", **_OPTIONS, **_limits("resize"))
def resize(self, job_id: str) -> None:
    _run(self, job_id)


@shared_task(name="servers.tasks.start", **_OPTIONS, **_limits("power"))
def start(self, job_id: str) -> None:
    _run(self, job_id)


@shared_task(name="servers.tasks.power", **_OPTIONS, **_limits("power"))
def power(self, job_id: str) -> None:
    _run(self, job_id)


@shared_task(name="servers.tasks.rebuild", **_OPTIONS, **_limits("clone", 1800))
def rebuild(self, job_id: str) -> None:
    _run(self, job_id)


@shared_task(name="servers.tasks.reset_password", **_OPTIONS, **_limits("power"))
def reset_password(self, job_id: str) -> None:
    _run(self, job_id)


@shared_task(name="servers.tasks.delete", **_OPTIONS, **_limits("delete"))
def delete(self, job_id: str) -> None:
    _run(self, job_id)


@shared_task(name="servers.tasks.suspend", **_OPTIONS, **_limits("power"))
def suspend(self, job_id: str) -> None:
    _run(self, job_id)


@shared_task(name="servers.tasks.unsuspend", **_OPTIONS, **_limits("power"))
def unsuspend(self, job_id: str) -> None:
    _run(self, job_id)


@shared_task(name="servers.tasks.sync", **_OPTIONS, **_limits("configure"))
def sync(self, job_id: str) -> None:
    _run(self, job_id)
