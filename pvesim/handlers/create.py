"""POST /nodes/{node}/qemu: create, or restore a vzdump archive (qemu-server's create_vm)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pvesim.api import (
    ApiError,
    Request,
    check_privilege,
    die,
    lock_message,
    param_error,
    route,
    typed_value,
)
from pvesim.drives import (
    is_cdrom,
    is_disk_key,
    parse_drive,
    parse_size,
    split_volid,
)
from pvesim.guests import (
    CLOUDINIT_SIZE,
    disk_keys,
    drive_with,
    free_volume,
    next_disk_name,
    vm_volumes,
    with_new_mac,
    with_new_smbios_uuid,
)
from pvesim.handlers.config import ConfigUpdate, apply_update
from pvesim.state import Vm, Volume
from pvesim.taskrunner import TaskContext, TaskError
from pvesim.traffic import qemu_started

if TYPE_CHECKING:
    from pvesim.server import PveSimulator


# --- create and restore -----------------------------------------------------------------------


@route("POST", "/nodes/{node}/qemu")
def vm_create(sim: PveSimulator, req: Request):
    if req.get("archive") is not None:
        return _restore(sim, req)
    return _create(sim, req)


def _create_and_lock_config(
    sim: PveSimulator, node_name: str, vmid: int, *, force: bool, verb: str
) -> Vm:
    existing = sim.state.find_vm(vmid)
    if existing is not None and (existing.node != node_name or not force):
        raise die(
            f"unable to {verb} VM {vmid} - VM {vmid} already exists on node '{existing.node}'"
        )
    if existing is not None:
        message = lock_message(existing)
        if message:
            raise die(f"unable to {verb} VM {vmid} - {message}")
        existing.config["lock"] = "create"
        return existing
    vm = Vm(vmid=vmid, node=node_name, config={"lock": "create"})
    sim.state.nodes[node_name].vms[vmid] = vm
    return vm


def _create(sim: PveSimulator, req: Request):
    node_name, vmid = req.node, req.vmid
    settings = {
        k: typed_value(req.prop_schema(k), v)
        for k, v in req.params.items()
        if k
        not in (
            "node",
            "vmid",
            "start",
            "storage",
            "pool",
            "unique",
            "ha-managed",
            "import-working-storage",
            "live-restore",
            "bwlimit",
            "force",
        )
    }
    start = req.bool("start")
    check_privilege(sim, f"/vms/{vmid}", "VM.Allocate")
    with sim.state.lock:
        _create_and_lock_config(sim, node_name, vmid, force=False, verb="create")

    def work(ctx: TaskContext) -> None:
        try:
            ctx.sleep(ctx.duration)
            ctx.commit()
            with sim.state.lock:
                vm = sim.state.nodes[node_name].vms[vmid]
                try:
                    apply_update(sim, vm, ConfigUpdate(settings))
                except ApiError as exc:
                    raise TaskError(exc.message.strip()) from None
                vm.config.setdefault("smbios1", with_new_smbios_uuid("", sim.rng))
                vm.config.pop("lock", None)
                if start:
                    qemu_started(sim, vm)
        except TaskError:
            with sim.state.lock:  # qmcreate removes the config again on failure
                sim.state.nodes[node_name].vms.pop(vmid, None)
            raise

    upid = sim.runner.start(node=node_name, task_type="qmcreate", task_id=str(vmid), work=work)
    sim.persist()
    return upid


def _restore(sim: PveSimulator, req: Request):
    node_name, vmid, archive = req.node, req.vmid, req.params["archive"]
    conflicts = {
        k: "option conflicts with option 'archive'"
        for k in req.params
        if is_disk_key(k) or re.fullmatch(r"unused\d+", k)
    }
    if conflicts:
        raise param_error(conflicts)
    force, unique = req.bool("force"), req.bool("unique")
    target_storage = req.get("storage")
    # Overwriting an existing VM needs only VM.Backup; anything else VM.Allocate.
    overwrite = force and sim.state.vm_on(node_name, vmid) is not None
    check_privilege(sim, f"/vms/{vmid}", "VM.Backup" if overwrite else "VM.Allocate")
    with sim.state.lock:
        node = sim.state.nodes[node_name]
        try:
            storage_id, volname = split_volid(archive)
        except ValueError:
            raise die(f"can't find file '{archive}'") from None
        st = node.storages.get(storage_id)
        if st is None:
            raise die(f"storage '{storage_id}' does not exist")
        backup = st.volumes.get(volname)
        if backup is None or backup.content != "backup":
            raise die(f"can't find file '{archive}'")
        if target_storage:
            tst = node.storages.get(target_storage)
            if tst is None:
                raise die(f"storage '{target_storage}' does not exist")
            if not tst.supports("images"):
                raise die(f"storage '{target_storage}' does not support vm images")
        _create_and_lock_config(sim, node_name, vmid, force=force, verb="restore")
        backup_config = dict(backup.backup_config or {})

    def work(ctx: TaskContext) -> None:
        try:
            with sim.locks.vm(vmid, timeout=sim.knobs.lock_timeout_s, ready=ctx.started):
                with sim.state.lock:
                    vm = node.vms[vmid]
                    if vm.status == "running":
                        raise TaskError(f"unable to restore VM {vmid} - vm is running")
                    disks = [
                        (k, parse_drive(str(backup_config[k])))
                        for k in disk_keys(backup_config, include_cdrom=True)
                    ]
                ctx.log(
                    f"restore vma archive: zstd -q -d -c {st.path}/dump/"
                    f"{volname.split('/')[-1]} | vma extract -v -r /var/tmp/vzdumptmp"
                    f"{ctx.task.pid}.fifo - /var/tmp/vzdumptmp{ctx.task.pid}"
                )
                ctx.log("CFG: size: 612 name: qemu-server.conf")
                total = 0
                for i, (key, (_volid, opts)) in enumerate(disks):
                    if opts.get("media") == "cdrom":
                        continue
                    size = parse_size(opts.get("size", "0"))
                    total += size
                    ctx.log(f"DEV: dev_id={i + 1} size: {size} devname: drive-{key}")
                ctx.progress(
                    ctx.duration,
                    lambda f: (
                        f"progress {int(f * 100)}% (read {int(total * f)} bytes, "
                        f"duration {int(ctx.duration * f)} sec)"
                    ),
                    steps=4,
                )
                ctx.commit()
                with sim.state.lock:
                    vm = node.vms[vmid]
                    for _key, volid in vm_volumes(vm.config):
                        free_volume(node, volid)
                    new_config = {}
                    for key, value in backup_config.items():
                        if is_disk_key(key):
                            volid, opts = parse_drive(str(value))
                            if is_cdrom(opts) and "cloudinit" not in volid:
                                new_config[key] = value
                                continue
                            src_storage = split_volid(volid)[0]
                            dest = target_storage or src_storage
                            if dest not in node.storages:
                                dest = next(
                                    s.storage
                                    for s in node.storages.values()
                                    if s.supports("images")
                                )
                            if "cloudinit" in volid:
                                new_volname, size = f"vm-{vmid}-cloudinit", CLOUDINIT_SIZE
                            else:
                                new_volname = next_disk_name(node, dest, vmid)
                                size = parse_size(opts.get("size", "0"))
                            node.storages[dest].volumes[new_volname] = Volume(
                                volname=new_volname,
                                content="images",
                                vmid=vmid,
                                size=size,
                                ctime=int(sim.now()),
                                format="raw",
                            )
                            ctx.log(f"new volume ID is '{dest}:{new_volname}'")
                            new_config[key] = drive_with(str(value), volid=f"{dest}:{new_volname}")
                        elif re.fullmatch(r"net\d+", key) and unique:
                            new_config[key] = with_new_mac(str(value), sim.rng)
                        elif key not in ("lock", "digest"):
                            new_config[key] = value
                    ctx.log("rescan volumes...")
                    vm.config = new_config
                    vm.pending.clear()
                    vm.pending_delete.clear()
        except BaseException:
            with sim.state.lock:  # the create lock goes; the VM stays ("state is NOT cleaned up")
                vm = node.vms.get(vmid)
                if vm is not None and vm.config.get("lock") == "create":
                    del vm.config["lock"]
            raise

    upid = sim.runner.start(
        node=node_name, task_type="qmrestore", task_id=str(vmid), work=work, signals_start=True
    )
    sim.persist()
    return upid
