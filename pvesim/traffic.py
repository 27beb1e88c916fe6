"""A running VM's network byte counters, as PVE reports them (``netin``/``netout`` in
``status/current`` and ``/cluster/resources``).

PVE sums the tap devices' counters from ``/proc/net/dev`` (qemu-server ``vmstatus``: ``netin`` is
what the tap sent to the guest, ``netout`` what it received from it) and reports 0 for a stopped
VM. A tap device is created with its QEMU process, so the counters start from 0 at every start
(a reboot is a stop and a start) and keep counting across a ``reset`` (same process).

Here each VM gets steady, plausible rates derived from the simulator's seed and its VMID (the same
every run), scaled by the ``net_rate_scale`` knob when it starts; ``sim.add_traffic`` adds bytes on
top, so a test can move exact amounts with the knob at 0.
"""

from __future__ import annotations

import time
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pvesim.server import PveSimulator
    from pvesim.state import Vm


def nic_rates_bps(seed: int, vmid: int) -> tuple[float, float]:
    """(in, out) bytes per second: a small web server's 2-40 KB/s in, 0.5x-3x that out."""
    netin = 2_000 + zlib.crc32(f"{seed}:{vmid}:netin".encode()) % 38_000
    out_factor = 0.5 + (zlib.crc32(f"{seed}:{vmid}:netout".encode()) % 250) / 100
    return float(netin), round(netin * out_factor, 1)


def qemu_started(sim: PveSimulator, vm: Vm) -> None:
    """A new QEMU process for ``vm``: running, a new pid, counters from zero."""
    vm.status, vm.paused, vm.started_at, vm.pid = "running", False, sim.now(), sim.new_pid()
    scale = sim.knobs.net_rate_scale
    netin, netout = nic_rates_bps(sim.seed, vm.vmid)
    vm.netin_rate_bps, vm.netout_rate_bps = netin * scale, netout * scale
    vm.netin_added = vm.netout_added = 0


def net_counters(vm: Vm, now: float | None = None) -> tuple[int, int]:
    """(netin, netout) bytes since the VM's QEMU process started; 0 while it is stopped."""
    if vm.status != "running" or vm.started_at is None:
        return 0, 0
    elapsed = max(0.0, (time.time() if now is None else now) - vm.started_at)
    return (
        int(vm.netin_rate_bps * elapsed) + vm.netin_added,
        int(vm.netout_rate_bps * elapsed) + vm.netout_added,
    )


def add_traffic(vm: Vm, *, netin: int = 0, netout: int = 0) -> None:
    """Bytes moved by a running VM, on top of its rates (a stopped VM's NIC moves nothing)."""
    if vm.status != "running":
        raise ValueError(f"VM {vm.vmid} is not running; its NIC moves no traffic")
    vm.netin_added += int(netin)
    vm.netout_added += int(netout)
