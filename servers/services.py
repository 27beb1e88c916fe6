"""Server services: validate a request, then record a Job of the asked kind; and retry a failed one.

The services (``server_create``, ``server_adopt``, ``server_resize``, ...) run in the web request
(views, admin, API): they validate in one place, record the Job (its steps from the kind's
declaration in ``servers.jobs``) in one short transaction and queue its Celery chain on commit;
they never call PVE. The ``server_*_retry`` functions are the retries those declarations name.
What the worker then does on PVE is in ``servers.steps``. Their outcome (a Job, or a
ValidationError, JobConflict or PermissionDenied) is turned into each front door's answer by
``panel.outcomes``.
"""

from __future__ import annotations

import re
import uuid

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction

from nodes.models import Node, Template
from panel.audit import audit_record
from panel.crypto import encrypt
from panel.jobs import JobConflict, job_create, job_definition, job_dispatch
from panel.models import Job, JobKind
from panel.validators import HOSTNAME_RE
from servers.models import Plan, PowerAction, Server, ServerStatus
from servers.steps.marker import MARKER_PREFIX

__all__ = [
    "JobConflict",
    "server_action_retry",
    "server_adopt",
    "server_create",
    "server_create_retry",
    "server_delete",
    "server_power",
    "server_power_retry",
    "server_rebuild",
    "server_reset_password",
    "server_resize",
    "server_resize_retry",
    "server_retry_refused_for_password",
    "server_suspend",
    "server_sync",
    "server_unsuspend",
]

# Sanity bounds on top of the plan and node limits: values beyond these are typing mistakes.
ABSURD_CPU_CORES = 512
MIN_MEMORY_MIB = 256
ABSURD_MEMORY_MIB = 16 * 1024 * 1024  # 16 TiB
ABSURD_DISK_GIB = 128 * 1024  # 128 TiB
MIN_PASSWORD_LENGTH = 8
_SSH_KEY_RE = re.compile(
    r"^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
    r" [A-Za-z0-9+/=]+( .*)?$"
)

# --- validation helpers ------------------------------------------------------------------------


def _whole(value, field: str, errors: dict) -> int | None:
    """A whole number from an int or its decimal string; floats and bools are mistakes."""
    if isinstance(value, bool):
        errors.setdefault(field, []).append("Enter a whole number.")
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    errors.setdefault(field, []).append("Enter a whole number.")
    return None


def _check_range(
    value: int, field: str, errors: dict, *, minimum: int, unit: str, limits: list[tuple[int, str]]
) -> None:
    if value < minimum:
        unit_min = unit.rstrip("s") if minimum == 1 and unit.endswith("cores") else unit
        errors.setdefault(field, []).append(f"Must be at least {minimum}{unit_min}.")
        return
    for limit, who in limits:
        if value > limit:
            errors.setdefault(field, []).append(f"{who} allows at most {limit}{unit}.")
            return


def _spec_limits(plan: Plan, node: Node, *, beyond_plan: bool) -> dict[str, list]:
    def limits(panel_max: int, plan_max: int, node_max: int) -> list[tuple[int, str]]:
        pairs = [(panel_max, "The panel")]
        if not beyond_plan:  # staff's override lifts the plan's limit; the node's still holds
            pairs.append((plan_max, f"The plan {plan.name}"))
        return [*pairs, (node_max, f"The node {node.name}")]

    return {
        "cpu_cores": limits(ABSURD_CPU_CORES, plan.max_cpu_cores, node.max_cpu_cores),
        "memory_mib": limits(ABSURD_MEMORY_MIB, plan.max_memory_mib, node.max_memory_mib),
        "disk_gib": limits(ABSURD_DISK_GIB, plan.max_disk_gib, node.max_disk_gib),
    }


def _limits_override(user, beyond_plan: bool, errors: dict) -> dict:
    """The record of a staff override of the plan's limits, for the job's params and the audit;
    a customer asking for one is refused."""
    if not beyond_plan:
        return {}
    if not getattr(user, "is_staff", False):
        errors.setdefault(NON_FIELD_ERRORS, []).append(
            "Only staff can go beyond the plan's limits."
        )
        return {}
    return {"limits_override": f"override by {user.get_username()}"}


_UNITS = {"cpu_cores": " cores", "memory_mib": " MiB", "disk_gib": " GiB"}
_MINIMUMS = {"cpu_cores": 1, "memory_mib": MIN_MEMORY_MIB, "disk_gib": 1}


def _validate_specs(
    values: dict, *, plan: Plan, node: Node, errors: dict, beyond_plan: bool = False
) -> dict[str, int]:
    limits = _spec_limits(plan, node, beyond_plan=beyond_plan)
    clean: dict[str, int] = {}
    for field, raw in values.items():
        if raw is None:
            continue
        number = _whole(raw, field, errors)
        if number is None:
            continue
        before = len(errors.get(field, []))
        _check_range(
            number,
            field,
            errors,
            minimum=_MINIMUMS[field],
            unit=_UNITS[field],
            limits=limits[field],
        )
        if len(errors.get(field, [])) == before:
            clean[field] = number
    return clean


def _shrink_message(current_gib: int, wanted_gib: int) -> str:
    return (
        f"Disks can only grow: the disk is {current_gib} GiB, so {wanted_gib} GiB is not possible."
    )


def _validate_password(password: str, errors: dict, *, field: str = "password") -> None:
    if password and len(password) < MIN_PASSWORD_LENGTH:
        errors.setdefault(field, []).append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if password and any(ch in password for ch in "\r\n\0"):
        errors.setdefault(field, []).append("The password cannot contain line breaks.")


def _clean_ssh_keys(ssh_keys: str, errors: dict) -> str:
    lines = [line.strip() for line in (ssh_keys or "").splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        if not _SSH_KEY_RE.match(line):
            errors.setdefault("ssh_keys", []).append(
                f"Line {number} is not an OpenSSH public key (ssh-ed25519 AAAA... comment)."
            )
    return "\n".join(lines)


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def _check_access(*, server: Server, user) -> None:
    if user is None:
        return  # the panel itself, enforcing a policy (server_suspend, server_unsuspend)
    if not (user.is_staff or server.owner_id == user.pk):
        raise PermissionDenied("This server is not yours.")


def _check_actionable(*, server: Server, user, needs_vm: bool = True) -> None:
    """Customer actions are refused on suspended servers; nothing acts on a VM not built yet."""
    _check_access(server=server, user=user)
    if server.is_suspended and not (user is None or user.is_staff):
        raise ValidationError(
            {NON_FIELD_ERRORS: ["This server is suspended; please contact support."]}
        )
    if needs_vm and (server.vmid is None or server.status == ServerStatus.PROVISIONING):
        raise ValidationError(
            {NON_FIELD_ERRORS: ["This server has no VM on PVE yet; wait for it to be created."]}
        )
    if needs_vm and server.status == ServerStatus.ERROR and server.disk_gib == 0:
        # PVE never confirmed anything for it: its creation failed.
        raise ValidationError(
            {NON_FIELD_ERRORS: ["This server was never built; delete it and order it again."]}
        )


def _audit(*, user, action: str, server: Server | None, job: Job, details: dict) -> None:
    audit_record(
        actor=user,
        action=action,
        server=server,
        job=job,
        object_repr=str(server) if server is not None else job.target_name,
        details=details,
    )


def _record(
    *,
    kind: str,
    server: Server,
    user,
    params: dict,
    status: str | None = None,
    audit: dict | None = None,
) -> Job:
    """The one short transaction every action shares: the Job (with the steps its kind declares
    in ``servers.jobs``), the server's status, the audit entry; the Celery chain is queued after
    the commit."""
    with transaction.atomic():
        job = job_create(
            definition=job_definition(kind=kind),
            server=server,
            requested_by=user,
            params=params,
        )
        if status is not None and server.status != status:
            Server.objects.filter(pk=server.pk).update(status=status)
            server.status = status
        _audit(user=user, action=f"server_{kind}", server=server, job=job, details=audit or params)
        job_dispatch(job=job)
    return job


# --- the services the views, the API and the admin call ----------------------------------------


def _clean_names(name, hostname, errors: dict) -> tuple[str, str]:
    name = (name or "").strip()
    hostname = (hostname or "").strip().lower()
    if not name:
        errors.setdefault("name", []).append("Give the server a name.")
    elif len(name) > 100:
        errors.setdefault("name", []).append("Use at most 100 characters.")
    if not HOSTNAME_RE.match(hostname):
        errors.setdefault("hostname", []).append(
            "Use a DNS name: letters, digits and hyphens, dot-separated (e.g. web1.example.com)."
        )
    return name, hostname


def _free_vmid(vmid, node: Node, errors: dict) -> int | None:
    """A VMID no server on ``node`` has yet."""
    chosen = _whole(vmid, "vmid", errors)
    if chosen is not None:
        if not 100 <= chosen <= 999_999_999:
            errors.setdefault("vmid", []).append("A VMID is between 100 and 999999999.")
        elif Server.objects.filter(node=node, vmid=chosen).exists():
            errors.setdefault("vmid", []).append(
                f"VMID {chosen} is already used by a server on {node.name}."
            )
    return chosen


def _new_server(**fields) -> Server:
    """A server row, provisioning until its job has built (or read) the VM on PVE."""
    return Server.objects.create(status=ServerStatus.PROVISIONING, **fields)


def server_create(
    *,
    owner,
    plan: Plan,
    node: Node,
    template: Template,
    name: str,
    hostname: str,
    cpu_cores: int,
    memory_mib: int,
    disk_gib: int,
    password: str = "",
    ssh_keys: str = "",
    requested_by,
    vmid: int | None = None,
    beyond_plan: bool = False,
) -> Job:
    """Order a new server: clone ``template`` on ``node``, configure it, grow its disk, start it.
    ``beyond_plan``: staff may go beyond the plan's limits (recorded as their override)."""
    errors: dict[str, list[str]] = {}
    override = _limits_override(requested_by, beyond_plan, errors)
    name, hostname = _clean_names(name, hostname, errors)
    if node.is_enabled and Server.objects.filter(node=node).count() >= node.max_vms:
        errors.setdefault("node", []).append(
            f"The node {node.name} is full ({node.max_vms} servers)."
        )
    specs = _validate_build(
        plan=plan,
        node=node,
        template=template,
        cpu_cores=cpu_cores,
        memory_mib=memory_mib,
        disk_gib=disk_gib,
        errors=errors,
        beyond_plan=bool(override),
    )
    _validate_password(password, errors)
    ssh_keys = _clean_ssh_keys(ssh_keys, errors)
    if vmid is not None:
        vmid = _free_vmid(vmid, node, errors)
    _raise(errors)

    with transaction.atomic():
        server = _new_server(
            owner=owner,
            plan=plan,
            node=node,
            vmid=vmid,
            name=name,
            hostname=hostname,
            template=template,
        )
        job = _record_build(
            server=server,
            user=requested_by,
            template=template,
            specs=specs,
            vmid_chosen=vmid is not None,
            ssh_keys=ssh_keys,
            # Encrypted at rest; the configure step erases it once PVE has it.
            password_encrypted=encrypt(password) if password else "",
            audit={"vmid": vmid, **override},
            override=override,
        )
    return job


def _validate_build(
    *,
    plan: Plan,
    node: Node,
    template: Template,
    cpu_cores,
    memory_mib,
    disk_gib,
    errors: dict,
    beyond_plan: bool = False,
) -> dict[str, int]:
    """The checks a server's build must pass, for a new order and for the retry of a failed one."""
    if not plan.is_active:
        errors.setdefault("plan", []).append("This plan is no longer offered.")
    if not node.is_enabled:
        errors.setdefault("node", []).append("This node does not take new servers.")
    if template.node_id != node.pk:
        errors.setdefault("template", []).append(
            f"The template {template.name} is not on the node {node.name}."
        )
    elif not template.is_active:
        errors.setdefault("template", []).append("This template is no longer offered.")
    specs = _validate_specs(
        {"cpu_cores": cpu_cores, "memory_mib": memory_mib, "disk_gib": disk_gib},
        plan=plan,
        node=node,
        errors=errors,
        beyond_plan=beyond_plan,
    )
    if "disk_gib" in specs and specs["disk_gib"] < template.disk_gib:
        errors.setdefault("disk_gib", []).append(
            f"The template {template.name} has a {template.disk_gib} GiB disk; "
            f"choose at least {template.disk_gib} GiB."
        )
    return specs


def _record_build(
    *,
    server: Server,
    user,
    template: Template,
    specs: dict,
    vmid_chosen: bool,
    ssh_keys: str,
    password_encrypted: str,
    audit: dict,
    override: dict | None = None,
) -> Job:
    """The create job: clone, configure, grow the disk, start, read back. Every step skips what
    PVE already holds, so the same job recorded again for a half-built server finishes it."""
    params = {
        **specs,
        "template_id": template.pk,
        "template_vmid": template.vmid,
        "vmid_chosen": vmid_chosen,
        "ssh_keys": ssh_keys,
        "password_encrypted": password_encrypted,
        **(override or {}),
    }
    return _record(
        kind=JobKind.CREATE,
        server=server,
        user=user,
        params=params,
        status=ServerStatus.PROVISIONING,
        audit={**specs, "template": template.name, "node": server.node.name, **audit},
    )


def server_resize(
    *,
    server: Server,
    user,
    cpu_cores: int | None = None,
    memory_mib: int | None = None,
    disk_gib: int | None = None,
    beyond_plan: bool = False,
    restart: bool = False,
) -> Job:
    """Change cores/memory and/or grow the disk. The disk only grows; nothing changed is refused.

    ``beyond_plan``: staff may go beyond the plan's limits (recorded as their override). A running
    VM keeps a CPU or memory change it cannot take live pending until its next start;
    ``restart`` reboots it at the end of the job so the change applies now."""
    _check_actionable(server=server, user=user)
    errors: dict[str, list[str]] = {}
    override = _limits_override(user, beyond_plan, errors)
    specs = _validate_specs(
        {"cpu_cores": cpu_cores, "memory_mib": memory_mib, "disk_gib": disk_gib},
        plan=server.plan,
        node=server.node,
        errors=errors,
        beyond_plan=bool(override),
    )
    if "disk_gib" in specs and specs["disk_gib"] < server.disk_gib:
        message = _shrink_message(server.disk_gib, specs["disk_gib"])
        errors.setdefault("disk_gib", []).append(message)
        specs.pop("disk_gib")
    _raise(errors)
    # Compared with what the server gets at its next start: asking for what is already pending
    # changes nothing, asking for what it runs with cancels a pending change.
    changes = {
        field: value for field, value in specs.items() if value != server.after_restart(field)
    }
    if not changes and restart and server.pending_changes:
        return server_power(server=server, user=user, action=PowerAction.REBOOT)
    if not changes:
        raise ValidationError({NON_FIELD_ERRORS: [_nothing_to_change(server)]})
    # The job's steps follow from the params: only what changes is configured or grown.
    params = {
        **changes,
        "previous": {
            "cpu_cores": server.cpu_cores,
            "memory_mib": server.memory_mib,
            "disk_gib": server.disk_gib,
        },
        **override,
        **({"restart": True} if restart else {}),
    }
    return _record(
        kind=JobKind.RESIZE,
        server=server,
        user=user,
        params=params,
        status=ServerStatus.RESIZING,
    )


def _nothing_to_change(server: Server) -> str:
    cores, memory = server.after_restart("cpu_cores"), server.after_restart("memory_mib")
    message = (
        f"Nothing to change: the server already has {cores} cores, {memory} MiB of memory "
        f"and a {server.disk_gib} GiB disk"
    )
    if server.pending_changes:
        return message + " after its next restart. Restart it to apply them."
    return message + "."


def server_power(*, server: Server, user, action: str) -> Job:
    """start, stop (hard), shutdown (ACPI, forced off after the power timeout), reboot."""
    _check_actionable(server=server, user=user)
    if action not in PowerAction.values:
        raise ValidationError({"action": [f"Choose one of: {', '.join(PowerAction.values)}."]})
    return _record(
        kind=JobKind.POWER,
        server=server,
        user=user,
        params={"action": action},
    )


def server_rebuild(
    *, server: Server, user, template: Template, password: str = "", ssh_keys: str = ""
) -> Job:
    """Reinstall from a template: the VM is destroyed and cloned again under the same VMID."""
    _check_actionable(server=server, user=user)
    errors: dict[str, list[str]] = {}
    if template.node_id != server.node_id:
        errors.setdefault("template", []).append(
            f"The template {template.name} is not on this server's node."
        )
    elif not template.is_active:
        errors.setdefault("template", []).append("This template is no longer offered.")
    elif template.disk_gib > server.disk_gib:
        errors.setdefault("template", []).append(
            f"The template needs a {template.disk_gib} GiB disk; this server has "
            f"{server.disk_gib} GiB. Grow the disk first."
        )
    _validate_password(password, errors)
    ssh_keys = _clean_ssh_keys(ssh_keys, errors)
    _raise(errors)
    params = {
        "template_id": template.pk,
        "template_vmid": template.vmid,
        # What the customer last asked for: a change still pending is built in.
        "cpu_cores": server.after_restart("cpu_cores"),
        "memory_mib": server.after_restart("memory_mib"),
        "disk_gib": server.disk_gib,
        "vmid_chosen": True,
        "ssh_keys": ssh_keys,
        "password_encrypted": encrypt(password) if password else "",
    }
    return _record(
        kind=JobKind.REBUILD,
        server=server,
        user=user,
        params=params,
        status=ServerStatus.REBUILDING,
        audit={"template": template.name},
    )


def server_reset_password(*, server: Server, user, password: str) -> Job:
    """Set a new cloud-init password; a running server is rebooted so cloud-init applies it."""
    _check_actionable(server=server, user=user)
    errors: dict[str, list[str]] = {}
    if not password:
        errors["password"] = ["Enter the new password."]
    _validate_password(password, errors)
    _raise(errors)
    return _record(
        kind=JobKind.RESET_PASSWORD,
        server=server,
        user=user,
        params={"password_encrypted": encrypt(password)},
        audit={},
    )


def server_delete(*, server: Server, user) -> Job:
    """Stop and destroy the VM (purging its disks), then remove the server; jobs stay as history."""
    _check_access(server=server, user=user)
    if server.is_suspended and not (user is None or user.is_staff):
        raise ValidationError(
            {NON_FIELD_ERRORS: ["This server is suspended; please contact support."]}
        )
    return _record(
        kind=JobKind.DELETE,
        server=server,
        user=user,
        params={"vmid": server.vmid, "node": server.node.name, "status_before": server.status},
        status=ServerStatus.DELETING,
    )


def _staff_only(user) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only staff can do this.")


def server_suspend(*, server: Server, user, reason: str = "") -> Job:
    """Staff, or the panel itself (``user=None``, e.g. the traffic quota's policy, saying why in
    ``reason``): shut the server down and keep it down until unsuspended."""
    return _record_suspension(server=server, user=user, suspend=True, reason=reason)


def server_unsuspend(*, server: Server, user, reason: str = "") -> Job:
    """Staff, or the panel itself (``user=None``): lift the suspension and start the server."""
    return _record_suspension(server=server, user=user, suspend=False, reason=reason)


def _record_suspension(*, server: Server, user, suspend: bool, reason: str) -> Job:
    if user is not None:
        _staff_only(user)
    if server.is_suspended == suspend:
        state = "already suspended" if suspend else "not suspended"
        raise ValidationError({NON_FIELD_ERRORS: [f"This server is {state}."]})
    _check_actionable(server=server, user=user)
    kind = JobKind.SUSPEND if suspend else JobKind.UNSUSPEND
    params = {"reason": reason} if reason else {}
    return _record(kind=kind, server=server, user=user, params=params)


def server_sync(*, server: Server, user) -> Job:
    """Read the VM from PVE and store what it holds; differences are recorded in the job."""
    _check_access(server=server, user=user)
    if server.vmid is None:
        raise ValidationError({NON_FIELD_ERRORS: ["This server has no VM on PVE yet."]})
    return _record(
        kind=JobKind.SYNC,
        server=server,
        user=user,
        params={},
    )


def server_adopt(
    *,
    node: Node,
    vmid: int,
    owner,
    plan: Plan,
    name: str,
    hostname: str = "",
    marker_uuid: uuid.UUID | None = None,
    requested_by,
) -> Job:
    """Staff: record a VM that already exists on PVE as ``owner``'s server, and queue a sync job
    that reads its specs and power state from PVE (until then it shows as provisioning).

    The sync, like every job, acts only on a VM that carries the server's ownership marker:
    ``marker_uuid`` is the one the VM's marker already names (``server_uuid_from_marker``). A
    VMID the panel already records on ``node`` is refused.
    """
    _staff_only(requested_by)
    errors: dict[str, list[str]] = {}
    name, hostname = _clean_names(name, hostname or name, errors)
    vmid = _free_vmid(vmid, node, errors)
    if marker_uuid is not None and Server.objects.filter(uuid=marker_uuid).exists():
        errors.setdefault(NON_FIELD_ERRORS, []).append(
            "A server with this VM's ownership marker is already recorded."
        )
    _raise(errors)
    with transaction.atomic():
        # The uuid the VM's marker names, so the sync finds the VM ours.
        marker = {"uuid": marker_uuid} if marker_uuid is not None else {}
        server = _new_server(
            owner=owner, plan=plan, node=node, vmid=vmid, name=name, hostname=hostname, **marker
        )
        job = server_sync(server=server, user=requested_by)
        _audit(
            user=requested_by,
            action="server_adopt",
            server=server,
            job=job,
            details={"vmid": vmid, "node": node.name},
        )
    return job


def server_uuid_from_marker(description: str) -> uuid.UUID | None:
    """The server uuid named by the panel's ownership marker in a VM's description, or None."""
    for line in (description or "").splitlines():
        if line.startswith(MARKER_PREFIX):
            try:
                return uuid.UUID(line.removeprefix(MARKER_PREFIX).strip())
            except ValueError:
                return None
    return None


# --- retrying a failed job: the retries the kinds' declarations (servers.jobs) name -------------


def _refuse(message: str) -> None:
    raise ValidationError({NON_FIELD_ERRORS: [message]})


def _failed_job_server(job: Job) -> Server:
    """The server of the failed ``job``; a server that is gone leaves nothing to retry."""
    server = (
        Server.objects.select_related("node", "plan", "template").filter(pk=job.server_id).first()
        if job.server_id is not None
        else None
    )
    if server is None:
        _refuse(f"The server {job.target_name} is gone; there is nothing to retry.")
    return server


def server_create_retry(*, job: Job, user) -> Job:
    """Record the create again for the same server: the clone is skipped if PVE holds the VM
    with this server's marker, the disk if it already has its size, the start if it runs. Every
    check of an order runs again against today's plan, node and template."""
    server = _failed_job_server(job)
    _check_access(server=server, user=user)
    if Job.objects.filter(server=server, created_at__gt=job.created_at).exists():
        _refuse(
            "Other jobs ran on this server after this create failed; retrying it could undo "
            "them. Resize or rebuild the server instead."
        )
    params = job.params or {}
    template = Template.objects.select_related("node").filter(pk=params.get("template_id")).first()
    if template is None:
        _refuse("The template this server was ordered with is gone; delete the server.")
    errors: dict[str, list[str]] = {}
    specs = _validate_build(
        plan=server.plan,
        node=server.node,
        template=template,
        cpu_cores=params.get("cpu_cores"),
        memory_mib=params.get("memory_mib"),
        disk_gib=params.get("disk_gib"),
        errors=errors,
        # The same order again: a staff override of the plan's limits still stands.
        beyond_plan=bool(params.get("limits_override")),
    )
    override = {"limits_override": params["limits_override"]} if "limits_override" in params else {}
    ssh_keys = _clean_ssh_keys(params.get("ssh_keys", ""), errors)
    _raise(errors)
    return _record_build(
        server=server,
        user=user,
        template=template,
        specs=specs,
        vmid_chosen=bool(params.get("vmid_chosen")),
        ssh_keys=ssh_keys,
        # Still here if the first attempt failed before PVE got it; erased (and on PVE) if not.
        password_encrypted=params.get("password_encrypted", ""),
        audit={"vmid": server.vmid, "retry_of": str(job.pk), **override},
        override=override,
    )


def server_resize_retry(*, job: Job, user) -> Job:
    """The same sizes, through ``server_resize``: a resize that is now a shrink is refused."""
    server = _failed_job_server(job)
    params = job.params or {}
    specs = {f: params[f] for f in ("cpu_cores", "memory_mib", "disk_gib") if f in params}
    return server_resize(server=server, user=user, restart=bool(params.get("restart")), **specs)


def server_power_retry(*, job: Job, user) -> Job:
    server = _failed_job_server(job)
    return server_power(server=server, user=user, action=(job.params or {}).get("action", ""))


def server_action_retry(*, job: Job, user, service) -> Job:
    """A job whose service takes nothing but the server (delete, suspend, ...): that service
    again, so every check runs again against today's server."""
    return service(server=_failed_job_server(job), user=user)


def server_retry_refused_for_password(*, job: Job, user) -> Job:
    """A rebuild or a password reset sets a password, which the configure step erased once PVE
    had it: it cannot be sent again."""
    _failed_job_server(job)
    kind = job.get_kind_display().lower()
    _refuse(
        f"A {kind} sets a password, which the panel does not keep once PVE has it: start a new "
        f"{kind} from the server's page and enter the password again."
    )
