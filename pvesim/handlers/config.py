"""GET/PUT/POST /nodes/{node}/qemu/{vmid}/config: PVE's update_vm_api, pending changes included."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pvesim.api import (
    ApiError,
    Request,
    check_lock,
    check_skiplock,
    config_missing,
    die,
    load_vm,
    lock_message,
    param_error,
    route,
    typed_value,
)
from pvesim.drives import format_size, is_disk_key, parse_drive
from pvesim.guests import ensure_mac, next_disk_name
from pvesim.locks import LockTimeout
from pvesim.state import Volume
from pvesim.taskrunner import TaskContext, TaskError

if TYPE_CHECKING:
    from pvesim.server import PveSimulator
    from pvesim.state import Node, Vm

CONFIG = "/nodes/{node}/qemu/{vmid}/config"
CONTROL_PARAMS = {
    "node",
    "vmid",
    "digest",
    "delete",
    "revert",
    "force",
    "skiplock",
    "background_delay",
}
# Options a running VM cannot take on the fly with PVE's default hotplug (network,disk,usb):
# they stay in the [PENDING] section until the next start/reboot.
DEFERRED_WHEN_RUNNING = {
    "cores",
    "sockets",
    "vcpus",
    "memory",
    "cpu",
    "numa",
    "machine",
    "bios",
    "scsihw",
    "ostype",
    "vga",
    "args",
    "kvm",
    "acpi",
    "hugepages",
    "arch",
    "agent",
    "tablet",
}
HIDDEN_PASSWORD = "**********"
NEW_DISK_RE = re.compile(
    r"^(?P<storage>[a-z][a-z0-9\-_.]*[a-z0-9]):(?P<size>\d+(?:\.\d+)?)(?P<rest>,.*)?$"
)
# Spelled as in qemu-server's Qemu.pm (behaviour.md quotes it corrected as "mismatch").
DIGEST_MISMATCH = "checksum missmatch (file change by other user?)"
SSH_KEY_RE = re.compile(r"^(?:ssh-|ecdsa-|sk-)[\w@.-]+ [A-Za-z0-9+/=]+(?: .*)?$")


@dataclass
class ConfigUpdate:
    settings: dict[str, Any] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    digest: str | None = None
    force: bool = False


def prepare_update(req: Request) -> ConfigUpdate:
    """The checks update_vm_api makes on the parameters before touching the config."""
    deletes = [d for d in re.split(r"[,;\s]+", req.get("delete", "") or "") if d]
    reverts = [r for r in re.split(r"[,;\s]+", req.get("revert", "") or "") if r]
    settings = {k: v for k, v in req.params.items() if k not in CONTROL_PARAMS}
    if not settings and not deletes and not reverts:
        raise die("no options specified")
    for opt in deletes:
        if opt in settings:
            raise param_error(
                {"delete": f"you can't use '-{opt}' and -delete {opt}' at the same time"}
            )
    if "sshkeys" in settings:
        keys = unquote(settings["sshkeys"])
        for line in keys.splitlines():
            if line.strip() and not SSH_KEY_RE.match(line.strip()):
                raise die("SSH public key validation error")
    typed = {k: typed_value(req.prop_schema(k), v) for k, v in settings.items()}
    return ConfigUpdate(typed, deletes, req.get("digest"), req.bool("force"))


def check_digest(vm: Vm, digest: str | None) -> None:
    if digest and digest != vm.digest():
        raise die(DIGEST_MISMATCH)


def _hash_password(password: str, vmid: int) -> str:
    digest = hashlib.sha256(f"{vmid}:{password}".encode()).hexdigest()
    return f"$5$pvesim${digest[:43]}"


def _allocate_disk(sim: PveSimulator, node: Node, vm: Vm, key: str, value: str) -> str:
    m = NEW_DISK_RE.match(value)
    if not m:
        return value
    storage = node.storages.get(m["storage"])
    if storage is None:
        raise die(f"storage '{m['storage']}' does not exist")
    if not storage.supports("images"):
        raise die(f"storage '{m['storage']}' does not support vm images")
    size = int(float(m["size"]) * 1024**3)
    volname = next_disk_name(node, storage.storage, vm.vmid)
    storage.volumes[volname] = Volume(
        volname=volname,
        content="images",
        vmid=vm.vmid,
        size=size,
        ctime=int(sim.now()),
        format="raw",
    )
    rest = m["rest"] or ""
    return f"{storage.storage}:{volname}{rest},size={format_size(size)}"


def _unused_key(config: dict[str, Any]) -> str:
    n = 0
    while f"unused{n}" in config:
        n += 1
    return f"unused{n}"


def apply_update(sim: PveSimulator, vm: Vm, update: ConfigUpdate) -> None:
    """Write the change to the config (stopped VM) or hotplug/pend it (running VM)."""
    node = sim.state.nodes[vm.node]
    running = vm.status == "running"
    for key, value in update.settings.items():
        if key == "cipassword":
            value = _hash_password(str(value), vm.vmid)
        elif re.fullmatch(r"net\d+", key):
            value = ensure_mac(str(value), sim.rng)
        elif is_disk_key(key):
            value = _allocate_disk(sim, node, vm, key, str(value))
        if running and key in DEFERRED_WHEN_RUNNING:
            vm.pending[key] = value
            if key in vm.pending_delete:
                vm.pending_delete.remove(key)
        else:
            vm.config[key] = value
            vm.pending.pop(key, None)
    for key in update.deletes:
        if running and key in DEFERRED_WHEN_RUNNING:
            if key not in vm.pending_delete:
                vm.pending_delete.append(key)
            continue
        value = vm.config.pop(key, None)
        vm.pending.pop(key, None)
        if value is not None and is_disk_key(key):
            volid, opts = parse_drive(str(value))
            if opts.get("media") != "cdrom" and ":" in volid:
                if update.force:
                    storage, _, volname = volid.partition(":")
                    node.storages.get(storage, None) and node.storages[storage].volumes.pop(
                        volname, None
                    )
                else:
                    vm.config[_unused_key(vm.config)] = volid


def apply_pending(vm: Vm) -> None:
    vm.config.update(vm.pending)
    for key in vm.pending_delete:
        vm.config.pop(key, None)
    vm.pending.clear()
    vm.pending_delete.clear()


def _describe(update: ConfigUpdate) -> str:
    """The cluster-log style summary qmconfig prints (passwords hidden, as PVE does)."""
    parts = [f"-{k} {'<hidden>' if k == 'cipassword' else v}" for k, v in update.settings.items()]
    if update.deletes:
        parts.append(f"-delete {','.join(update.deletes)}")
    return " ".join(parts)


def shown_config(vm: Vm, *, current: bool) -> dict[str, Any]:
    config = dict(vm.config if current else vm.merged_config())
    if "cipassword" in config:
        config["cipassword"] = HIDDEN_PASSWORD
    config["digest"] = vm.digest()
    return config


@route("GET", CONFIG)
def config_get(sim: PveSimulator, req: Request):
    with sim.state.lock:
        vm = load_vm(sim, req.node, req.vmid)
        if req.get("snapshot"):
            raise die(f"snapshot '{req.get('snapshot')}' does not exist")
        return shown_config(vm, current=req.bool("current"))


@route("PUT", CONFIG)
def config_put(sim: PveSimulator, req: Request):
    """Synchronous: the flock is taken inside the request, so contention is an HTTP 500."""
    check_skiplock(req)
    update = prepare_update(req)
    try:
        with sim.locks.vm(req.vmid, timeout=sim.knobs.lock_timeout_s), sim.state.lock:
            vm = load_vm(sim, req.node, req.vmid)
            check_digest(vm, update.digest)  # update_vm_api: digest, then check_lock
            check_lock(vm)
            apply_update(sim, vm, update)
    except LockTimeout as exc:
        raise die(str(exc)) from None
    sim.persist()
    return None


@route("POST", CONFIG)
def config_post(sim: PveSimulator, req: Request):
    """Asynchronous (qmconfig task); parameter, digest and config-lock checks fail the call."""
    check_skiplock(req)
    update = prepare_update(req)
    node, vmid = req.node, req.vmid
    with sim.state.lock:
        vm = load_vm(sim, node, vmid)
        check_digest(vm, update.digest)
        check_lock(vm)

    def work(ctx: TaskContext) -> None:
        with sim.locks.vm(vmid, timeout=sim.knobs.lock_timeout_s, ready=ctx.started):
            ctx.sleep(ctx.duration)
            with sim.state.lock:
                vm = sim.state.vm_on(node, vmid)
                if vm is None:
                    raise TaskError(config_missing(node, vmid))
                message = lock_message(vm)
                if message:
                    raise TaskError(message)
                if update.digest and update.digest != vm.digest():
                    raise TaskError(DIGEST_MISMATCH)
            ctx.commit()
            with sim.state.lock:
                try:
                    apply_update(sim, vm, update)
                except ApiError as exc:
                    raise TaskError(exc.message) from None
                ctx.log(f"update VM {vmid}: {_describe(update)}")

    upid = sim.runner.start(
        node=node, task_type="qmconfig", task_id=str(vmid), work=work, signals_start=True
    )
    delay = req.int("background_delay")
    if delay and sim.runner.wait(upid, delay):
        task = sim.state.tasks[upid]
        if task.exitstatus == "OK" or (task.exitstatus or "").startswith("WARNINGS"):
            return None
        raise die(f"failed to update VM {vmid}: {task.exitstatus}")
    return upid
