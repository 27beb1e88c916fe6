"""After a failed job, PVE's task for the failed step may still run (the job failed on our
deadline, a lost worker, a step error after issuing): the server is written only once that task
has ended, so the panel never records a state PVE is still changing."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.utils import timezone

from nodes.services import node_client
from panel.jobs import STEP_DONE, STEP_SKIPPED, StepRun, job_definition
from panel.models import Job
from proxmox.errors import PveError, PveTaskFailed
from proxmox.waiting import wait_for_task
from servers.models import Server, ServerStatus

logger = logging.getLogger(__name__)


def failed_step_task_ended(job: Job) -> bool:
    """Wait for the PVE task of each unfinished step of the failed ``job`` that recorded one, as
    long as the step itself may wait (at most ``PROXMOX_FAILED_TASK_WAIT_S``), keeping the job's
    lease alive. True when every such task has ended (or there is none): the server may be
    written from what PVE holds. False when one's end cannot be known: the server is then marked
    ``error`` with a reason saying its state is unknown, and nothing else is written."""
    pending = [
        step
        for step in job.steps
        if step.get("upid") and step["state"] not in (STEP_DONE, STEP_SKIPPED)
    ]
    server = Server.objects.select_related("node").filter(pk=job.server_id).first()
    if not pending or server is None:
        return True
    definition = job_definition(kind=job.kind)
    client = node_client(node=server.node)
    try:
        for step in pending:
            timeout_s = min(
                definition.step(step["name"]).task.wait_s,
                float(settings.PROXMOX_FAILED_TASK_WAIT_S),
            )
            try:
                wait_for_task(
                    client,
                    step["upid"],
                    timeout_s=timeout_s,
                    sleep=time.sleep,
                    on_poll=StepRun(job=job, name=step["name"]).heartbeat,
                )
            except PveTaskFailed:
                continue  # it ended; how is the job's story, not the server's
            except PveError as exc:
                _mark_unknown(server, job=job, step_label=step["label"], exc=exc)
                return False
    finally:
        client.close()
    return True


def _mark_unknown(server: Server, *, job: Job, step_label: str, exc: PveError) -> None:
    reason = (
        f"{job.get_kind_display()} failed: {job.error}. Its state on PVE is unknown: the PVE "
        f"task of step '{step_label}' had not ended when the job failed. Sync the server once "
        "it has."
    )
    Server.objects.filter(pk=server.pk).update(
        status=ServerStatus.ERROR, status_reason=reason, updated_at=timezone.now()
    )
    logger.warning("server %s: state unknown after job %s (%s)", server.pk, job.pk, exc)
