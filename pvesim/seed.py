"""Putting templates and VMs into the simulated cluster, and the demo cluster."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pvesim.drives import format_size
from pvesim.guests import CLOUDINIT_SIZE, new_uuid, random_mac
from pvesim.state import Vm, Volume
from pvesim.traffic import qemu_started

if TYPE_CHECKING:
    from pvesim.server import PveSimulator

GIB = 1024**3


def _base_config(
    sim: PveSimulator,
    vmid: int,
    name: str,
    *,
    memory_mib: int,
    cores: int,
    sockets: int,
    ostype: str,
    ciuser: str | None,
    tags: str | None,
    description: str | None,
    bridge: str,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": name,
        "cores": cores,
        "sockets": sockets,
        "memory": str(memory_mib),
        "cpu": "x86-64-v2-AES",
        "ostype": ostype,
        "scsihw": "virtio-scsi-single",
        "boot": "order=scsi0",
        "net0": f"virtio={random_mac(sim.rng)},bridge={bridge},firewall=1",
        "agent": "1",
        "serial0": "socket",
        "vga": "serial0",
        "ipconfig0": "ip=dhcp",
        "smbios1": f"uuid={new_uuid(sim.rng)}",
        "vmgenid": new_uuid(sim.rng),
        "meta": f"creation-qemu=9.2.0,ctime={int(time.time())}",
    }
    if ciuser:
        config["ciuser"] = ciuser
    if tags:
        config["tags"] = tags
    if description:
        config["description"] = description
    return config


def _add(
    sim: PveSimulator,
    node: str,
    vmid: int,
    name: str,
    disk_gib: float,
    *,
    template: bool,
    storage: str = "local-lvm",
    memory_mib: int = 2048,
    cores: int = 1,
    sockets: int = 1,
    ostype: str = "l26",
    ciuser: str | None = None,
    tags: str | None = None,
    description: str | None = None,
    bridge: str = "vmbr0",
    cloudinit: bool = True,
    running: bool = False,
    config: dict[str, Any] | None = None,
) -> Vm:
    with sim.state.lock:
        if node not in sim.state.nodes:
            raise ValueError(f"no such node {node!r}")
        if sim.state.find_vm(vmid) is not None:
            raise ValueError(f"VM {vmid} already exists")
        st = sim.state.nodes[node].storages[storage]
        size = int(disk_gib * GIB)
        prefix = "base" if template else "vm"
        volname = f"{prefix}-{vmid}-disk-0"
        st.volumes[volname] = Volume(
            volname=volname,
            content="images",
            vmid=vmid,
            size=size,
            ctime=int(time.time()),
            format="raw",
        )
        conf = _base_config(
            sim,
            vmid,
            name,
            memory_mib=memory_mib,
            cores=cores,
            sockets=sockets,
            ostype=ostype,
            ciuser=ciuser,
            tags=tags,
            description=description,
            bridge=bridge,
        )
        conf["scsi0"] = f"{storage}:{volname},iothread=1,size={format_size(size)}"
        if cloudinit:
            ci = f"vm-{vmid}-cloudinit"
            st.volumes[ci] = Volume(
                volname=ci,
                content="images",
                vmid=vmid,
                size=CLOUDINIT_SIZE,
                ctime=int(time.time()),
                format="raw",
            )
            conf["ide2"] = f"{storage}:{ci},media=cdrom"
        if template:
            conf["template"] = 1
        conf.update(config or {})
        vm = Vm(vmid=vmid, node=node, config=dict(sorted(conf.items())))
        if running and not template:
            qemu_started(sim, vm)
        sim.state.nodes[node].vms[vmid] = vm
        return vm


def add_template(
    sim: PveSimulator, node: str, vmid: int, name: str, disk_gib: float, **options: Any
) -> Vm:
    return _add(sim, node, vmid, name, disk_gib, template=True, **options)


def add_vm(
    sim: PveSimulator, node: str, vmid: int, name: str, disk_gib: float, **options: Any
) -> Vm:
    return _add(sim, node, vmid, name, disk_gib, template=False, **options)


DEMO_TEMPLATES = (
    # (vmid offset, name, disk GiB, ciuser, description)
    (0, "debian-12", 3, "debian", "Debian 12 (bookworm) cloud image"),
    (1, "ubuntu-24.04", 4, "ubuntu", "Ubuntu 24.04 LTS (noble) cloud image"),
)

# The two customer VMs were "made by the panel earlier": they carry its ownership marker, so the
# panel's demo_setup can register them as the demo customer's servers (read-only adoption).
DEMO_MARKERS = {
    100: "Managed by the hosting panel; keep the next line.\n"
    "panel-server-uuid: 6f0c6b7e-2d6a-4c1e-9a51-3b7e0d9c1001",
    101: "Managed by the hosting panel; keep the next line.\n"
    "panel-server-uuid: 6f0c6b7e-2d6a-4c1e-9a51-3b7e0d9c1002",
}


def seed_demo(sim: PveSimulator) -> None:
    """Per node a Debian 12 and an Ubuntu 24.04 template (9000+), plus two customer VMs."""
    with sim.state.lock:
        if any(node.vms for node in sim.state.nodes.values()):
            return  # a persisted demo cluster: keep what is there
        for index, node in enumerate(sim.state.nodes):
            for offset, name, disk, ciuser, description in DEMO_TEMPLATES:
                add_template(
                    sim,
                    node,
                    9000 + index * 10 + offset,
                    name,
                    disk,
                    ciuser=ciuser,
                    description=description,
                    tags="template",
                )
        first = next(iter(sim.state.nodes))
        add_vm(
            sim,
            first,
            100,
            "web-1",
            20,
            memory_mib=2048,
            cores=2,
            running=True,
            ciuser="debian",
            tags="customer;panel",
            description=DEMO_MARKERS[100],
        )
        add_vm(
            sim,
            first,
            101,
            "db-1",
            40,
            memory_mib=4096,
            cores=4,
            ciuser="ubuntu",
            tags="customer;panel",
            description=DEMO_MARKERS[101],
        )
    sim.persist()
