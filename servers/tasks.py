"""Celery tasks for the server job kinds: one per PVE operation, thin. Each takes a job id and runs
that job's steps which belong to it (``panel.jobs.job_task_run``); which steps those are, and the
task's time limits, are declared in ``servers.jobs``. A create is the chain
clone -> configure -> resize -> start -> read_back.

Delivery guarantees come from settings and the task options (``acks_late``,
``reject_on_worker_lost``, prefetch 1) and from the job's lease: a duplicate delivery while another
execution is alive does nothing.
"""

from __future__ import annotations

from celery import shared_task

from panel.jobs import job_task_run
from servers import jobs


@shared_task(**jobs.CLONE.celery_options())
def clone(self, job_id: str) -> None:
    job_task_run(self, job_id)


@shared_task(**jobs.CONFIGURE.celery_options())
def configure(self, job_id: str) -> None:
    job_task_run(self, job_id)


@shared_task(**jobs.RESIZE.celery_options())
def resize(self, job_id: str) -> None:
    job_task_run(self, job_id)


@shared_task(**jobs.START.celery_options())
def start(self, job_id: str) -> None:
    job_task_run(self, job_id)


@shared_task(**jobs.STOP.celery_options())
def stop(self, job_id: str) -> None:
    job_task_run(self, job_id)


@shared_task(**jobs.POWER.celery_options())
def power(self, job_id: str) -> None:
    job_task_run(self, job_id)


@shared_task(**jobs.REBOOT.celery_options())
def reboot(self, job_id: str) -> None:
    job_task_run(self, job_id)


@shared_task(**jobs.SET_PASSWORD.celery_options())
def set_password(self, job_id: str) -> None:
    job_task_run(self, job_id)


@shared_task(**jobs.DESTROY.celery_options())
def destroy(self, job_id: str) -> None:
    job_task_run(self, job_id)


@shared_task(**jobs.READ_BACK.celery_options())
def read_back(self, job_id: str) -> None:
    job_task_run(self, job_id)
