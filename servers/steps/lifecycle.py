"""The server steps that change a VM on PVE, one PVE operation each: clone, configure, resize the
disk, start, stop, power, set the password, reboot to apply it, destroy; and removing the record.

Each takes the ``StepRun`` and the arguments its job kind's declaration (``servers.jobs``) gives
it; none asks which kind of job it runs in.
"""

from __future__ import annotations

import random
from urllib.parse import unquote

from django.conf import settings
from django.db import transaction

from nodes.models import Template
from nodes.selectors import nodes_sharing_vmids
from nodes.services import node_record_cluster
from panel.crypto import decrypt
from panel.jobs import StepRun, job_set_result
from panel.models import Job
from proxmox.errors import (
    PveAlreadyExistsError,
    PveNotFoundError,
    PveOutcomeUnknown,
    PveTransientError,
    PveValidationError,
)
from proxmox.units import GIB
from proxmox.vmconfig import memory_mib
from servers.models import Server, ServerStatus
from servers.steps.context import (
    Ctx,
    StepError,
    pve_step,
    specs_with_disk,
    step_context,
    take_heavy_slot,
)
from servers.steps.held import pending_sizes, read_pending
from servers.steps.marker import has_marker, marker_description, marker_tags
from servers.steps.readback import asked_memory_mib

CLOUDINIT_USER_DEFAULT = "root"


# How many VMIDs a clone tries when PVE answers that the one it got is taken (/cluster/nextid
# reserves nothing: another client may take the same id between our question and our clone).
MAX_VMID_ATTEMPTS = 5


def _allocate_vmid(c: Ctx) -> int:
    """The VMID for a new VM: the chosen one, or PVE's next free one that no server or template
    of the node's cluster holds in the panel (a VMID is unique across a PVE cluster). The nodes
    of the cluster are locked while choosing, so two creates never take the same id."""
    if c.server.vmid is not None:
        return c.server.vmid
    if c.node.cluster_checked_at is None:
        node_record_cluster(node=c.node, client=c.client)
    candidate = c.client.next_vmid()
    with transaction.atomic():
        nodes = list(nodes_sharing_vmids(node=c.node).select_for_update().order_by("pk"))
        taken = set(
            Server.objects.filter(node__in=nodes, vmid__isnull=False).values_list("vmid", flat=True)
        ) | set(Template.objects.filter(node__in=nodes).values_list("vmid", flat=True))
        while candidate in taken:
            candidate += 1
        Server.objects.filter(pk=c.server.pk, vmid__isnull=True).update(vmid=candidate)
    c.server.refresh_from_db(fields=["vmid"])
    return c.server.vmid


def _give_up_vmid(c: Ctx, *, why: str) -> None:
    """Another VM holds the server's VMID: leave it alone and allocate another id, unless staff
    chose this one."""
    if c.params.get("vmid_chosen"):
        raise StepError(
            f"VMID {c.vmid} was chosen for this server, but another VM holds it ({why}); "
            "that VM is left alone. Choose another VMID."
        )
    c.run.save_step(note=f"VMID {c.vmid} is taken ({why}); allocating another")
    Server.objects.filter(pk=c.server.pk).update(vmid=None)
    c.server.vmid = None


def _our_clone_at_vmid(c: Ctx) -> bool | None:
    """What the server's VMID holds on its node: True our clone, False another VM, None nothing.
    A VM still locked (a clone writes its marker last) is read once its lock is gone: it may be
    our own clone, issued before a crash or answered ambiguously."""
    config = c.config_or_none()
    if config is not None and config.get("lock"):
        try:
            config = c.unlocked_config()
        except PveNotFoundError:
            config = None  # the clone failed and PVE removed its temporary config
    if config is None:
        return None
    return has_marker(config, c.server)


@pve_step
def step_clone(run: StepRun) -> None:
    c = step_context(run)
    template = Template.objects.filter(pk=c.params["template_id"]).first()
    if template is None:
        raise StepError("The template is gone.")
    take_heavy_slot(job=c.job, node=c.node)

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

    for attempt in range(MAX_VMID_ATTEMPTS):
        if not run.upid:
            _allocate_vmid(c)
            ours = _our_clone_at_vmid(c)
            if ours:
                c.skip(f"VM {c.vmid} already cloned")  # a clone issued before a crash
                return
            if ours is False:
                _give_up_vmid(c, why=f"VM {c.vmid} on {c.pve_node} is not this server's")
                continue
        try:
            c.issue_and_wait(
                issue, timeout_key="clone", task_type="qmclone", task_vmid=template.vmid
            )
        except PveAlreadyExistsError as exc:
            if exc.vmid_taken != c.vmid:
                raise
            run.forget_upid()
            if _our_clone_at_vmid(c):
                c.skip(f"VM {c.vmid} already cloned")
                return
            _give_up_vmid(c, why=f"PVE answered: {exc.message}")
            c.sleep(random.uniform(0.2, 0.5) * 2**attempt)
            continue
        if not _our_clone_at_vmid(c):
            # The task followed after a lost answer was another clone of the template.
            run.forget_upid()
            raise PveTransientError(f"no VM {c.vmid} of this server after the clone task")
        return
    raise StepError(
        f"PVE refused {MAX_VMID_ATTEMPTS} VMIDs in a row as taken by other VMs; try again."
    )


def _cloudinit_params(c: Ctx, *, new_vm: bool) -> dict:
    """What cloud-init gets: for a VM fresh from a template its user, network and keys; the
    password whenever the job carries one."""
    out: dict = {}
    if new_vm:
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


def _differs(config: dict, key: str, value) -> bool:
    """Whether ``config`` (what PVE holds for the next start) has another ``key`` than ``value``."""
    if key == "memory":
        return memory_mib(config) != int(value)
    if key == "sshkeys":  # PVE keeps them URI-encoded
        return unquote(str(config.get(key) or "")).strip() != str(value).strip()
    return str(config.get(key)) != str(value)


def _hotplug_refusals(exc: PveValidationError) -> dict[str, str]:
    """A PUT answered 400 only because a running VM could not hotplug some options: PVE wrote
    every option and keeps those pending. Empty if anything else was refused."""
    refused = {k: str(v) for k, v in exc.errors.items() if "hotplug problem" in str(v)}
    return refused if refused and len(refused) == len(exc.errors) else {}


@pve_step
def step_configure(run: StepRun, *, new_vm: bool = False) -> None:
    """Set the cores and memory the job asks for; a ``new_vm`` (fresh from a template) also gets
    its name, the panel's marker and its cloud-init user, network and keys.

    Only what PVE does not hold yet (running or pending) is written, so running the step again
    (after an ambiguous answer, a redelivery) sends nothing twice. A running VM keeps what it
    cannot hotplug pending until its next start; that is held, not a failure."""
    c = step_context(run)
    config = c.require_marker(c.unlocked_config(), doing="configure it")
    wanted: dict = {}
    if "cpu_cores" in c.params:
        wanted["cores"] = int(c.params["cpu_cores"])
    if "memory_mib" in c.params:
        wanted["memory"] = asked_memory_mib(c.job)
    if new_vm:
        wanted["name"] = c.server.hostname
        wanted["tags"] = marker_tags(config)
        wanted["description"] = marker_description(c.server, config.get("description", ""))
    held = read_pending(c.client, c.pve_node, c.vmid)
    memory_before = memory_mib(held.current)
    asked = {**wanted, **_cloudinit_params(c, new_vm=new_vm)}
    update = {
        k: v for k, v in asked.items() if k == "cipassword" or _differs(held.next_start, k, v)
    }
    if not update:
        c.skip("PVE already holds these values")
        return
    unknown: PveOutcomeUnknown | None = None
    try:
        # Synchronous PUT: PVE has written it when the call returns; a lock is retried.
        c.on_lock(lambda: c.client.vm_config_update(c.pve_node, c.vmid, **update))
    except PveValidationError as exc:
        refused = _hotplug_refusals(exc)
        if not refused:
            raise
        c.run.save_step(note="kept pending: " + "; ".join(f"{k}: {v}" for k, v in refused.items()))
    except PveOutcomeUnknown as exc:
        unknown = exc  # PVE may have written it: what it holds decides
    _forget_password(c)
    held = read_pending(c.client, c.pve_node, c.vmid)
    if "memory" in update and held.hotplugs("memory") and "memory" not in held.pending_keys():
        # PVE's memory hotplug adds or removes whole DIMMs: it holds what they add up to (3000
        # -> 3072), never the size it had before (that would be a write that did not happen).
        live = memory_mib(held.current)
        if live not in (wanted["memory"], memory_before):
            job_set_result(job=c.job, memory_rounded={"asked": wanted["memory"], "held": live})
            wanted["memory"] = live
    wrong = {
        key: (held.next_start.get(key), value)
        for key, value in wanted.items()
        if _differs(held.next_start, key, value)
    }
    if wrong and unknown is not None:
        # Not written (or not all): the step runs again later, bounded, and writes what is missing.
        raise unknown
    if wrong:
        raise StepError(
            "PVE does not hold what was configured: "
            + ", ".join(f"{k} is {have!r}, expected {want!r}" for k, (have, want) in wrong.items())
        )


@pve_step
def step_resize_disk(run: StepRun) -> None:
    c = step_context(run)
    target_gib = int(c.params["disk_gib"])
    specs = specs_with_disk(c.require_marker(c.unlocked_config(), doing="resize its disk"))
    disk, size_bytes = specs.boot_disk, specs.disk_bytes
    if not run.upid:
        if size_bytes == target_gib * GIB:
            c.skip(f"{disk} is already {target_gib} GiB")
            return
        if size_bytes > target_gib * GIB:
            raise StepError(
                f"{disk} on PVE is {size_bytes / GIB:g} GiB, larger than {target_gib} GiB: "
                "disks only grow."
            )
    c.issue_and_wait(
        lambda: c.client.vm_resize(c.pve_node, c.vmid, disk=disk, size=target_gib),
        timeout_key="resize",
        task_type="resize",
    )
    specs = specs_with_disk(c.client.vm_config(c.pve_node, c.vmid))
    if specs.disk_bytes != target_gib * GIB:
        raise StepError(
            f"After the resize PVE holds {specs.disk_bytes / GIB:g} GiB on {specs.boot_disk}, "
            f"not {target_gib} GiB."
        )


@pve_step
def step_start(run: StepRun) -> None:
    c = step_context(run)
    if not run.upid and c.power_state() == "running":
        c.skip("already running")
        return
    _power(c, "start")


def _power(c: Ctx, action: str, **params) -> None:
    """Issue a power action and follow its task (PVE's task type is ``qm<action>``)."""
    c.issue_and_wait(
        lambda: c.client.vm_power(c.pve_node, c.vmid, action, **params),
        timeout_key="power",
        task_type=f"qm{action}",
    )


def _shutdown(c: Ctx) -> None:
    # PVE falls back to a hard stop itself after `timeout` when forceStop is set.
    _power(c, "shutdown", timeout=max(10, int(c.timeout("power")) - 30), forceStop=1)


def _never_confirmed(c: Ctx, config: dict | None) -> bool:
    """A server PVE never confirmed (its create failed) whose VMID holds no VM of ours: the VM
    there (if any) is someone else's and is left alone."""
    if c.server.vmid is None:
        return True
    unconfirmed = c.params.get("status_before") in (ServerStatus.ERROR, ServerStatus.PROVISIONING)
    return unconfirmed and (config is None or not has_marker(config, c.server))


@pve_step
def step_stop(run: StepRun, *, graceful: bool = False, absent_ok: bool = False) -> None:
    """Stop the VM: hard, or ``graceful`` (ACPI shutdown, forced after the power timeout).
    ``absent_ok``: no VM of this server on PVE (gone, or never built) leaves nothing to stop."""
    c = step_context(run)
    if not run.upid:
        config = c.config_or_none() if c.server.vmid is not None else None
        if absent_ok and _never_confirmed(c, config):
            c.skip("no VM of this server on PVE; nothing to stop")
            return
        if absent_ok and config is None:
            c.skip("the VM is already gone")
            return
        c.require_marker(config, doing="stop it")
        if c.power_state() != "running":
            c.skip("already stopped")
            return
    if graceful:
        _shutdown(c)
    else:
        _power(c, "stop")


@pve_step
def step_destroy(run: StepRun, *, absent_ok: bool = False) -> None:
    """Destroy the VM and its disks. A VM already gone is skipped; ``absent_ok`` also leaves alone
    the VMID of a server PVE never confirmed (the VM there, if any, is not ours)."""
    c = step_context(run)
    if not run.upid:
        config = c.config_or_none() if c.server.vmid is not None else None
        if absent_ok and _never_confirmed(c, config):
            c.skip("no VM of this server on PVE; nothing to destroy")
            return
        if config is None:
            c.skip("the VM is already gone")
            return
        c.require_marker(config, doing="destroy it")
    c.issue_and_wait(
        lambda: c.client.vm_delete(c.pve_node, c.vmid, purge=True, destroy_unreferenced_disks=True),
        timeout_key="delete",
        task_type="qmdestroy",
    )


@pve_step
def step_remove_record(run: StepRun) -> None:
    """The VM is gone from PVE: the server row goes too (its jobs stay, by name, as history)."""
    server = Server.objects.filter(pk=run.job.server_id).first()
    if server is None:
        return
    with transaction.atomic():
        Job.objects.filter(pk=run.job.pk).update(target_name=server.name)
        server.delete()


@pve_step
def step_power(run: StepRun) -> None:
    """The power action the job asks for (``params["action"]``), unless PVE already is there."""
    c = step_context(run)
    action = c.params["action"]
    if not run.upid:
        c.require_marker(c.config_or_none(), doing=action)
        state = c.power_state()
        if action == "start" and state == "running":
            c.skip("already running")
            return
        if action in ("stop", "shutdown") and state != "running":
            c.skip("already stopped")
            return
        if action == "reboot" and state != "running":
            action = "start"  # PVE refuses to reboot a stopped VM; starting it is what was meant
    if action == "shutdown":
        _shutdown(c)
        return
    _power(c, action)


@pve_step
def step_set_password(run: StepRun) -> None:
    c = step_context(run)
    c.require_marker(c.unlocked_config(), doing="change its password")
    update = _cloudinit_params(c, new_vm=False)
    if update:
        c.on_lock(lambda: c.client.vm_config_update(c.pve_node, c.vmid, **update))
    _forget_password(c)


@pve_step
def step_apply(run: StepRun, *, pending_only: bool = False) -> None:
    """Reboot a running VM so what waits for its next start applies (PVE's reboot is a shutdown
    and a start); a stopped one applies it at its next start. ``pending_only``: only when PVE
    keeps a CPU or memory change pending (a resize the VM took live needs no restart)."""
    c = step_context(run)
    if not run.upid:
        if c.power_state() != "running":
            c.skip("stopped: it applies at the next start")
            return
        if pending_only and not pending_sizes(read_pending(c.client, c.pve_node, c.vmid)):
            c.skip("nothing waits for a restart")
            return
    _power(c, "reboot")
