"""What the worker does on PVE for the quota's jobs: set (or lift) the ``rate=`` of the VM's
``net0``, keeping the rest of its property string as it is.

The step reads the config, changes only ``rate`` and writes it back with the config's digest (a
write in between makes PVE refuse ours rather than undo theirs). PVE applies a rate to a running
VM at once (qemu-server ``vmconfig_update_net``); the step reads back that PVE holds it and
records whether it is already live. It is idempotent: run again, it finds the rate in place.
"""

from __future__ import annotations

from decimal import Decimal

from panel.jobs import StepRun, job_set_result
from proxmox.netconfig import format_rate_mb_s, nic_rate_mb_s, nic_with_rate
from servers.steps import StepError, step_context
from servers.steps.context import pve_step

NIC = "net0"


def _rate(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _text(rate: Decimal | None) -> str | None:
    return None if rate is None else format_rate_mb_s(rate)


@pve_step
def step_set_nic_rate(run: StepRun, *, lift: bool = False) -> None:
    """Limit ``net0`` to ``params["rate_mb_s"]``; ``lift``: give it back the rate it had before
    the limit (``restore_rate_mb_s``, none = unlimited), unless someone changed it since."""
    c = step_context(run)
    config = c.require_marker(c.unlocked_config(), doing="change its network speed")
    nic = config.get(NIC)
    if not nic:
        raise StepError(f"The VM has no {NIC}; there is no network speed to change.")
    current = nic_rate_mb_s(nic)
    if lift:
        throttled = _rate(c.params["throttled_rate_mb_s"])
        if current != throttled:
            c.skip(f"{NIC} is no longer limited to {_text(throttled)} MB/s; left as it is")
            return
        wanted = _rate(c.params.get("restore_rate_mb_s"))
    else:
        wanted = _rate(c.params["rate_mb_s"])
        if "previous_rate_mb_s" not in c.job.result:
            # Recorded before the write: a rerun after a crash must not take our own limit for
            # the rate to give back.
            job_set_result(job=c.job, previous_rate_mb_s=_text(current))
        elif current == wanted:
            c.skip(f"{NIC} is limited to {_text(wanted)} MB/s already")
            return
        previous = _rate(c.job.result["previous_rate_mb_s"])
        if previous is not None and previous <= wanted:
            job_set_result(job=c.job, rate_mb_s=_text(wanted), rate_changed=False)
            c.skip(f"{NIC} is limited to {_text(previous)} MB/s already, no more than the quota's")
            return
    if current != wanted:
        update = {NIC: nic_with_rate(nic, wanted), "digest": config.get("digest")}
        c.on_lock(lambda: c.client.vm_config_update(c.pve_node, c.vmid, **update))
    held = nic_rate_mb_s(c.client.vm_config(c.pve_node, c.vmid).get(NIC, ""))
    if held != wanted:
        raise StepError(
            f"PVE holds rate={_text(held)} on {NIC}, not the {_text(wanted)} MB/s written."
        )
    live = nic_rate_mb_s(c.client.vm_config(c.pve_node, c.vmid, current=True).get(NIC, ""))
    job_set_result(job=c.job, rate_mb_s=_text(wanted), rate_changed=True, live=live == wanted)
