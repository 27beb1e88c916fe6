"""Storage content (list, delete) and vzdump backups (PVE's VZDump.pm and Storage/Content.pm)."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from pvesim.api import Request, check_privilege, die, param_error, route
from pvesim.drives import human_size, parse_drive, parse_size
from pvesim.guests import disk_keys
from pvesim.locks import LockTimeout
from pvesim.state import Volume
from pvesim.taskrunner import TaskContext, TaskError

if TYPE_CHECKING:
    from pvesim.server import PveSimulator
    from pvesim.state import Node, Storage, Vm

COMPRESS_EXT = {"0": "", "1": ".lzo", "lzo": ".lzo", "gzip": ".gz", "zstd": ".zst"}
NOTES_VARS = ("cluster", "guestname", "node", "vmid")
BACKUP_NAME_RE = re.compile(
    r"^backup/vzdump-(?P<type>qemu|lxc)-(?P<vmid>\d+)-"
    r"(?P<ts>\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2})\.(?P<format>(?:vma|tar)(?:\.\w+)?)$"
)


def _storage(node: Node, storage_id: str) -> Storage:
    storage = node.storages.get(storage_id)
    if storage is None:
        raise die(f"storage '{storage_id}' does not exist")
    return storage


@route("GET", "/nodes/{node}/storage/{storage}/content")
def storage_content(sim: PveSimulator, req: Request):
    content = req.get("content")
    vmid = req.get("vmid")
    with sim.state.lock:
        storage = _storage(sim.state.nodes[req.node], req.params["storage"])
        items = []
        for volname, vol in sorted(storage.volumes.items()):
            if content and vol.content != content:
                continue
            if vmid is not None and vol.vmid != int(vmid):
                continue
            item = {
                "volid": f"{storage.storage}:{volname}",
                "format": vol.format,
                "size": vol.size,
                "content": vol.content,
            }
            if vol.vmid is not None:
                item["vmid"] = vol.vmid
            if vol.content == "backup":
                item["ctime"] = vol.ctime
                item["subtype"] = "qemu"
                if vol.notes:
                    item["notes"] = vol.notes.split("\n")[0]
                if vol.protected:
                    item["protected"] = 1
            else:
                item["ctime"] = vol.ctime
                item["used"] = vol.size // 4
                if vol.parent:
                    item["parent"] = vol.parent
            items.append(item)
        return items


@route("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}")
def storage_content_delete(sim: PveSimulator, req: Request):
    storage_id = req.params.get("storage")
    volume = req.params["volume"]
    if ":" in volume:
        vol_storage, _, volname = volume.partition(":")
        if storage_id and vol_storage != storage_id:
            raise die(f"storage ID mismatch ({vol_storage} != {storage_id})")
        storage_id = vol_storage
    else:
        volname = volume
    node_name = req.node
    with sim.state.lock:
        storage = _storage(sim.state.nodes[node_name], storage_id)
        vol = storage.volumes.get(volname)
        match = BACKUP_NAME_RE.match(volname)
        owner = vol.vmid if vol else (int(match["vmid"]) if match else None)
    if volname.startswith("backup/"):
        check_privilege(sim, f"/storage/{storage_id}", "Datastore.AllocateSpace")
        if owner is not None:
            check_privilege(sim, f"/vms/{owner}", "VM.Backup")
    else:
        check_privilege(sim, f"/storage/{storage_id}", "Datastore.Allocate")
    task_id = f"{owner}@{storage_id}" if owner is not None else storage_id
    path = f"{storage.path or '/dev/pve'}/{volname.replace('backup/', 'dump/')}"

    def work(ctx: TaskContext) -> None:
        ctx.sleep(ctx.duration)
        with sim.state.lock:
            vol = storage.volumes.get(volname)
            if vol is None:
                raise TaskError(f"removing archive {path} failed: No such file or directory")
            if vol.protected:
                raise TaskError(f"cannot remove protected archive '{path}'")
            if vol.content == "images":
                for vm in sim.state.nodes[node_name].vms.values():
                    if any(
                        f"{storage_id}:{volname}" == parse_drive(str(v))[0]
                        for k, v in vm.config.items()
                        if k in disk_keys(vm.config)
                    ):
                        raise TaskError(
                            f"unable to delete volume '{storage_id}:{volname}' - "
                            f"used by VM {vm.vmid}"
                        )
        ctx.commit()
        with sim.state.lock:
            storage.volumes.pop(volname, None)
        if vol.content == "backup":
            ctx.log(f"removed backup '{path}'")

    upid = sim.runner.start(node=node_name, task_type="imgdel", task_id=task_id, work=work)
    delay = req.int("delay")
    if delay and sim.runner.wait(upid, delay) and sim.state.tasks[upid].exitstatus == "OK":
        return None
    return upid


# --- vzdump -----------------------------------------------------------------------------------


def _render_notes(template: str, *, vm: Vm, node: str, cluster: str) -> str:
    values = {
        "cluster": cluster,
        "guestname": str(vm.config.get("name", f"VM {vm.vmid}")),
        "node": node,
        "vmid": str(vm.vmid),
    }

    def replace(m: re.Match) -> str:
        return values[m[1]]

    text = re.sub(r"\{\{(\w+)\}\}", replace, template)
    return text.replace("\\n", "\n").replace("\\\\", "\\")


def _check_notes_template(template: str) -> None:
    for m in re.finditer(r"\{\{(\w+)\}\}", template):
        if m[1] not in NOTES_VARS:
            raise param_error(
                {"notes-template": f"found unknown: variable '{m[1]}' at char {m.start()}"}
            )


@route("POST", "/nodes/{node}/vzdump")
def vzdump(sim: PveSimulator, req: Request):
    node_name = req.node
    storage_id = req.get("storage") or "local"
    compress = req.get("compress", "0")
    mode = req.get("mode", "snapshot")
    notes_template = req.get("notes-template")
    protected = req.bool("protected")
    lockwait_min = req.int("lockwait", 180)
    if req.bool("all") and req.get("vmid"):
        raise param_error({"vmid": "option conflicts with option 'all'"})
    if not req.bool("all") and not req.get("vmid") and not req.get("pool"):
        raise param_error({"vmid": "property is missing and it is not optional"})
    if notes_template:
        _check_notes_template(notes_template)
    with sim.state.lock:
        node = sim.state.nodes[node_name]
        storage = _storage(node, storage_id)
        if not storage.supports("backup"):
            raise die(f"storage '{storage_id}' does not support backups")
        if req.bool("all"):
            wanted = sorted(node.vms)
        else:
            wanted = [int(v) for v in re.split(r"[,;\s]+", req.get("vmid") or "") if v]
        local = [vmid for vmid in wanted if vmid in node.vms]
    for vmid in local:
        check_privilege(sim, f"/vms/{vmid}", "VM.Backup")
    check_privilege(sim, f"/storage/{storage_id}", "Datastore.AllocateSpace")
    if not local:
        return "OK"  # VZDump.pm: none of the guests runs here, nothing to do
    args = " ".join(map(str, local))
    for key in ("storage", "mode", "compress", "notes-template", "protected", "remove"):
        value = req.get(key)
        if value is not None:
            args += f" --{key} '{value}'" if " " in value else f" --{key} {value}"
    args += f" --node {node_name}"

    def work(ctx: TaskContext) -> None:
        global_lock = sim.locks.node_vzdump(node_name)
        try:
            global_lock.acquire(exclusive=True, timeout=0)
            waiting = False
        except LockTimeout:
            waiting = True
            ctx.log("INFO: trying to get global lock - waiting...")
        ctx.started()  # whoever asked first holds the node's vzdump lock
        if waiting:
            try:
                global_lock.acquire(exclusive=True, timeout=lockwait_min * 60)
            except LockTimeout:
                raise TaskError("can't acquire lock '/var/run/vzdump.lock' - got timeout") from None
        try:
            if waiting:
                ctx.log("INFO: got global lock")
            ctx.log(f"INFO: starting new backup job: vzdump {args}")
            failed = False
            for vmid in local:
                failed |= not _backup_one(
                    sim, ctx, node_name, storage, vmid, compress, mode, notes_template, protected
                )
            if failed:
                ctx.log("INFO: Backup job finished with errors")
                raise TaskError("job errors")
            ctx.log("INFO: Backup job finished successfully")
        finally:
            global_lock.release(exclusive=True)

    task_id = str(local[0]) if len(local) == 1 else ""
    upid = sim.runner.start(
        node=node_name, task_type="vzdump", task_id=task_id, work=work, signals_start=True
    )
    sim.persist()
    return upid


def _localtime(when: float | None = None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))


def _backup_one(
    sim: PveSimulator,
    ctx: TaskContext,
    node_name: str,
    storage: Storage,
    vmid: int,
    compress: str,
    mode: str,
    notes_template: str | None,
    protected: bool,
) -> bool:
    started = time.time()
    ctx.log(f"INFO: Starting Backup of VM {vmid} (qemu)")
    ctx.log(f"INFO: Backup started at {_localtime(started)}")

    def fail(message: str) -> bool:
        ctx.log(f"ERROR: Backup of VM {vmid} failed - {message}")
        ctx.log(f"INFO: Failed at {_localtime()}")
        return False

    try:
        with sim.locks.vm(vmid, timeout=sim.knobs.lock_timeout_s), sim.state.lock:
            vm = sim.state.vm_on(node_name, vmid)
            if vm is None:
                return fail(
                    f"Configuration file 'nodes/{node_name}/qemu-server/{vmid}.conf' does not exist"
                )
            if vm.lock:
                return fail(f"VM is locked ({vm.lock})")
            vm.config["lock"] = "backup"
            config = {k: v for k, v in vm.config.items() if k != "lock"}
            name = str(vm.config.get("name", f"VM {vmid}"))
            status = vm.status
    except LockTimeout as exc:
        return fail(str(exc))
    try:
        disks = []
        for key in disk_keys(config):
            volid, opts = parse_drive(str(config[key]))
            if opts.get("backup") == "0":
                continue
            size = parse_size(opts.get("size", "0"))
            disks.append(size)
            ctx.log(f"INFO: include disk '{key}' '{volid}' {opts.get('size', '0')}")
        total = sum(disks)
        ext = COMPRESS_EXT.get(compress, "")
        stamp = time.strftime("%Y_%m_%d-%H_%M_%S", time.localtime(started))
        filename = f"vzdump-qemu-{vmid}-{stamp}.vma{ext}"
        ctx.log(f"INFO: status = {status}")
        ctx.log(f"INFO: VM Name: {name}")
        ctx.log(f"INFO: backup mode: {mode}")
        ctx.log("INFO: ionice priority: 7")
        ctx.log(f"INFO: creating vzdump archive '{storage.path}/dump/{filename}'")
        ctx.log("INFO: started backup task '" + sim.new_uuid() + "'")
        ctx.progress(
            ctx.duration,
            lambda f: (
                f"INFO: {int(f * 100):3d}% ({human_size(total * f)} of {human_size(total)}) "
                f"in {max(1, int(ctx.duration * f))}s"
            ),
            steps=4,
        )
        try:
            ctx.commit()
        except TaskError as exc:
            return fail(str(exc))
        size = max(1024**2, int(total * (0.05 + 0.3 * sim.rng.random())))
        ctx.log(f"INFO: archive file size: {human_size(size).replace(' ', '')}")
        notes = None
        if notes_template:
            with sim.state.lock:
                vm = sim.state.vm_on(node_name, vmid)
                if vm is not None:
                    notes = _render_notes(
                        notes_template, vm=vm, node=node_name, cluster=sim.state.cluster_name
                    )
            ctx.log("INFO: adding notes to backup")
        if protected:
            ctx.log("INFO: marking backup as protected")
        with sim.state.lock:
            volname = f"backup/{filename}"
            storage.volumes[volname] = Volume(
                volname=volname,
                content="backup",
                vmid=vmid,
                size=size,
                ctime=int(started),
                format=f"vma{ext}",
                notes=notes,
                protected=protected,
                backup_config=config,
            )
        elapsed = int(time.time() - started)
        ctx.log(
            f"INFO: Finished Backup of VM {vmid} "
            f"({elapsed // 3600:02d}:{elapsed % 3600 // 60:02d}:{elapsed % 60:02d})"
        )
        ctx.log(f"INFO: Backup finished at {_localtime()}")
        return True
    finally:
        with sim.state.lock:
            vm = sim.state.vm_on(node_name, vmid)
            if vm is not None and vm.config.get("lock") == "backup":
                del vm.config["lock"]
