"""Reading a VM's PVE config (GET /nodes/{node}/qemu/{vmid}/config): its boot disk, its memory,
its cores, as every caller (template sync, guest listing, the server steps) reads them; and
``GET .../pending`` (``pending_config``): what a VM runs with apart from what waits for its next
start (PVE's plain GET config has the pending values applied)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxmox.units import GIB, drive_size_bytes

PVE_DEFAULT_MEMORY_MIB = 512

# The disks a panel VM boots from, in the order PVE's own defaults try them.
DISK_KEYS = ("scsi0", "virtio0", "sata0", "ide0")
_DISK_KEY_RE = re.compile(r"^(scsi|virtio|sata|ide)\d+$")


def boot_disk(config: dict) -> tuple[str, int] | None:
    """(key, size in bytes) of the VM's boot disk: the first disk of ``boot: order=...``, else the
    first of DISK_KEYS; CD-ROMs and drives without a ``size=`` are passed over. None if none."""
    boot = str(config.get("boot") or "")
    order: list[str] = []
    if boot.startswith("order="):
        order = [key for key in boot[len("order=") :].split(";") if _DISK_KEY_RE.match(key)]
    for key in (*order, *DISK_KEYS):
        value = config.get(key)
        if value and "media=cdrom" not in value:
            size = drive_size_bytes(value)
            if size:
                return key, size
    return None


def memory_mib(config: dict) -> int:
    """``memory`` is ``2048`` or, since PVE 8.1, a property string ``current=2048,...``; PVE's
    default when the key is absent."""
    for part in str(config.get("memory") or PVE_DEFAULT_MEMORY_MIB).split(","):
        key, sep, number = part.partition("=")
        if not sep:
            return int(key)
        if key == "current":
            return int(number)
    return PVE_DEFAULT_MEMORY_MIB


def cpu_cores(config: dict) -> int:
    """The VM's vCPUs: ``cores`` per socket times ``sockets`` (each 1 when absent)."""
    return int(config.get("cores") or 1) * int(config.get("sockets") or 1)


@dataclass(frozen=True)
class VmSpecs:
    """What a VM's config says it has. ``disk_gib`` is whole GiB rounded down (a disk of 20.5 GiB
    can only grow from there), 0 without a boot disk; ``boot_disk`` is its key, or None."""

    cpu_cores: int
    memory_mib: int
    disk_gib: int
    disk_bytes: int
    boot_disk: str | None

    @property
    def sizes(self) -> dict[str, int]:
        """The three sizes by their field names (``cpu_cores``, ``memory_mib``, ``disk_gib``)."""
        return {
            "cpu_cores": self.cpu_cores,
            "memory_mib": self.memory_mib,
            "disk_gib": self.disk_gib,
        }


def vm_specs(config: dict) -> VmSpecs:
    disk = boot_disk(config)
    key, size_bytes = disk if disk is not None else (None, 0)
    return VmSpecs(
        cpu_cores=cpu_cores(config),
        memory_mib=memory_mib(config),
        disk_gib=size_bytes // GIB,
        disk_bytes=size_bytes,
        boot_disk=key,
    )


@dataclass(frozen=True)
class PendingConfig:
    """A VM's config as ``GET .../pending`` gives it: ``current`` is what the VM runs with,
    ``next_start`` what it will run with after its next start (pending values in, pending
    removals out). On a stopped VM, or once nothing waits, the two are equal."""

    current: dict
    next_start: dict

    @property
    def running(self) -> VmSpecs:
        return vm_specs(self.current)

    @property
    def after_restart(self) -> VmSpecs:
        return vm_specs(self.next_start)

    def pending_keys(self) -> set[str]:
        """The options that change at the next start."""
        keys = set(self.current) | set(self.next_start)
        return {k for k in keys if str(self.current.get(k)) != str(self.next_start.get(k))}

    def hotplugs(self, feature: str) -> bool:
        """Whether the VM's *current* ``hotplug`` option lets ``feature`` (``memory``, ``cpu``)
        change live; PVE's default is ``network,disk,usb``, ``0`` none, ``1`` the default."""
        value = str(self.current.get("hotplug", "1"))
        if value == "1":
            value = "network,disk,usb"
        return feature in re.split(r"[,;\s]+", value)


def pending_config(items: list[dict]) -> PendingConfig:
    """The ``[{"key", "value"?, "pending"?, "delete"?}]`` list of ``GET .../pending`` as the two
    configs it describes."""
    current: dict = {}
    next_start: dict = {}
    for item in items:
        key = item["key"]
        if "value" in item:
            current[key] = item["value"]
        if item.get("delete"):
            continue
        if "pending" in item:
            next_start[key] = item["pending"]
        elif "value" in item:
            next_start[key] = item["value"]
    return PendingConfig(current=current, next_start=next_start)
