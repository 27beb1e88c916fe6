"""Periodic job maintenance: the sweeper that resumes or fails jobs whose worker stopped."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

from panel.jobs import jobs_sweep as jobs_sweep_service

logger = logging.getLogger(__name__)


@shared_task(name="panel.tasks.jobs_sweep", acks_late=True, ignore_result=True)
def jobs_sweep() -> list:
    outcome = jobs_sweep_service()
    if outcome:
        logger.warning("jobs sweep: %s", outcome)
    return outcome


@worker_ready.connect
def _sweep_when_a_worker_starts(sender=None, **_kwargs) -> None:
    # A worker that starts may be the replacement of one that died holding jobs.
    jobs_sweep.apply_async(countdown=1)
