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
from pvesim.drives import format_size, is_cdrom, is_disk_key, parse_drive
from pvesim.guests import ensure_mac, free_volume, next_disk_name
from pvesim.hotplug import (
    HotplugError,
    Skip,
    hotplug_delete,
    hotplug_features,
    hotplug_value,
    is_fast_plug,
)
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
HIDDEN_PASSWORD = "**********"
NEW_DISK_RE = re.compile(
    r"^(?P<storage>[a-z][a-z0-9\-_.]*[a-z0-9]):(?P<size>\d+(?:\.\d+)?)(?P<rest>,.*)?$"
)
# qemu-server spelled it "missmatch" until its typo fix of 2024-10 (be8c868f, PVE 8.3).
DIGEST_MISMATCH = "checksum mismatch (file change by other user?)"
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


def _release_drive(node: Node, vm: Vm, value: Any, *, force: bool = False) -> None:
    """vmconfig_delete_or_detach_drive / vmconfig_register_unused_drive: a disk that leaves the
    config becomes ``unusedN`` (forced: freed); a cloud-init volume is freed; a CD-ROM is not
    a volume of the VM."""
    if value is None:
        return
    volid, opts = parse_drive(str(value))
    if ":" not in volid:
        return
    if "cloudinit" in volid or force:
        free_volume(node, volid)
    elif not is_cdrom(opts) and volid not in _referenced_volids(vm.config):
        vm.config[_unused_key(vm.config)] = volid


def _referenced_volids(config: dict[str, Any]) -> set[str]:
    return {
        parse_drive(str(value))[0]
        for key, value in config.items()
        if is_disk_key(key) or key.startswith("unused")
    }


@dataclass
class UpdateOutcome:
    errors: dict[str, str] = field(default_factory=dict)  # option -> "hotplug problem - ..."
    warnings: list[str] = field(default_factory=list)


def apply_update(sim: PveSimulator, vm: Vm, update: ConfigUpdate) -> UpdateOutcome:
    """update_vm_api's updatefn: every change goes to [PENDING] first; then a stopped VM takes
    all of it, a running one what it can hotplug (the options this update touched)."""
    node = sim.state.nodes[vm.node]
    outcome = UpdateOutcome()
    modified: set[str] = set()
    for key in update.deletes:
        modified.add(key)
        value = vm.config.get(key, vm.pending.get(key))
        if value is None:
            outcome.warnings.append(f"cannot delete '{key}' - not set in current configuration!")
            continue
        pending_value = vm.pending.pop(key, None)
        if key.startswith("unused"):
            free_volume(node, parse_drive(str(value))[0])
            vm.config.pop(key, None)
        elif key == "tags":
            vm.config.pop(key, None)
        else:
            if is_disk_key(key) and pending_value is not None:
                _release_drive(node, vm, pending_value)
            vm.add_pending_delete(key, update.force)
    for key, value in update.settings.items():
        modified.add(key)
        if key in vm.pending and vm.pending[key] == value:
            continue
        if key == "cipassword":  # written straight into the config, never pending
            vm.config[key] = _hash_password(str(value), vm.vmid)
            continue
        if re.fullmatch(r"net\d+", key):
            value = ensure_mac(str(value), sim.rng)
        elif is_disk_key(key):
            _release_drive(node, vm, vm.pending.get(key))
            value = _allocate_disk(sim, node, vm, key, str(value))
        vm.pending[key] = value
        vm.remove_pending_delete(key)
    cleanup_pending(vm)
    if not vm.pending and not vm.pending_delete:
        return outcome
    if vm.status == "running":
        outcome.errors = hotplug_pending(node, vm, modified)
    else:
        apply_pending(sim, vm)
    return outcome


def cleanup_pending(vm: Vm) -> None:
    """AbstractConfig::cleanup_pending: drop pending values equal to the current ones and
    pending deletes of options the config does not have."""
    for key in list(vm.pending):
        if key in vm.config and str(vm.pending[key]) == str(vm.config[key]):
            del vm.pending[key]
    for key in vm.pending_deletes():
        if key not in vm.config:
            vm.remove_pending_delete(key)


def hotplug_pending(node: Node, vm: Vm, selection: set[str]) -> dict[str, str]:
    """vmconfig_hotplug_pending: returns option -> ``hotplug problem - ...`` for failures."""
    errors: dict[str, str] = {}
    for key in list(vm.pending):  # these never touch the running guest: always applied
        if is_fast_plug(key):
            vm.config[key] = vm.pending.pop(key)
    features = hotplug_features(vm.config)
    for key, force in sorted(vm.pending_deletes().items()):
        if key not in selection:
            continue
        try:
            hotplug_delete(vm.config, key, features)
        except Skip:
            continue
        except HotplugError as exc:
            errors[key] = f"hotplug problem - {exc}"
            continue
        old = vm.config.pop(key, None)
        if is_disk_key(key):
            _release_drive(node, vm, old, force=force)
        vm.remove_pending_delete(key)
    for key in list(vm.pending):
        if key not in selection:
            continue
        try:
            value = hotplug_value(vm.config, key, vm.pending[key], features)
        except Skip:
            continue
        except HotplugError as exc:
            errors[key] = f"hotplug problem - {exc}"
            continue
        old = vm.config.get(key)
        vm.config[key] = value
        del vm.pending[key]
        if is_disk_key(key) and old is not None and old != value:
            _release_drive(node, vm, old)
    return errors


def apply_pending(sim: PveSimulator, vm: Vm) -> None:
    """vmconfig_apply_pending: at a stopped VM's config write, at stop and at start."""
    node = sim.state.nodes[vm.node]
    for key, force in sorted(vm.pending_deletes().items()):
        old = vm.config.pop(key, None)
        if is_disk_key(key):
            _release_drive(node, vm, old, force=force)
    vm.pending_delete.clear()
    cleanup_pending(vm)
    for key, value in vm.pending.items():
        old = vm.config.get(key)
        vm.config[key] = value
        if is_disk_key(key) and old is not None and old != value:
            _release_drive(node, vm, old)
    vm.pending.clear()


def hotplug_error_text(errors: dict[str, str]) -> str:
    """raise_param_exc as a worker reports it: the exception's lines joined by spaces."""
    return " ".join(
        ["400 Parameter verification failed."] + [f"{k}: {v}" for k, v in errors.items()]
    )


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
        if req.get("snapshot") and req.bool("current"):
            conflict = "cannot use 'snapshot' parameter with 'current'"
            raise param_error({"snapshot": conflict, "current": conflict})
        vm = load_vm(sim, req.node, req.vmid)
        if req.get("snapshot"):
            raise die(f"snapshot '{req.get('snapshot')}' does not exist")
        return shown_config(vm, current=req.bool("current"))


def pending_items(vm: Vm) -> list[dict[str, Any]]:
    """GET .../pending: GuestHelpers::config_with_pending_array over the loaded config (whose
    ``digest`` is one of the keys)."""
    deletes = vm.pending_deletes()
    config = {**vm.config, "digest": vm.digest()}
    if "cipassword" in config:
        config["cipassword"] = HIDDEN_PASSWORD
    items = []
    for key, value in config.items():
        item: dict[str, Any] = {"key": key, "value": value}
        if key in vm.pending:
            item["pending"] = vm.pending[key]
        if key in deletes:
            item["delete"] = 2 if deletes[key] else 1
        items.append(item)
    for key in sorted(set(vm.pending) - set(config)):
        pending = vm.pending[key]
        items.append({"key": key, "pending": "********** " if key == "cipassword" else pending})
    # PVE tests the parsed {force => ...} hash, always true, so these say 2 (cleanup_pending
    # normally drops deletes of options the config does not have).
    items += [{"key": key, "delete": 2} for key in sorted(set(deletes) - set(config))]
    return items


@route("GET", "/nodes/{node}/qemu/{vmid}/pending")
def pending_get(sim: PveSimulator, req: Request):
    with sim.state.lock:
        return pending_items(load_vm(sim, req.node, req.vmid))


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
            outcome = apply_update(sim, vm, update)
    except LockTimeout as exc:
        raise die(str(exc)) from None
    sim.persist()
    if outcome.errors:  # everything else is written; the failed options stay pending
        raise param_error(outcome.errors)
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
                ctx.log(f"update VM {vmid}: {_describe(update)}")
                try:
                    outcome = apply_update(sim, vm, update)
                except ApiError as exc:
                    raise TaskError(exc.message) from None
            for warning in outcome.warnings:
                ctx.warn(warning)
            if outcome.errors:
                raise TaskError(hotplug_error_text(outcome.errors))

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
