"""The one place where panel units (bytes, MiB, GiB as integers) meet PVE's size strings.

PVE sizes are binary (K=1024 ... T=1024**4), a bare number is bytes, and a decimal part is
truncated (qemu-server ``resize_vm``). The panel always sends whole GiB as an absolute size so
that a retried resize cannot grow a disk twice.
"""

from __future__ import annotations

import re

KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4
_FACTORS = {"": 1, "K": KIB, "M": MIB, "G": GIB, "T": TIB}
_SIZE_RE = re.compile(r"(?P<num>\d+(?:\.\d+)?)(?P<unit>[KMGT]?)")
_DRIVE_SIZE_RE = re.compile(r"(?:^|,)size=([^,]+)")


def _whole(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{name} must be a non-negative whole number, got {n!r}")
    return n


def gib_to_pve_size(gib: int) -> str:
    """32 -> ``"32G"``: an absolute size for ``PUT .../resize`` or a drive's ``size=``."""
    return f"{_whole(gib, 'gib')}G"


def pve_size_to_bytes(size: str) -> int:
    """``"32G"`` -> 34359738368. Relative sizes (``+1G``) are refused: they have no byte value."""
    m = _SIZE_RE.fullmatch(str(size).strip())
    if not m:
        raise ValueError(f"not a PVE size: {size!r}")
    num = m["num"]
    factor = _FACTORS[m["unit"]]
    if "." in num:
        whole, frac = num.split(".")
        # Integer arithmetic: floats would misround large sizes; PVE int()-truncates.
        return (int(whole + frac) * factor) // (10 ** len(frac))
    return int(num) * factor


def gib_to_bytes(gib: int) -> int:
    return _whole(gib, "gib") * GIB


def mib_to_bytes(mib: int) -> int:
    return _whole(mib, "mib") * MIB


def bytes_to_gib(size_bytes: int) -> float:
    return size_bytes / GIB


def bytes_to_mib(size_bytes: int) -> float:
    return size_bytes / MIB


def bytes_to_whole_gib(size_bytes: int) -> int:
    """Floor to whole GiB (a disk of 32.5 GiB counts as 32; it can only grow from there)."""
    return size_bytes // GIB


def drive_size_bytes(drive: str) -> int | None:
    """The ``size=`` of a drive string (``local-lvm:vm-101-disk-0,iothread=1,size=32G``)."""
    m = _DRIVE_SIZE_RE.search(drive or "")
    return pve_size_to_bytes(m[1]) if m else None
