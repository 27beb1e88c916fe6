"""What PVE holds for a server's VM, read once for every step that decides from it (configure's
comparison and verification, finish, sync, after a failure): ``GET .../pending`` gives what the
VM runs with and what waits for its next start in one call (PVE's plain ``GET .../config`` has
the pending values applied, so it cannot tell them apart).

A running VM keeps as pending every change it cannot take live: ``cores`` always, ``memory``
unless its ``hotplug`` option has ``memory``. The server's ``cpu_cores``/``memory_mib`` hold what
it runs with, ``pending_cpu_cores``/``pending_memory_mib`` what it gets at the next (re)start.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxmox.client import PveClient
from proxmox.errors import PveNotFoundError
from proxmox.vmconfig import PendingConfig, pending_config
from servers.steps.context import specs_with_disk

# The sizes a running VM may hold as pending (a disk grows live), with their pending fields.
PENDING_FIELDS = {"cpu_cores": "pending_cpu_cores", "memory_mib": "pending_memory_mib"}


@dataclass(frozen=True)
class Held:
    """A VM as PVE holds it: its config (current and after the next start) and power state."""

    config: PendingConfig
    power: str

    @property
    def current(self) -> dict:
        """What the VM runs with (its marker is here: a description always applies at once)."""
        return self.config.current

    @property
    def running(self) -> dict[str, int]:
        """The three sizes the VM runs with."""
        return specs_with_disk(self.current).sizes

    @property
    def pending(self) -> dict[str, int]:
        return pending_sizes(self.config)

    def server_fields(self) -> dict[str, int | None]:
        """The server's size fields: what runs, and what is pending (None: nothing)."""
        pending = self.pending
        return {
            **self.running,
            **{column: pending.get(field) for field, column in PENDING_FIELDS.items()},
        }


def pending_sizes(config: PendingConfig) -> dict[str, int]:
    """The sizes that change at the VM's next start, with their new values."""
    running, after = config.running.sizes, config.after_restart.sizes
    return {field: after[field] for field in PENDING_FIELDS if after[field] != running[field]}


def read_pending(client: PveClient, pve_node: str, vmid: int) -> PendingConfig:
    return pending_config(client.vm_pending(pve_node, vmid))


def read_held(client: PveClient, pve_node: str, vmid: int) -> Held | None:
    """The VM's config and power state, or None when PVE has no such VM."""
    try:
        config = read_pending(client, pve_node, vmid)
    except PveNotFoundError:
        return None
    power = str(client.vm_status(pve_node, vmid).get("status") or "unknown")
    return Held(config=config, power=power)
