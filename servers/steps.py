"""The server lifecycle on PVE: the steps the worker runs, one PVE operation each.

Every step is idempotent. It looks at PVE before acting (a clone whose target already carries our
marker is not issued again, a disk already at its size is not resized, a running VM is not started)
and, once it has issued an operation, it commits the UPID before waiting; a redelivered or resumed
step waits on that UPID. Every UPID is followed to its end (``wait_for_task``); lock errors, in
the HTTP call or inside the task, are retried with ``retry_on_lock`` up to the deadline in
settings; any other error fails the job with PVE's own message.

No database transaction is open while PVE is called: the Job's own writes (``panel.jobs``) and the
server's row updates here are each a single short statement or transaction.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from nodes.models import Node, Template
from nodes.services import node_client
from panel.crypto import decrypt
from panel.jobs import (
    JobRetryLater,
    StepRun,
    job_set_result,
    job_step_done,
    register_failure_hook,
)
from panel.models import Job, JobKind, JobState
from proxmox.client import PveClient
from proxmox.errors import PveError, PveLockError, PveNotFoundError, PveTransientError
from proxmox.units import GIB
from proxmox.upid import parse_upid
from proxmox.vmconfig import DISK_KEYS, boot_disk
from proxmox.waiting import retry_on_lock, wait_for_task, wait_until_unlocked
from servers.models import SERVER_JOB_KINDS, Server, ServerStatus

logger = logging.getLogger(__name__)

PANEL_TAG = "panel"
MARKER_PREFIX = "panel-server-uuid: "
HEAVY_STEPS = ("clone", "restore", "backup")
MAX_TRANSIENT_RETRIES = 5
CLOUDINIT_USER_DEFAULT = "root"
TASK_LOG_LINES = 50  # the tail of a PVE task log kept on the Job (its end says why)


class StepError(Exception):
    """PVE did not end up holding what the step asked for."""


# --- the panel's marker on a VM ------------------------------------------------------------------


def marker_line(server: Server) -> str:
    return f"{MARKER_PREFIX}{server.uuid}"


def marker_description(server: Server, existing: str = "") -> str:
    """The VM's description with our marker line (other lines staff wrote are kept)."""
    lines = [line for line in (existing or "").splitlines() if not line.startswith(MARKER_PREFIX)]
    if not lines:
        lines = ["Managed by the hosting panel; keep the next line."]
    return "\n".join([*lines, marker_line(server)])


def _tags(config: dict) -> list[str]:
    return [t for t in re.split(r"[;, ]+", str(config.get("tags") or "")) if t]


def marker_tags(config: dict) -> str:
    tags = _tags(config)
    if PANEL_TAG not in tags:
        tags.append(PANEL_TAG)
    return ";".join(tags)


def has_marker(config: dict, server: Server) -> bool:
    lines = [line.strip() for line in str(config.get("description") or "").splitlines()]
    return marker_line(server) in lines


# --- context -------------------------------------------------------------------------------------


@dataclass
class Ctx:
    run: StepRun
    job: Job
    server: Server
    node: Node
    client: PveClient

    @property
    def pve_node(self) -> str:
        return self.node.pve_node

    @property
    def vmid(self) -> int:
        return int(self.server.vmid)

    @property
    def params(self) -> dict:
        return self.job.params

    def timeout(self, key: str) -> float:
        return float(settings.PROXMOX_TASK_TIMEOUTS_S[key])

    def sleep(self, seconds: float) -> None:
        """Sleep while waiting on PVE, keeping the job's lease alive."""
        self.run.heartbeat()
        time.sleep(seconds)

    def wait(self, upid: str | None, *, timeout_key: str):
        """Follow the task to its end; its log tail is kept on the Job while it runs (read at
        most every few seconds, not on every poll) and once more when it ends."""
        on_poll = self.run.heartbeat
        if upid:
            task_node = parse_upid(upid).node
            on_poll = self.run.follow_task_log(
                lambda: self.client.task_log_tail(task_node, upid, lines=TASK_LOG_LINES)
            )
        result = wait_for_task(
            self.client,
            upid,
            timeout_s=self.timeout(timeout_key),
            sleep=self.sleep,
            on_poll=on_poll,
            first_interval_s=float(getattr(settings, "PROXMOX_FIRST_POLL_INTERVAL_S", 0.05)),
            log_lines=TASK_LOG_LINES,
        )
        if result.log_tail:
            self.run.store_task_log(result.log_tail)
        return result

    def unlocked_config(self) -> dict:
        return wait_until_unlocked(
            self.client,
            self.pve_node,
            self.vmid,
            timeout_s=self.timeout("configure"),
            sleep=self.sleep,
        )

    def on_lock(self, fn):
        return retry_on_lock(
            fn,
            deadline_s=float(settings.PROXMOX_LOCK_RETRY_DEADLINE_S),
            sleep=self.sleep,
            rng=random.Random(),
        )

    def config_or_none(self) -> dict | None:
        try:
            return self.client.vm_config(self.pve_node, self.vmid)
        except PveNotFoundError:
            return None

    def issue_and_wait(self, issue, *, timeout_key: str):
        """Issue a PVE operation once and follow its task to the end.

        A UPID already recorded on the step is waited on instead of issuing again. A lock error
        (in the HTTP call or as the task's exit status) forgets the UPID and issues again, until
        the lock-retry deadline; every operation passed here is absolute, so repeating is safe.
        """

        def attempt():
            upid = self.run.upid
            if not upid:
                upid = issue()
                if not upid:
                    return None  # PVE finished inside the HTTP call (older PVE, delays)
                self.run.record_upid(upid, self.pve_node)
            try:
                return self.wait(upid, timeout_key=timeout_key)
            except PveError as exc:
                if isinstance(exc, PveLockError):
                    self.run.forget_upid()
                raise

        return self.on_lock(attempt)


_clients = threading.local()


def _client(node: Node) -> PveClient:
    """One client (one HTTPS session, TLS handshake done once) per node per worker thread,
    rebuilt when the node's connection settings change."""
    key = (
        node.api_url,
        node.token_id,
        node.token_secret,
        node.verify_tls,
        node.tls_fingerprint_sha256,
    )
    cache = getattr(_clients, "by_node", None)
    if cache is None:
        cache = _clients.by_node = {}
    cached = cache.get(node.pk)
    if cached is not None and cached[0] == key:
        return cached[1]
    if cached is not None:
        cached[1].close()
    client = node_client(node=node)
    cache[node.pk] = (key, client)
    return client


def _ctx(run: StepRun) -> Ctx:
    server = (
        Server.objects.select_related("node", "template", "plan")
        .filter(pk=run.job.server_id)
        .first()
    )
    if server is None:
        raise StepError("The server record is gone.")
    client = _client(server.node)
    return Ctx(run=run, job=run.job, server=server, node=server.node, client=client)


def _boot_disk(config: dict) -> tuple[str, int]:
    disk = boot_disk(config)
    if disk is None:
        raise StepError(f"The VM has no disk the panel can resize ({', '.join(DISK_KEYS)}).")
    return disk


def _require_marker(c: Ctx, config: dict | None, *, doing: str) -> dict:
    if config is None:
        raise StepError(f"VM {c.vmid} does not exist on {c.pve_node}.")
    if not has_marker(config, c.server):
        raise StepError(
            f"VM {c.vmid} on {c.pve_node} does not carry this server's panel marker "
            f"({marker_line(c.server)}); refusing to {doing}. The VMID may have been reused."
        )
    return config


def _never_confirmed(c: Ctx, config: dict | None) -> bool:
    """Deleting a server PVE never confirmed (its create failed) whose VMID holds no VM of ours:
    the VM there (if any) is someone else's and is left alone; only our record goes."""
    if c.job.kind != JobKind.DELETE:
        return False
    if c.server.vmid is None:
        return True
    unconfirmed = c.params.get("status_before") in (ServerStatus.ERROR, ServerStatus.PROVISIONING)
    return unconfirmed and (config is None or not has_marker(config, c.server))


def _power_state(c: Ctx) -> str:
    return str(c.client.vm_status(c.pve_node, c.vmid).get("status") or "unknown")


def _skip(c: Ctx, note: str) -> None:
    job_step_done(job=c.job, step=c.run.name, skipped=True, note=note)


# --- heavy-task slots per node -------------------------------------------------------------------


def take_heavy_slot(*, job: Job, node: Node) -> None:
    """Let a heavy step (clone, restore, backup) start only while fewer than the node's cap run;
    otherwise raise JobRetryLater so the task runs again a little later.

    Call it from the step whose name is in HEAVY_STEPS (``current_step`` marks who holds a slot).
    The node row is locked while counting, so two workers cannot both take the last slot; a job
    that must wait clears its ``current_step`` so it does not count as holding one.
    """
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S)
    with transaction.atomic():
        locked = Node.objects.select_for_update().get(pk=node.pk)
        busy = (
            Job.objects.filter(
                state=JobState.RUNNING,
                current_step__in=HEAVY_STEPS,
                server__node=locked,
                heartbeat_at__gte=stale_before,
            )
            .exclude(pk=job.pk)
            .count()
        )
        if busy < locked.max_concurrent_heavy_tasks:
            return
        Job.objects.filter(pk=job.pk).update(current_step="")
    raise JobRetryLater(
        f"{busy} heavy tasks already run on {locked.name} "
        f"(cap {locked.max_concurrent_heavy_tasks})",
        countdown_s=2 + random.uniform(0, 3),
    )


# --- steps ---------------------------------------------------------------------------------------


def _allocate_vmid(c: Ctx) -> int:
    """The VMID for a new VM: the chosen one, or PVE's next free one not claimed by a server."""
    if c.server.vmid is not None:
        return c.server.vmid
    candidate = c.client.next_vmid()
    for _ in range(50):
        if not Server.objects.filter(node=c.node, vmid=candidate).exists():
            updated = Server.objects.filter(pk=c.server.pk, vmid__isnull=True).update(
                vmid=candidate
            )
            if updated:
                c.server.vmid = candidate
                return candidate
            c.server.refresh_from_db(fields=["vmid"])
            return c.server.vmid
        candidate += 1
    raise StepError("Could not find a free VMID.")


def step_clone(run: StepRun) -> None:
    c = _ctx(run)
    template = Template.objects.filter(pk=c.params["template_id"]).first()
    if template is None:
        raise StepError("The template is gone.")
    take_heavy_slot(job=c.job, node=c.node)
    if not run.upid:
        _allocate_vmid(c)
        config = c.config_or_none()
        if config is not None:
            if has_marker(config, c.server):
                c.unlocked_config()  # a clone issued before a crash: let it finish
                _skip(c, f"VM {c.vmid} already cloned")
                return
            if c.params.get("vmid_chosen"):
                raise StepError(
                    f"VM {c.vmid} already exists on {c.pve_node} and is not this server's."
                )
            # Someone else took PVE's next free VMID between our question and our clone.
            Server.objects.filter(pk=c.server.pk).update(vmid=None)
            c.server.vmid = None
            _allocate_vmid(c)

    def issue():
        return c.client.vm_clone(
            c.pve_node,
            template.vmid,
            newid=c.vmid,
            name=c.server.hostname,
            full=True,
            storage=c.node.vm_storage,
            description=marker_description(c.server),
        )

    c.issue_and_wait(issue, timeout_key="clone")
    c.unlocked_config()


def _cloudinit_params(c: Ctx) -> dict:
    out: dict = {}
    if c.job.kind in (JobKind.CREATE, JobKind.REBUILD):
        out["ciuser"] = getattr(settings, "PANEL_CLOUDINIT_USER", CLOUDINIT_USER_DEFAULT)
        out["ipconfig0"] = "ip=dhcp"
        if c.params.get("ssh_keys"):
            out["sshkeys"] = c.params["ssh_keys"]
    if c.params.get("password_encrypted"):
        out["cipassword"] = decrypt(c.params["password_encrypted"])
    return out


def _forget_password(c: Ctx) -> None:
    if c.params.get("password_encrypted"):
        c.params["password_encrypted"] = ""
        Job.objects.filter(pk=c.job.pk).update(params=c.params)


def step_configure(run: StepRun) -> None:
    c = _ctx(run)
    config = _require_marker(c, c.unlocked_config(), doing="configure it")
    wanted: dict = {}
    if "cpu_cores" in c.params:
        wanted["cores"] = int(c.params["cpu_cores"])
    if "memory_mib" in c.params:
        wanted["memory"] = int(c.params["memory_mib"])
    if c.job.kind in (JobKind.CREATE, JobKind.REBUILD):
        wanted["name"] = c.server.hostname
        wanted["tags"] = marker_tags(config)
        wanted["description"] = marker_description(c.server, config.get("description", ""))
    update = {**wanted, **_cloudinit_params(c)}
    # Synchronous PUT: PVE has applied it when the call returns; a lock is retried.
    c.on_lock(lambda: c.client.vm_config_update(c.pve_node, c.vmid, **update))
    _forget_password(c)
    config = c.client.vm_config(c.pve_node, c.vmid)
    wrong = {
        key: (config.get(key), value)
        for key, value in wanted.items()
        if (key in ("cores", "name") and str(config.get(key)) != str(value))
        or (key == "memory" and _memory_mib(config) != int(value))
    }
    if wrong:
        raise StepError(
            "PVE does not hold what was configured: "
            + ", ".join(f"{k} is {have!r}, expected {want!r}" for k, (have, want) in wrong.items())
        )


def step_resize_disk(run: StepRun) -> None:
    c = _ctx(run)
    target_gib = int(c.params["disk_gib"])
    config = _require_marker(c, c.unlocked_config(), doing="resize its disk")
    disk, size_bytes = _boot_disk(config)
    if not run.upid:
        if size_bytes == target_gib * GIB:
            _skip(c, f"{disk} is already {target_gib} GiB")
            return
        if size_bytes > target_gib * GIB:
            raise StepError(
                f"{disk} on PVE is {size_bytes / GIB:g} GiB, larger than {target_gib} GiB: "
                "disks only grow."
            )
    c.issue_and_wait(
        lambda: c.client.vm_resize(c.pve_node, c.vmid, disk=disk, size=target_gib),
        timeout_key="resize",
    )
    disk, size_bytes = _boot_disk(c.client.vm_config(c.pve_node, c.vmid))
    if size_bytes != target_gib * GIB:
        raise StepError(
            f"After the resize PVE holds {size_bytes / GIB:g} GiB on {disk}, not {target_gib} GiB."
        )


def step_start(run: StepRun) -> None:
    c = _ctx(run)
    if not run.upid and _power_state(c) == "running":
        _skip(c, "already running")
        return
    c.issue_and_wait(lambda: c.client.vm_power(c.pve_node, c.vmid, "start"), timeout_key="power")


def _shutdown(c: Ctx) -> None:
    # PVE falls back to a hard stop itself after `timeout` when forceStop is set.
    timeout = max(10, int(c.timeout("power")) - 30)
    c.issue_and_wait(
        lambda: c.client.vm_power(c.pve_node, c.vmid, "shutdown", timeout=timeout, forceStop=1),
        timeout_key="power",
    )


def step_stop(run: StepRun) -> None:
    """Stop before destroy/rebuild (hard) or suspend (graceful, forced after the timeout)."""
    c = _ctx(run)
    if not run.upid:
        config = c.config_or_none() if c.server.vmid is not None else None
        if _never_confirmed(c, config):
            _skip(c, "no VM of this server on PVE; nothing to stop")
            return
        if config is None and c.job.kind == JobKind.DELETE:
            _skip(c, "the VM is already gone")
            return
        _require_marker(c, config, doing="stop it")
        if _power_state(c) != "running":
            _skip(c, "already stopped")
            return
    if c.job.kind == JobKind.SUSPEND:
        _shutdown(c)
    else:
        c.issue_and_wait(lambda: c.client.vm_power(c.pve_node, c.vmid, "stop"), timeout_key="power")


def step_destroy(run: StepRun) -> None:
    c = _ctx(run)
    if not run.upid:
        config = c.config_or_none() if c.server.vmid is not None else None
        if _never_confirmed(c, config):
            _skip(c, "no VM of this server on PVE; nothing to destroy")
            return
        if config is None:
            _skip(c, "the VM is already gone")
            return
        _require_marker(c, config, doing="destroy it")
    c.issue_and_wait(
        lambda: c.client.vm_delete(c.pve_node, c.vmid, purge=True, destroy_unreferenced_disks=True),
        timeout_key="delete",
    )


def step_remove_record(run: StepRun) -> None:
    server = Server.objects.filter(pk=run.job.server_id).first()
    if server is None:
        return
    with transaction.atomic():
        Job.objects.filter(pk=run.job.pk).update(target_name=server.name)
        server.delete()


def step_power(run: StepRun) -> None:
    c = _ctx(run)
    action = c.params["action"]
    if not run.upid:
        _require_marker(c, c.config_or_none(), doing=action)
        state = _power_state(c)
        if action == "start" and state == "running":
            _skip(c, "already running")
            return
        if action in ("stop", "shutdown") and state != "running":
            _skip(c, "already stopped")
            return
        if action == "reboot" and state != "running":
            action = "start"  # PVE refuses to reboot a stopped VM; starting it is what was meant
    if action == "shutdown":
        _shutdown(c)
        return
    c.issue_and_wait(lambda: c.client.vm_power(c.pve_node, c.vmid, action), timeout_key="power")


def step_set_password(run: StepRun) -> None:
    c = _ctx(run)
    _require_marker(c, c.unlocked_config(), doing="change its password")
    update = _cloudinit_params(c)
    if update:
        c.on_lock(lambda: c.client.vm_config_update(c.pve_node, c.vmid, **update))
    _forget_password(c)


def step_apply(run: StepRun) -> None:
    """Reboot a running VM so cloud-init applies the new settings; a stopped one applies at boot."""
    c = _ctx(run)
    if not run.upid and _power_state(c) != "running":
        _skip(c, "stopped: cloud-init applies it at the next start")
        return
    c.issue_and_wait(lambda: c.client.vm_power(c.pve_node, c.vmid, "reboot"), timeout_key="power")


# --- reading back what PVE holds -----------------------------------------------------------------


def _memory_mib(config: dict) -> int:
    """``memory`` is ``2048`` or, since PVE 8.1, a property string ``current=2048,...``."""
    value = str(config.get("memory") or "512")
    for part in value.split(","):
        key, sep, number = part.partition("=")
        if not sep:
            return int(key)
        if key == "current":
            return int(number)
    return 512  # PVE's default


def _pve_specs(config: dict) -> dict:
    _disk, size_bytes = _boot_disk(config)
    return {
        "cpu_cores": int(config.get("cores") or 1) * int(config.get("sockets") or 1),
        "memory_mib": _memory_mib(config),
        # Whole GiB, rounded down: a disk of 20.5 GiB can only grow from there.
        "disk_gib": size_bytes // GIB,
    }


def _store(server: Server, *, specs: dict, power: str, reason: str = "", **extra) -> None:
    if server.is_suspended or extra.get("is_suspended"):
        status = ServerStatus.SUSPENDED
    else:
        status = ServerStatus.RUNNING if power == "running" else ServerStatus.STOPPED
    values = {**specs, "status": status, "status_reason": reason, **extra}
    Server.objects.filter(pk=server.pk).update(**values, updated_at=timezone.now())
    for key, value in values.items():
        setattr(server, key, value)


def step_finish(run: StepRun) -> None:
    """Store what PVE holds on the server and check it against what the job asked for."""
    c = _ctx(run)
    config = _require_marker(c, c.config_or_none(), doing="read it back")
    specs = _pve_specs(config)
    power = _power_state(c)
    extra: dict = {}
    if c.job.kind == JobKind.SUSPEND:
        extra["is_suspended"] = True
    elif c.job.kind == JobKind.UNSUSPEND:
        extra["is_suspended"] = False
        c.server.is_suspended = False
    elif c.job.kind == JobKind.REBUILD:
        extra["template_id"] = c.params["template_id"]
    _store(c.server, specs=specs, power=power, **extra)
    if c.job.kind in (JobKind.CREATE, JobKind.RESIZE, JobKind.REBUILD):
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


def step_sync(run: StepRun) -> None:
    c = _ctx(run)
    config = c.config_or_none()
    if config is None:
        reason = f"VM {c.vmid} does not exist on {c.pve_node}."
        Server.objects.filter(pk=c.server.pk).update(
            status=ServerStatus.ERROR, status_reason=reason
        )
        job_set_result(job=c.job, drift={"vm": "missing"})
        raise StepError(reason)
    _require_marker(c, config, doing="sync it")
    specs = _pve_specs(config)
    power = _power_state(c)
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


# --- failures leave the server truthful ----------------------------------------------------------


def server_after_failure(job: Job) -> None:
    """After a failed job: store what PVE really holds, with the reason; ``error`` if unknowable."""
    server = Server.objects.select_related("node").filter(pk=job.server_id).first()
    if server is None:
        return
    reason = f"{job.get_kind_display()} failed: {job.error}"
    broken = job.kind in (JobKind.CREATE, JobKind.REBUILD)
    try:
        if server.vmid is None:
            raise StepError("no VM")
        client = node_client(node=server.node)
        config = client.vm_config(server.node.pve_node, server.vmid)
        if not has_marker(config, server):
            raise StepError("the VM does not carry this server's marker")
        specs = _pve_specs(config)
        power = str(client.vm_status(server.node.pve_node, server.vmid).get("status"))
    except (PveError, StepError) as exc:
        Server.objects.filter(pk=server.pk).update(
            status=ServerStatus.ERROR, status_reason=reason, updated_at=timezone.now()
        )
        logger.info("server %s marked error after job %s (%s)", server.pk, job.pk, exc)
        return
    if broken:
        Server.objects.filter(pk=server.pk).update(
            **specs, status=ServerStatus.ERROR, status_reason=reason, updated_at=timezone.now()
        )
    else:
        _store(server, specs=specs, power=power, reason=reason)


register_failure_hook(
    kinds=SERVER_JOB_KINDS,
    hook=server_after_failure,
)


# --- what the tasks call -------------------------------------------------------------------------


def _transient_guard(fn):
    """A PVE that cannot be reached for a moment is retried later (bounded), not failed at once;
    the steps are idempotent, so running one again is safe."""

    def handler(run: StepRun) -> None:
        try:
            fn(run)
        except PveTransientError as exc:
            count = int(run.step.get("transient_retries", 0))
            if count >= MAX_TRANSIENT_RETRIES:
                raise
            run.save_step(transient_retries=count + 1, note=f"PVE unreachable: {exc.message}")
            raise JobRetryLater(str(exc), countdown_s=2.0 * 2**count) from exc

    handler.__name__ = fn.__name__
    return handler


STEP_HANDLERS = {
    name: _transient_guard(fn)
    for name, fn in {
        "clone": step_clone,
        "configure": step_configure,
        "resize_disk": step_resize_disk,
        "start": step_start,
        "stop": step_stop,
        "destroy": step_destroy,
        "remove_record": step_remove_record,
        "power": step_power,
        "set_password": step_set_password,
        "apply": step_apply,
        "finish": step_finish,
        "sync": step_sync,
    }.items()
}


def server_job_run(*, job_id, task_name: str) -> None:
    """Run the steps of ``job_id`` that belong to the Celery task ``task_name``."""
    from panel.jobs import job_run_task

    job_run_task(job_id=job_id, task_name=task_name, handlers=STEP_HANDLERS)
