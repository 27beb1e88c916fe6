"""Reading back what PVE holds and storing it on the server: the ``finish`` step that ends most
jobs, the ``sync`` step, and what a failed job leaves on its server (``server_after_failure``).
The panel records only what PVE holds: what the VM runs with, and what waits for its next start
(``servers.steps.held``). Every read-back stores both, so the one after a restart reconciles."""

from __future__ import annotations

import logging

from django.utils import timezone

from nodes.services import node_client
from panel.jobs import StepRun, job_set_result
from panel.models import Job
from panel.templatetags.panel_ui import mib
from proxmox.errors import PveError
from servers.models import Server, ServerStatus
from servers.steps.context import StepError, pve_step, step_context
from servers.steps.failed_task import failed_step_task_ended
from servers.steps.held import PENDING_FIELDS, Held, read_held
from servers.steps.marker import has_marker

logger = logging.getLogger(__name__)


def _store(server: Server, *, held: Held, reason: str = "", **extra) -> None:
    if server.is_suspended or extra.get("is_suspended"):
        status = ServerStatus.SUSPENDED
    else:
        status = ServerStatus.RUNNING if held.power == "running" else ServerStatus.STOPPED
    values = {**held.server_fields(), "status": status, "status_reason": reason, **extra}
    Server.objects.filter(pk=server.pk).update(**values, updated_at=timezone.now())
    for key, value in values.items():
        setattr(server, key, value)


def asked_memory_mib(job: Job) -> int:
    """The memory a job asked for, or what PVE's memory hotplug made of it (whole DIMMs: 3000
    MiB becomes 3072), as the configure step recorded when it saw PVE's answer."""
    rounded = (job.result or {}).get("memory_rounded") or {}
    asked = int(job.params["memory_mib"])
    return int(rounded["held"]) if rounded.get("asked") == asked else asked


def _spec_text(field: str, value: int) -> str:
    return f"{value} vCPU" if field == "cpu_cores" else f"{mib(value)} memory"


def _asked_outcome(c, held: Held) -> tuple[dict, dict, dict]:
    """Each size the job asked for, as PVE holds it: (running now, pending for the next start,
    not held). A value is held if the VM runs with it or PVE keeps it pending."""
    running, pending = held.running, held.pending
    now, later, wrong = {}, {}, {}
    for field in ("cpu_cores", "memory_mib", "disk_gib"):
        if field not in c.params:
            continue
        asked = asked_memory_mib(c.job) if field == "memory_mib" else int(c.params[field])
        if running[field] == asked and field not in pending:
            now[field] = asked
        elif pending.get(field) == asked:
            later[field] = asked
        else:
            wrong[field] = (pending.get(field, running[field]), int(c.params[field]))
    return now, later, wrong


def _summary(c, held: Held, now: dict, later: dict) -> str:
    """The sentence people read after a resize of CPU or memory: what waits for a restart, what
    a restart applied, what went live. (A stopped VM takes everything at once: nothing to say.)"""
    parts = []
    if later:
        waits = " and ".join(_spec_text(f, v) for f, v in later.items())
        parts.append(f"{waits} take{'s' if len(later) == 1 else ''} effect at the next restart.")
    previous = c.params.get("previous") or {}
    changed = {
        f: v for f, v in now.items() if f in PENDING_FIELDS and f in previous and previous[f] != v
    }
    restarted = any(s["name"] == "restart" and s.get("state") == "done" for s in c.job.steps)
    if changed and held.power == "running":
        applied = " and ".join(_spec_text(f, v) for f, v in changed.items())
        how = "by restarting the server" if restarted else "live, without a restart"
        parts.append(f"{applied[0].upper()}{applied[1:]} applied {how}.")
    return " ".join(parts)


@pve_step
def step_finish(
    run: StepRun,
    *,
    check_asked: bool = False,
    suspended: bool | None = None,
    store_template: bool = False,
) -> None:
    """Store what PVE holds on the server. ``check_asked``: fail unless it holds the sizes the
    job asked for, running or pending for the next start; ``suspended``: mark the server
    (un)suspended; ``store_template``: it now runs the template the job cloned."""
    c = step_context(run)
    held = read_held(c.client, c.pve_node, c.vmid)
    c.require_marker(held.current if held else None, doing="read it back")
    extra: dict = {}
    if suspended is not None:
        extra["is_suspended"] = suspended
        c.server.is_suspended = suspended
    if store_template:
        extra["template_id"] = c.params["template_id"]
    _store(c.server, held=held, **extra)
    result: dict = {"stored": {**held.running, "power": held.power}, "pending": held.pending}
    if check_asked:
        now, later, wrong = _asked_outcome(c, held)
        if wrong:
            raise StepError(
                "PVE holds other values than asked: "
                + ", ".join(f"{f} {have} (asked {want})" for f, (have, want) in wrong.items())
            )
        summary = _summary(c, held, now, later)
        if summary:
            result["summary"] = summary
    job_set_result(job=c.job, **result)


@pve_step
def step_sync(run: StepRun) -> None:
    """Store what PVE holds and record on the job where the panel differed (the drift)."""
    c = step_context(run)
    held = read_held(c.client, c.pve_node, c.vmid)
    if held is None:
        reason = f"VM {c.vmid} does not exist on {c.pve_node}."
        Server.objects.filter(pk=c.server.pk).update(
            status=ServerStatus.ERROR, status_reason=reason
        )
        job_set_result(job=c.job, drift={"vm": "missing"})
        raise StepError(reason)
    c.require_marker(held.current, doing="sync it")
    drift = {
        field: {"panel": getattr(c.server, field), "pve": value}
        for field, value in held.server_fields().items()
        if getattr(c.server, field) != value
    }
    expected_status = ServerStatus.RUNNING if held.power == "running" else ServerStatus.STOPPED
    if not c.server.is_suspended and c.server.status != expected_status:
        drift["status"] = {"panel": c.server.status, "pve": held.power}
    _store(c.server, held=held)
    job_set_result(
        job=c.job,
        drift=drift,
        stored={**held.running, "power": held.power},
        pending=held.pending,
    )


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
        held = read_held(node_client(node=server.node), server.node.pve_node, server.vmid)
        if held is None:
            raise StepError(f"VM {server.vmid} does not exist on {server.node.pve_node}")
        if not has_marker(held.current, server):
            raise StepError("the VM does not carry this server's marker")
        fields = held.server_fields()  # a VM without a disk the panel can resize fails here
    except (PveError, StepError) as exc:
        Server.objects.filter(pk=server.pk).update(
            status=ServerStatus.ERROR, status_reason=reason, updated_at=timezone.now()
        )
        logger.info("server %s marked error after job %s (%s)", server.pk, job.pk, exc)
        return
    if half_built:
        Server.objects.filter(pk=server.pk).update(
            **fields, status=ServerStatus.ERROR, status_reason=reason, updated_at=timezone.now()
        )
    else:
        _store(server, held=held, reason=reason)
