"""From two readings of a VM's NIC counters to the bytes it moved between them.

PVE's ``netin``/``netout`` count bytes since the VM's QEMU process started (its tap devices), so
they fall back to zero whenever the process is new: a stop and start, a reboot, a migration to
another node (the target's process). A reading is taken as a new count from zero when

* it is lower than the last one (in or out), or
* the VM runs on another node than at the last reading, or
* its uptime is shorter than the time since the last reading allows (it restarted since, even if
  it moved more bytes by now than before);

then the whole reading is what moved since (the bytes between the last reading and the restart
are not known and not counted). Otherwise the delta is the difference. Nothing is ever negative,
and a delta larger than any NIC could move in the time (``TRAFFIC_MAX_BYTES_PER_S``) is a
misreading, counted as nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Seconds of leeway between PVE's uptime (whole seconds, read on the node) and the panel's clock.
CLOCK_SLACK_S = 60


@dataclass(frozen=True)
class Reading:
    pve_node: str
    netin: int
    netout: int
    uptime_s: int
    read_at: datetime


@dataclass(frozen=True)
class Delta:
    in_bytes: int
    out_bytes: int
    # "first" (no reading before: a baseline), "counted", "restarted", "implausible", "stale"
    # (older than the last reading: another sampler got there first).
    how: str

    @property
    def counts(self) -> bool:
        return self.how != "stale"


def traffic_delta(last: Reading | None, new: Reading, *, max_bytes_per_s: int) -> Delta:
    if last is None:
        return Delta(0, 0, "first")
    elapsed_s = (new.read_at - last.read_at).total_seconds()
    if elapsed_s <= 0:
        return Delta(0, 0, "stale")
    restarted = (
        new.netin < last.netin
        or new.netout < last.netout
        or new.pve_node != last.pve_node
        or new.uptime_s + CLOCK_SLACK_S < last.uptime_s + elapsed_s
    )
    if restarted:
        in_bytes, out_bytes, how = new.netin, new.netout, "restarted"
    else:
        in_bytes, out_bytes, how = new.netin - last.netin, new.netout - last.netout, "counted"
    limit = max_bytes_per_s * (elapsed_s + CLOCK_SLACK_S)
    if in_bytes > limit or out_bytes > limit:
        return Delta(0, 0, "implausible")
    return Delta(in_bytes, out_bytes, how)
