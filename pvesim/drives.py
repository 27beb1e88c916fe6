"""Drive strings and sizes the way qemu-server reads and writes them.

Deliberately independent of ``proxmox.units``: the simulator is the oracle the client is tested
against, so it must not share the client's parsing (a shared bug would pass every test).
"""

from __future__ import annotations

import re

UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
SIZE_RE = re.compile(r"(?P<plus>\+)?(?P<num>\d+(?:\.\d+)?)(?P<unit>[KMGT])?")
DISK_KEY_RE = re.compile(r"(ide|sata|scsi|virtio)(\d+)|efidisk0|tpmstate0")
NET_KEY_RE = re.compile(r"net(\d+)")


def parse_size(text: str) -> int:
    """``32G`` -> bytes (binary units; no suffix means bytes), as PVE's parse_size."""
    m = SIZE_RE.fullmatch(text.lstrip("+"))
    if not m:
        raise ValueError(f"unable to parse size '{text}'")
    factor = UNITS.get(m["unit"] or "", 1)
    return int(float(m["num"]) * factor)


def format_size(size: int) -> str:
    """PVE::JSONSchema::format_size: the largest unit that divides the size exactly."""
    size = int(size)
    kb, rest = divmod(size, 1024)
    if rest:
        return str(size)
    mb, rest = divmod(kb, 1024)
    if rest:
        return f"{kb}K"
    gb, rest = divmod(mb, 1024)
    if rest:
        return f"{mb}M"
    tb, rest = divmod(gb, 1024)
    if rest:
        return f"{gb}G"
    return f"{tb}T"


def human_size(size: float) -> str:
    """``32.0 GiB``-style text used in task logs."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size:.1f} B"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def is_disk_key(key: str) -> bool:
    return bool(DISK_KEY_RE.fullmatch(key))


def parse_drive(value: str) -> tuple[str, dict[str, str]]:
    """``local-lvm:vm-100-disk-0,size=32G`` -> ("local-lvm:vm-100-disk-0", {"size": "32G"})."""
    parts = value.split(",")
    volid = parts[0]
    opts: dict[str, str] = {}
    if "=" in volid:
        key, _, val = volid.partition("=")
        if key == "file":
            volid = val
        else:
            opts[key] = val
            volid = ""
    for part in parts[1:]:
        key, _, val = part.partition("=")
        if key == "file":
            volid = val
        else:
            opts[key] = val
    return volid, opts


def print_drive(volid: str, opts: dict[str, str]) -> str:
    return ",".join([volid, *(f"{k}={v}" for k, v in opts.items())])


def is_cdrom(opts: dict[str, str]) -> bool:
    return opts.get("media") == "cdrom"


def drive_size(value: str) -> int:
    _volid, opts = parse_drive(value)
    return parse_size(opts["size"]) if "size" in opts else 0


def split_volid(volid: str) -> tuple[str, str]:
    """``local-lvm:vm-100-disk-0`` -> ("local-lvm", "vm-100-disk-0")."""
    storage, sep, volname = volid.partition(":")
    if not sep or not storage or not volname:
        raise ValueError(f"unable to parse volume ID '{volid}'")
    return storage, volname
