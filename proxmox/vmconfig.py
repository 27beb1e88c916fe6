"""Reading a VM's PVE config (GET /nodes/{node}/qemu/{vmid}/config): facts several callers need."""

from __future__ import annotations

import re

from proxmox.units import drive_size_bytes

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
