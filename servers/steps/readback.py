"""Reading back what PVE holds and storing it on the server: the ``finish`` step that ends most
jobs, the ``sync`` step, and what a failed job leaves on its server (``server_after_failure``).
The panel records only what PVE holds."""

from __future__ import annotations

import logging

from django.utils import timezone

from nodes.services import node_client
from panel.jobs import StepRun, job_set_result
from panel.models import Job
from proxmox.errors import PveError
from servers.models import Server, ServerStatus
from servers.steps.context import StepError, pve_step, specs_with_disk, step_context
from servers.steps.failed_task import failed_step_task_ended
from servers.steps.marker import has_marker

logger = logging.getLogger(__name__)


def _store(server: Server, *, specs: dict, power: str, reason: str = "", **extra) -> None:
    if server.is_suspended or extra.get("is_suspended"):
        status = ServerStatus.SUSPENDED
    else:
        status = ServerStatus.RUNNING if power == "running" else ServerStatus.STOPPED
    values = {**specs, "status": status, "status_reason": reason, **extra}
    Server.objects.filter(pk=server.pk).update(**values, updated_at=timezone.now())
    for key, value in values.items():
        setattr(server, key, value)


@pve_step
def step_finish(
    run: StepRun,
    *,
    check_asked: bool = False,
    suspended: bool | None = None,
    store_template: bool = False,
) -> None:
    """Store what PVE holds on the server. ``check_asked``: fail unless it holds the sizes the
    job asked for; ``suspended``: mark the server (un)suspended; ``store_template``: it now runs
    the template the job cloned."""
    c = step_context(run)
    config = c.require_marker(c.config_or_none(), doing="read it back")
    specs = specs_with_disk(config).sizes
    power = c.power_state()
    extra: dict = {}
    if suspended is not None:
        extra["is_suspended"] = suspended
        c.server.is_suspended = suspended
    if store_template:
        extra["template_id"] = c.params["template_id"]
    _store(c.server, specs=specs, power=power, **extra)
    if check_asked:
        wrong = {
            field: (specs[field], c.params[field])
            for field in ("cpu_cores", "memory_mib", "disk_gib")
            if field in c.params and specs[field] != int(c.params[field])
        }
        if wrong:
            raise StepError(
                "PVE holds other values than asked: "
                + ", ".join(f"{f} {have} (asked {want})" for f, (have, want) in wrong.items())
            )
    job_set_result(job=c.job, stored={**specs, "power": power})


@pve_step
def step_sync(run: StepRun) -> None:
    """Store what PVE holds and record on the job where the panel differed (the drift)."""
    c = step_context(run)
    config = c.config_or_none()
    if config is None:
        reason = f"VM {c.vmid} does not exist on {c.pve_node}."
        Server.objects.filter(pk=c.server.pk).update(
            status=ServerStatus.ERROR, status_reason=reason
        )
        job_set_result(job=c.job, drift={"vm": "missing"})
        raise StepError(reason)
    c.require_marker(config, doing="sync it")
    specs = specs_with_disk(config).sizes
    power = c.power_state()
    drift = {
        field: {"panel": getattr(c.server, field), "pve": value}
        for field, value in specs.items()
        if getattr(c.server, field) != value
    }
    expected_status = ServerStatus.RUNNING if power == "running" else ServerStatus.STOPPED
    if not c.server.is_suspended and c.server.status != expected_status:
        drift["status"] = {"panel": c.server.status, "pve": power}
    _store(c.server, specs=specs, power=power)
    job_set_result(job=c.job, drift=drift, stored={**specs, "power": power})


def server_after_failure(job: Job, *, half_built: bool = False) -> None:
    """After a failed job: store what PVE really holds, with the reason; ``error`` if unknowable.
    ``half_built`` (a failed create or rebuild): the VM is not a usable server, so ``error`` with
    the sizes PVE holds."""
    if not failed_step_task_ended(job):
        return
    server = Server.objects.select_related("node").filter(pk=job.server_id).first()
    if server is None:
        return
    reason = f"{job.get_kind_display()} failed: {job.error}"
    try:
        if server.vmid is None:
            raise StepError("no VM")
        client = node_client(node=server.node)
        config = client.vm_config(server.node.pve_node, server.vmid)
        if not has_marker(config, server):
            raise StepError("the VM does not carry this server's marker")
        specs = specs_with_disk(config).sizes
        power = str(client.vm_status(server.node.pve_node, server.vmid).get("status"))
    except (PveError, StepError) as exc:
        Server.objects.filter(pk=server.pk).update(
            status=ServerStatus.ERROR, status_reason=reason, updated_at=timezone.now()
        )
        logger.info("server %s marked error after job %s (%s)", server.pk, job.pk, exc)
        return
    if half_built:
        Server.objects.filter(pk=server.pk).update(
            **specs, status=ServerStatus.ERROR, status_reason=reason, updated_at=timezone.now()
        )
    else:
        _store(server, specs=specs, power=power, reason=reason)
