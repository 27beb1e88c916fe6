"""A VM's NIC property string (``net0: virtio=BC:24:11:..,bridge=vmbr0,firewall=1,rate=10``): its
``rate=`` limit read and changed while every other part stays exactly as it was.

``rate`` is megabytes per second as a floating point number (qemu-server
``PVE/QemuServer/Network.pm``); PVE applies a change of it to a running VM at once, whatever its
``hotplug`` option (``vmconfig_update_net``: ``PVE::Network::tap_rate_limit``), and removing it
lifts the limit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def nic_rate_mb_s(value: str) -> Decimal | None:
    """The ``rate=`` of a NIC property string in MB/s, or None when it has no limit."""
    for part in str(value).split(","):
        key, sep, number = part.partition("=")
        if sep and key.strip() == "rate":
            try:
                return Decimal(number.strip())
            except InvalidOperation:
                raise ValueError(f"not a NIC rate: {number!r}") from None
    return None


def format_rate_mb_s(rate: Decimal) -> str:
    """PVE's number: ``1.25``, ``10`` (no exponent, no trailing zeros)."""
    text = format(Decimal(rate).normalize(), "f")
    return text


def nic_with_rate(value: str, rate_mb_s: Decimal | None) -> str:
    """``value`` with its ``rate=`` set to ``rate_mb_s`` (None removes it); every other part, and
    the order of the parts, unchanged. A new ``rate=`` goes at the end."""
    parts = str(value).split(",")
    out: list[str] = []
    placed = False
    for part in parts:
        key, sep, _number = part.partition("=")
        if sep and key.strip() == "rate":
            if rate_mb_s is not None and not placed:
                out.append(f"rate={format_rate_mb_s(rate_mb_s)}")
                placed = True
            continue
        out.append(part)
    if rate_mb_s is not None and not placed:
        out.append(f"rate={format_rate_mb_s(rate_mb_s)}")
    return ",".join(out)
