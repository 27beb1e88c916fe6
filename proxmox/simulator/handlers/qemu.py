"""VM list and status, clone, resize, destroy, create and restore (qemu-server's Qemu.pm)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from proxmox.simulator.api import (
    ApiError,
    Request,
    check_privilege,
    check_skiplock,
    config_missing,
    die,
    load_vm,
    lock_message,
    param_error,
    route,
    typed_value,
)
from proxmox.simulator.drives import (
    human_size,
    is_cdrom,
    is_disk_key,
    parse_drive,
    parse_size,
    split_volid,
)
from proxmox.simulator.guests import (
    disk_keys,
    drive_with,
    next_disk_name,
    vm_status,
    vm_volumes,
    with_new_mac,
    with_new_smbios_uuid,
)
from proxmox.simulator.handlers.config import DIGEST_MISMATCH, ConfigUpdate, apply_update
from proxmox.simulator.state import Vm, Volume
from proxmox.simulator.tasks import TaskContext, TaskError, TaskInterrupted

if TYPE_CHECKING:
    from proxmox.simulator.server import PveSimulator
    from proxmox.simulator.state import Node

SIZE_PARAM_RE = re.compile(r"(?P<plus>\+)?(?P<num>\d+(?:\.\d+)?)(?P<unit>[KMGT])?")
CLOUDINIT_SIZE = 4 * 1024**2


@route("GET", "/nodes/{node}/qemu")
def vm_list(sim: PveSimulator, req: Request):
    with sim.state.lock:
        vms = sim.state.nodes[req.node].vms.values()
        return [vm_status(vm, full=False) for vm in sorted(vms, key=lambda v: v.vmid)]


@route("GET", "/nodes/{node}/qemu/{vmid}/status/current")
def vm_status_current(sim: PveSimulator, req: Request):
    with sim.state.lock:
        return vm_status(load_vm(sim, req.node, req.vmid))


# --- clone ------------------------------------------------------------------------------------


def _free_volume(node: Node, volid: str) -> None:
    try:
        storage, volname = split_volid(volid)
    except ValueError:
        return
    st = node.storages.get(storage)
    if st is not None:
        st.volumes.pop(volname, None)


@route("POST", "/nodes/{node}/qemu/{vmid}/clone")
def vm_clone(sim: PveSimulator, req: Request):
    node_name, vmid, newid = req.node, req.vmid, int(req.params["newid"])
    target_storage = req.get("storage")
    with sim.state.lock:
        node = sim.state.nodes[node_name]
        src = load_vm(sim, node_name, vmid)
        if req.get("snapname"):
            raise die(f"snapshot '{req.get('snapname')}' does not exist")
        message = lock_message(src)
        if message:
            raise die(message)
        if sim.state.find_vm(newid) is not None:
            raise die(f"unable to create VM {newid}: config file already exists")
        full = req.bool("full", default=not src.is_template)
        if not full:
            if target_storage:
                raise die("parameter 'storage' not allowed for linked clones")
            if req.get("format"):
                raise die("parameter 'format' not allowed for linked clones")
            if not src.is_template:
                first = (disk_keys(src.config) or ["scsi0"])[0]
                raise die(f"Linked clone feature is not supported for drive '{first}'")
        target = req.get("target")
        if target and target != node_name:
            if target not in sim.state.nodes:
                raise die(f"no such cluster node '{target}'")
            raise die(f"can't clone VM to node '{target}' (VM uses local storage)")
        if target_storage:
            st = node.storages.get(target_storage)
            if st is None:
                raise die(f"storage '{target_storage}' does not exist")
            if not st.supports("images"):
                raise die(f"storage '{target_storage}' does not support vm images")
        name = req.get("name")
        description = req.get("description")
        source_running = src.status == "running"

    def work(ctx: TaskContext) -> None:
        timeout = sim.knobs.clone_lock_timeout_s
        with (
            sim.locks.vm(vmid, timeout=timeout, exclusive=source_running),
            sim.locks.vm(newid, timeout=timeout),
        ):
            with sim.state.lock:
                src = sim.state.vm_on(node_name, vmid)
                if src is None:
                    raise TaskError(config_missing(node_name, vmid))
                if sim.state.find_vm(newid) is not None:
                    raise TaskError(f"unable to create VM {newid}: config file already exists")
                # "# qmclone temporary file\nlock: clone": the target exists, locked, at once.
                node.vms[newid] = Vm(vmid=newid, node=node_name, config={"lock": "clone"})
                source_config = dict(src.config)
            ctx.started()
            allocated: list[str] = []
            try:
                new_config = _clone_disks(
                    sim, ctx, node, source_config, newid, full, target_storage, allocated
                )
                ctx.commit()
            except (TaskError, ApiError, TaskInterrupted) as exc:
                with sim.state.lock:  # PVE frees the new volumes and unlinks the temp config
                    for volid in allocated:
                        _free_volume(node, volid)
                    node.vms.pop(newid, None)
                if isinstance(exc, TaskInterrupted):
                    raise
                text = exc.message.strip() if isinstance(exc, ApiError) else str(exc)
                raise TaskError(text) from None
            with sim.state.lock:
                for key in [k for k in source_config if k not in new_config]:
                    if is_disk_key(key) or key.startswith("unused"):
                        continue
                    if key in ("template", "lock", "parent", "snapstate", "vmstate", "digest"):
                        continue
                    new_config[key] = source_config[key]
                new_config["name"] = name or f"Copy-of-VM-{source_config.get('name', vmid)}"
                if description is not None:
                    new_config["description"] = description
                for key in list(new_config):
                    if re.fullmatch(r"net\d+", key):
                        new_config[key] = with_new_mac(str(new_config[key]), sim.rng)
                if "smbios1" in new_config:
                    new_config["smbios1"] = with_new_smbios_uuid(new_config["smbios1"], sim.rng)
                if "vmgenid" in new_config:
                    from proxmox.simulator.guests import new_uuid

                    new_config["vmgenid"] = new_uuid(sim.rng)
                vm = node.vms[newid]
                vm.config = dict(sorted(new_config.items()))

    upid = sim.runner.start(
        node=node_name, task_type="qmclone", task_id=str(vmid), work=work, signals_start=True
    )
    sim.persist()
    return upid


def _clone_disks(
    sim: PveSimulator,
    ctx: TaskContext,
    node: Node,
    source: dict,
    newid: int,
    full: bool,
    target_storage: str | None,
    allocated: list[str],
) -> dict:
    new_config: dict = {}
    jobs: list[tuple[str, str, int]] = []
    for key in disk_keys(source, include_cdrom=True):
        value = str(source[key])
        volid, opts = parse_drive(value)
        if is_cdrom(opts) and "cloudinit" not in volid:
            new_config[key] = value  # ISO or "none": shared, not copied
            continue
        storage_id, volname = split_volid(volid)
        with sim.state.lock:
            if "cloudinit" in volid:
                dest_storage = storage_id
                new_volname = f"vm-{newid}-cloudinit"
                size = CLOUDINIT_SIZE
                parent = None
                ctx.log(f"create full clone of drive {key} ({volid})")
            else:
                size = parse_size(opts.get("size", "0"))
                if full:
                    dest_storage = target_storage or storage_id
                    new_volname = next_disk_name(node, dest_storage, newid)
                    parent = None
                    ctx.log(f"create full clone of drive {key} ({volid})")
                else:
                    dest_storage = storage_id
                    base = volname.split("/")[0]
                    new_volname = f"{base}/{next_disk_name(node, storage_id, newid)}"
                    parent = f"{base}@__base__"
                    ctx.log(f"create linked clone of drive {key} ({volid})")
            st = node.storages[dest_storage]
            if st.total - st.used() < size and full:
                raise TaskError(
                    f"clone failed: no space left on storage '{dest_storage}' "
                    f"({human_size(st.total - st.used())} free)"
                )
            st.volumes[new_volname] = Volume(
                volname=new_volname,
                content="images",
                vmid=newid,
                size=size,
                ctime=int(sim.now()),
                format="raw",
                parent=parent,
            )
            new_volid = f"{dest_storage}:{new_volname}"
            allocated.append(new_volid)
        ctx.log(f'  Logical volume "{new_volname.split("/")[-1]}" created.')
        new_config[key] = drive_with(value, volid=new_volid)
        if full and "cloudinit" not in volid:
            jobs.append((key, new_volid, size))
    total = sum(size for _, _, size in jobs)
    if total:
        ctx.progress(
            ctx.duration,
            lambda f: (
                f"transferred {human_size(total * f)} of {human_size(total)} ({f * 100:.2f}%)"
            ),
            steps=5,
        )
    else:
        ctx.sleep(ctx.duration)
    return new_config


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
                m = SIZE_PARAM_RE.fullmatch(size_param)
                unit = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}.get(m["unit"] or "", 1)
                amount = int(float(m["num"]) * unit)
                new_size = size + amount if m["plus"] else amount
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
                    _free_volume(node, volid)
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
                    vm.status, vm.started_at, vm.pid = "running", sim.now(), sim.new_pid()
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
                        _free_volume(node, volid)
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
