"""What PVE derives from a VM config: status dicts, boot disk size, fresh MACs and UUIDs."""

from __future__ import annotations

import re
import time
import uuid
import zlib
from typing import TYPE_CHECKING, Any

from pvesim.drives import (
    drive_size,
    is_cdrom,
    is_disk_key,
    parse_drive,
    print_drive,
    split_volid,
)
from pvesim.traffic import net_counters

if TYPE_CHECKING:
    from random import Random

    from pvesim.state import Node, Vm

MIB = 1024**2
CLOUDINIT_SIZE = 4 * MIB  # what PVE allocates for a cloud-init drive
# Proxmox Server Solutions' OUI, which PVE >= 7.3 uses for generated MACs.
MAC_PREFIX = "BC:24:11"
RUNNING_MACHINE = "pc-i440fx-9.2+pve1"
RUNNING_QEMU = "9.2.0"


def memory_mib(config: dict[str, Any]) -> int:
    value = str(config.get("memory", "512"))
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if not sep:
            return int(key)
        if key == "current":
            return int(val)
    return 512


def cpu_count(config: dict[str, Any]) -> int:
    vcpus = config.get("vcpus")
    if vcpus:
        return int(vcpus)
    return int(config.get("cores", 1)) * int(config.get("sockets", 1))


def disk_keys(config: dict[str, Any], *, include_cdrom: bool = False) -> list[str]:
    keys = [k for k in config if is_disk_key(k)]
    if not include_cdrom:
        keys = [k for k in keys if not is_cdrom(parse_drive(str(config[k]))[1])]
    return sorted(keys, key=_disk_sort_key)


def _disk_sort_key(key: str) -> tuple[str, int]:
    m = re.fullmatch(r"([a-z]+)(\d+)", key)
    return (m[1], int(m[2])) if m else (key, 0)


def boot_disk(config: dict[str, Any]) -> str | None:
    """The disk PVE reports as maxdisk: first disk of the boot order, else the first disk."""
    order = str(config.get("boot", ""))
    candidates: list[str] = []
    if "order=" in order:
        candidates = order.split("order=", 1)[1].split(",")[0].split(";")
    elif config.get("bootdisk"):
        candidates = [str(config["bootdisk"])]
    disks = disk_keys(config)
    for key in candidates:
        if key in disks:
            return key
    return disks[0] if disks else None


def vm_volumes(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(config key, volid) of every volume the config references (disks, cloud-init, unused)."""
    result = []
    for key, value in config.items():
        if is_disk_key(key) or re.fullmatch(r"unused\d+", key):
            volid, opts = parse_drive(str(value))
            if volid and ":" in volid and not (is_cdrom(opts) and "cloudinit" not in volid):
                result.append((key, volid))
    return result


def _usage_fraction(vmid: int, salt: str) -> float:
    return (zlib.crc32(f"{vmid}:{salt}".encode()) % 1000) / 1000


def vm_status(vm: Vm, *, full: bool = True) -> dict[str, Any]:
    """GET .../status/current (full=True) or one item of GET /nodes/{node}/qemu."""
    conf = vm.config
    maxmem = memory_mib(conf) * MIB
    boot = boot_disk(conf)
    running = vm.status == "running"
    uptime = int(time.time() - vm.started_at) if running and vm.started_at else 0
    netin, netout = net_counters(vm)
    data: dict[str, Any] = {
        "vmid": vm.vmid,
        "name": conf.get("name", f"VM {vm.vmid}"),
        "status": vm.status,
        "cpus": cpu_count(conf),
        "maxmem": maxmem,
        "maxdisk": drive_size(str(conf[boot])) if boot else 0,
        "disk": 0,
        "cpu": round(0.01 + 0.2 * _usage_fraction(vm.vmid, "cpu"), 4) if running else 0,
        "mem": int(maxmem * (0.2 + 0.6 * _usage_fraction(vm.vmid, "mem"))) if running else 0,
        "uptime": uptime,
        "netin": netin,
        "netout": netout,
        "diskread": uptime * 52000 if running else 0,
        "diskwrite": uptime * 31000 if running else 0,
    }
    if running:
        data["pid"] = vm.pid
    if vm.lock:
        data["lock"] = vm.lock
    if vm.is_template:
        data["template"] = 1
    if conf.get("tags"):
        data["tags"] = conf["tags"]
    if full:
        data["qmpstatus"] = ("paused" if vm.paused else "running") if running else "stopped"
        data["ha"] = {"managed": 0}
        if running:
            data["running-machine"] = RUNNING_MACHINE
            data["running-qemu"] = RUNNING_QEMU
        agent = str(conf.get("agent", "0"))
        if agent.split(",")[0] in ("1", "enabled=1"):
            data["agent"] = 1
        if any(k.startswith("serial") for k in conf):
            data["serial"] = 1
    return data


def random_mac(rng: Random) -> str:
    return MAC_PREFIX + "".join(f":{rng.randrange(256):02X}" for _ in range(3))


def with_new_mac(value: str, rng: Random) -> str:
    """A net0 value with a fresh MAC (``virtio=<mac>,...``, as PVE writes it)."""
    parts = value.split(",")
    first = parts[0]
    models = ("virtio", "e1000", "e1000e", "rtl8139", "vmxnet3")
    model, _sep, _mac = first.partition("=")
    if model in models:
        parts[0] = f"{model}={random_mac(rng)}"
    else:
        parts = [p for p in parts if not p.startswith("macaddr=")]
        parts.append(f"macaddr={random_mac(rng)}")
    return ",".join(parts)


def ensure_mac(value: str, rng: Random) -> str:
    first = value.split(",")[0]
    _model, sep, mac = first.partition("=")
    if sep and mac:
        return value
    if "macaddr=" in value:
        return value
    return with_new_mac(value, rng)


def new_uuid(rng: Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def with_new_smbios_uuid(value: str, rng: Random) -> str:
    parts = [p for p in str(value).split(",") if p and not p.startswith("uuid=")]
    return ",".join([f"uuid={new_uuid(rng)}", *parts])


def next_disk_name(node: Node, storage: str, vmid: int) -> str:
    used = set()
    for st in node.storages.values():
        for volname in st.volumes:
            m = re.search(rf"(?:^|/)(?:vm|base)-{vmid}-disk-(\d+)$", volname)
            if m:
                used.add(int(m[1]))
    n = 0
    while n in used:
        n += 1
    return f"vm-{vmid}-disk-{n}"


def drive_with(value: str, *, volid: str | None = None, size: int | None = None) -> str:
    from pvesim.drives import format_size

    old_volid, opts = parse_drive(value)
    if size is not None:
        opts["size"] = format_size(size)
    return print_drive(volid if volid is not None else old_volid, opts)


def storage_of(volid: str) -> str:
    return split_volid(volid)[0]


def free_volume(node: Node, volid: str) -> None:
    """Drop a volume from its storage (no error if it is already gone)."""
    try:
        storage, volname = split_volid(volid)
    except ValueError:
        return
    st = node.storages.get(storage)
    if st is not None:
        st.volumes.pop(volname, None)
