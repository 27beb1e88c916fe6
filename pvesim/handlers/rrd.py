"""GET /nodes/{node}/rrddata and GET /nodes/{node}/qemu/{vmid}/rrddata (PVE 9 RRD format).

As pve-cluster's PVE::RRD::create_rrd_data answers for ``pve-node-9.0/<node>`` and
``pve-vm-9.0/<vmid>``: one row per RRA step, ``time`` the start of the row, each data source
(names from pmxcfs status.c) a key only when the RRD holds a value for it. The rows cover
``count`` steps ending at the last full step before now:

    hour 60 x 60 s, day 1440 x 60 s, week 336 x 30 min, month 1440 x 30 min,
    year 1440 x 6 h, decade (nodes only) 570 x 1 week.

pvestatd writes a stopped VM's row with only maxcpu, maxmem, maxdisk and disk (cpu, mem, the
I/O rates and the pressures are undefined, so absent); the simulator treats a VM as stopped
before its ``started_at``. The series are plausible and deterministic: a smooth daily wave plus
noise seeded by the simulator's seed, the VM (or node) and the row's time, so two calls in the
same step answer the same numbers. netin/netout/diskread/diskwrite are DERIVE sources: bytes/s.
The RRD files live on every node (pmxcfs broadcasts them), so the calls are not proxied: a down
node's rows simply stop at the moment it went down (not modelled: its rows carry on).
"""

from __future__ import annotations

import math
import random
import time
import zlib
from typing import TYPE_CHECKING

from pvesim.api import Request, die, route
from pvesim.guests import boot_disk, cpu_count, drive_size, memory_mib

if TYPE_CHECKING:
    from pvesim.server import PveSimulator
    from pvesim.state import Node, Vm

MIB = 1024**2
GIB = 1024**3
# timeframe -> (resolution in seconds, number of rows): PVE::RRD's PVE 9 $setup.
RRD_SETUP = {
    "hour": (60, 60),
    "day": (60, 1440),
    "week": (60 * 30, 336),
    "month": (60 * 30, 1440),
    "year": (3600 * 6, 1440),
    "decade": (86400 * 7, 570),
}
DAY_S = 86400


def rrd_times(timeframe: str, now: float | None = None) -> list[int]:
    """The rows' times for ``timeframe``: ``count`` steps ending before the current step."""
    resolution, count = RRD_SETUP[timeframe]
    current = resolution * int((time.time() if now is None else now) / resolution)
    start = current - resolution * count
    return [start + i * resolution for i in range(count)]


def _wave(seed: str, at: int, resolution: int) -> float:
    """0..1: a daily rhythm plus noise, the same for the same seed, row and resolution."""
    rng = random.Random(f"{seed}:{resolution}:{at}")
    phase = (zlib.crc32(seed.encode()) % 1000) / 1000 * 2 * math.pi
    daily = 0.5 + 0.35 * math.sin(2 * math.pi * at / DAY_S + phase)
    return min(1.0, max(0.0, daily + rng.uniform(-0.06, 0.06)))


def _peak(value: float, cf: str, resolution: int) -> float:
    # A row of one 60 s step has one primary value: MAX equals AVERAGE there.
    return value if cf == "AVERAGE" or resolution == 60 else value * 1.35


def _vm_row(sim: PveSimulator, vm: Vm, at: int, resolution: int, cf: str) -> dict:
    conf = vm.config
    boot = boot_disk(conf)
    maxmem = memory_mib(conf) * MIB
    row: dict = {
        "time": at,
        "maxcpu": cpu_count(conf),
        "maxmem": maxmem,
        "maxdisk": drive_size(str(conf[boot])) if boot else 0,
        "disk": 0,  # PVE reads no guest filesystem usage for qemu
    }
    running_since = vm.started_at if vm.status == "running" else None
    if running_since is None or at + resolution <= running_since:
        return row
    seed = f"{sim.seed}:vm:{vm.vmid}"
    load = _wave(seed, at, resolution)
    peak = lambda value: _peak(value, cf, resolution)  # noqa: E731
    mem_fraction = 0.35 + 0.3 * load
    row.update(
        {
            "cpu": round(min(1.0, peak(0.02 + 0.4 * load**2)), 6),
            "mem": int(min(maxmem, peak(maxmem * mem_fraction))),
            "memhost": int(min(maxmem, peak(maxmem * (mem_fraction + 0.05)))),
            "netin": round(peak(2_000 + 180_000 * load), 2),
            "netout": round(peak(1_200 + 90_000 * load**1.5), 2),
            "diskread": round(peak(4_096 + 2_500_000 * load**3), 2),
            "diskwrite": round(peak(16_384 + 1_200_000 * load**2), 2),
            "pressurecpusome": round(peak(0.4 * load), 2),
            "pressurecpufull": 0,
            "pressureiosome": round(peak(0.2 * load), 2),
            "pressureiofull": round(peak(0.1 * load), 2),
            "pressurememorysome": 0,
            "pressurememoryfull": 0,
        }
    )
    return row


def _node_row(sim: PveSimulator, node: Node, at: int, resolution: int, cf: str) -> dict:
    seed = f"{sim.seed}:node:{node.name}"
    load = _wave(seed, at, resolution)
    peak = lambda value: _peak(value, cf, resolution)  # noqa: E731
    memused = int(min(node.maxmem, peak(node.maxmem * (0.3 + 0.3 * load))))
    root_total = 100 * GIB
    return {
        "time": at,
        "loadavg": round(peak(0.2 + node.maxcpu * 0.5 * load), 2),
        "maxcpu": node.maxcpu,
        "cpu": round(min(1.0, peak(0.03 + 0.5 * load**2)), 6),
        "iowait": round(peak(0.001 + 0.02 * load), 6),
        "memtotal": node.maxmem,
        "memused": memused,
        "memavailable": node.maxmem - memused,
        "arcsize": 0,
        "swaptotal": 8 * GIB,
        "swapused": 0,
        "roottotal": root_total,
        "rootused": 12 * GIB,
        "netin": round(peak(40_000 + 4_000_000 * load), 2),
        "netout": round(peak(30_000 + 2_500_000 * load**1.5), 2),
        "pressurecpusome": round(peak(0.8 * load), 2),
        "pressureiosome": round(peak(0.3 * load), 2),
        "pressureiofull": round(peak(0.2 * load), 2),
        "pressurememorysome": 0,
        "pressurememoryfull": 0,
    }


def _cf(req: Request) -> str:
    return req.get("cf") or "AVERAGE"


@route("GET", "/nodes/{node}/rrddata")
def node_rrddata(sim: PveSimulator, req: Request):
    timeframe = req.get("timeframe")
    resolution, _ = RRD_SETUP[timeframe]
    with sim.state.lock:
        node = sim.state.nodes[req.node]
        return [
            _node_row(sim, node, at, resolution, _cf(req)) for at in rrd_times(timeframe, sim.now())
        ]


@route("GET", "/nodes/{node}/qemu/{vmid}/rrddata")
def vm_rrddata(sim: PveSimulator, req: Request):
    timeframe = req.get("timeframe")
    resolution, _ = RRD_SETUP[timeframe]
    with sim.state.lock:
        # The RRD is the cluster's, not the node's: any node answers for any VM it has heard of.
        vm = next((n.vms[req.vmid] for n in sim.state.nodes.values() if req.vmid in n.vms), None)
        if vm is None:
            raise die(
                f"RRD error: opening '/var/lib/rrdcached/db/pve-vm-9.0/{req.vmid}': "
                "No such file or directory"
            )
        return [
            _vm_row(sim, vm, at, resolution, _cf(req)) for at in rrd_times(timeframe, sim.now())
        ]
