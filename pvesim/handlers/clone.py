"""POST /nodes/{node}/qemu/{vmid}/clone (qemu-server's clone_vm)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pvesim.api import (
    ApiError,
    Request,
    config_missing,
    die,
    load_vm,
    lock_message,
    route,
)
from pvesim.drives import (
    human_size,
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
    new_uuid,
    next_disk_name,
    with_new_mac,
    with_new_smbios_uuid,
)
from pvesim.state import Vm, Volume
from pvesim.taskrunner import TaskContext, TaskError, TaskInterrupted

if TYPE_CHECKING:
    from pvesim.server import PveSimulator
    from pvesim.state import Node


# --- clone ------------------------------------------------------------------------------------


def config_file_exists(newid: int) -> str:
    return f"unable to create VM {newid}: config file already exists"


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
        # `-f $conffile`: the new config's path on *this* node; an id taken on another node
        # passes here and fails inside the task (see work).
        if sim.state.vm_on(node_name, newid) is not None:
            raise die(config_file_exists(newid))
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
                if sim.state.vm_on(node_name, newid) is not None:
                    raise TaskError(config_file_exists(newid))
                if sim.state.find_vm(newid) is not None:
                    # file_set_contents of the temporary config: pmxcfs refuses the rename to
                    # a VMID another node holds (memdb_rename, EEXIST).
                    raise TaskError(
                        f"close (rename) atomic file '/etc/pve/nodes/{node_name}/qemu-server/"
                        f"{newid}.conf' failed: File exists"
                    )
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
                        free_volume(node, volid)
                    node.vms.pop(newid, None)
                if isinstance(exc, TaskInterrupted):
                    raise
                text = exc.message.strip() if isinstance(exc, ApiError) else str(exc)
                raise TaskError(text) from None
            with sim.state.lock:
                node.vms[newid].config = _clone_config(
                    sim, source_config, new_config, vmid=vmid, name=name, description=description
                )

    upid = sim.runner.start(
        node=node_name, task_type="qmclone", task_id=str(vmid), work=work, signals_start=True
    )
    sim.persist()
    return upid


def _clone_config(
    sim: PveSimulator,
    source: dict,
    disks: dict,
    *,
    vmid: int,
    name: str | None,
    description: str | None,
) -> dict:
    """The new VM's config: the source's, with the new disks, name and a fresh identity (MACs,
    SMBIOS UUID, vmgenid); template flag, locks, snapshots and unused volumes are dropped."""
    config = dict(disks)
    for key, value in source.items():
        if key in config or is_disk_key(key) or key.startswith("unused"):
            continue
        if key in ("template", "lock", "parent", "snapstate", "vmstate", "digest"):
            continue
        config[key] = value
    config["name"] = name or f"Copy-of-VM-{source.get('name', vmid)}"
    if description is not None:
        config["description"] = description
    for key in list(config):
        if re.fullmatch(r"net\d+", key):
            config[key] = with_new_mac(str(config[key]), sim.rng)
    if "smbios1" in config:
        config["smbios1"] = with_new_smbios_uuid(config["smbios1"], sim.rng)
    if "vmgenid" in config:
        config["vmgenid"] = new_uuid(sim.rng)
    return dict(sorted(config.items()))


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
