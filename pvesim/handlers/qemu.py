"""VM list and status, resize and destroy (qemu-server's Qemu.pm)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvesim.api import (
    Request,
    check_skiplock,
    config_missing,
    die,
    load_vm,
    lock_message,
    route,
)
from pvesim.drives import (
    human_size,
    is_cdrom,
    parse_drive,
    parse_size,
    split_volid,
)
from pvesim.guests import (
    drive_with,
    free_volume,
    vm_status,
    vm_volumes,
)
from pvesim.handlers.config import DIGEST_MISMATCH
from pvesim.taskrunner import TaskContext, TaskError

if TYPE_CHECKING:
    from pvesim.server import PveSimulator
    from pvesim.state import Node


@route("GET", "/nodes/{node}/qemu")
def vm_list(sim: PveSimulator, req: Request):
    with sim.state.lock:
        vms = sim.state.nodes[req.node].vms.values()
        return [vm_status(vm, full=False) for vm in sorted(vms, key=lambda v: v.vmid)]


@route("GET", "/nodes/{node}/qemu/{vmid}/status/current")
def vm_status_current(sim: PveSimulator, req: Request):
    with sim.state.lock:
        return vm_status(load_vm(sim, req.node, req.vmid))


# --- resize -----------------------------------------------------------------------------------


@route("PUT", "/nodes/{node}/qemu/{vmid}/resize")
def vm_resize(sim: PveSimulator, req: Request):
    """Since PVE 8.0 everything, even a shrink or a missing VM, fails inside the task."""
    check_skiplock(req)
    node_name, vmid = req.node, req.vmid
    disk, size_param, digest = req.params["disk"], req.params["size"], req.get("digest")

    def work(ctx: TaskContext) -> None:
        with sim.locks.vm(vmid, timeout=sim.knobs.lock_timeout_s, ready=ctx.started):
            with sim.state.lock:
                vm = sim.state.vm_on(node_name, vmid)
                if vm is None:
                    raise TaskError(config_missing(node_name, vmid))
                if digest and digest != vm.digest():
                    raise TaskError(DIGEST_MISMATCH)
                message = lock_message(vm)
                if message:
                    raise TaskError(message)
                value = vm.config.get(disk)
                if value is None:
                    raise TaskError(f"disk '{disk}' does not exist")
                volid, opts = parse_drive(str(value))
                if is_cdrom(opts):
                    raise TaskError("you can't resize a cdrom")
                if not volid or ":" not in volid:
                    raise TaskError(f"disk '{disk}' has no associated volume")
                size = parse_size(opts.get("size", "0"))
                amount = parse_size(size_param)  # binary units, no suffix = bytes
                new_size = size + amount if size_param.startswith("+") else amount
                if new_size < size:
                    raise TaskError("shrinking disks is not supported")
                if new_size == size:
                    return  # PVE: `return if $size == $newsize;` -- TASK OK, nothing logged
            ctx.sleep(ctx.duration)
            ctx.commit()
            with sim.state.lock:
                vm = sim.state.vm_on(node_name, vmid)
                if vm is None:
                    raise TaskError(config_missing(node_name, vmid))
                storage, volname = split_volid(volid)
                lv = volname.split("/")[-1]
                ctx.log(
                    f"  Size of logical volume pve/{lv} changed from {human_size(size)} to "
                    f"{human_size(new_size)}."
                )
                ctx.log(f"  Logical volume pve/{lv} successfully resized.")
                vol = sim.state.nodes[node_name].storages.get(storage)
                if vol is not None and volname in vol.volumes:
                    vol.volumes[volname].size = new_size
                vm.config[disk] = drive_with(str(vm.config[disk]), size=new_size)

    return sim.runner.start(
        node=node_name, task_type="resize", task_id=str(vmid), work=work, signals_start=True
    )


# --- destroy ----------------------------------------------------------------------------------


@route("DELETE", "/nodes/{node}/qemu/{vmid}")
def vm_destroy(sim: PveSimulator, req: Request):
    check_skiplock(req)
    node_name, vmid = req.node, req.vmid
    purge = req.bool("purge")
    unreferenced = req.bool("destroy-unreferenced-disks")
    with sim.state.lock:
        vm = load_vm(sim, node_name, vmid)
        if int(vm.config.get("protection", 0) or 0):
            raise die(f"can't remove VM {vmid} - protection mode enabled")
        if vm.status == "running":
            raise die(f"VM {vmid} is running - destroy failed")

    def work(ctx: TaskContext) -> None:
        with sim.locks.vm(vmid, timeout=sim.knobs.lock_timeout_s, ready=ctx.started):
            with sim.state.lock:
                vm = sim.state.vm_on(node_name, vmid)
                if vm is None:
                    raise TaskError(config_missing(node_name, vmid))
                message = lock_message(vm, allowed=("suspended",))
                if message:
                    raise TaskError(message)
                if vm.status == "running":
                    raise TaskError(f"VM {vmid} is running - destroy failed")
            ctx.sleep(ctx.duration)
            ctx.commit()
            with sim.state.lock:
                node = sim.state.nodes[node_name]
                vm = node.vms[vmid]
                for _key, volid in vm_volumes(vm.config):
                    storage, volname = split_volid(volid)
                    lv = volname.split("/")[-1]
                    users = _linked_clone_users(node, storage, lv) if lv.startswith("base-") else []
                    if users:
                        ctx.warn(
                            f"Could not remove disk '{volid}', check manually: base volume "
                            f"'{lv}' is still in use by linked cloned"
                        )
                        continue
                    free_volume(node, volid)
                    ctx.log(f'  Logical volume "{lv}" successfully removed.')
                if unreferenced:
                    for st in node.storages.values():
                        for volname, vol in list(st.volumes.items()):
                            if vol.content == "images" and vol.vmid == vmid:
                                del st.volumes[volname]
                                ctx.log(f"destroyed unreferenced volume '{st.storage}:{volname}'")
                del node.vms[vmid]
                if purge:
                    ctx.log(f"purging VM {vmid} from related configurations..")

    return sim.runner.start(
        node=node_name, task_type="qmdestroy", task_id=str(vmid), work=work, signals_start=True
    )


def _linked_clone_users(node: Node, storage: str, base: str) -> list[str]:
    st = node.storages.get(storage)
    if st is None:
        return []
    return [name for name in st.volumes if name.startswith(f"{base}/")]
