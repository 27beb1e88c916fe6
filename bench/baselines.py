"""The two clients the panel's create pipeline is measured against, both on the panel's own
``PveClient`` so the HTTP layer is the same:

* ``seed002``: the Terraform provider's algorithm from seed 002: poll the node's task list every
  1 s until the task is listed stopped, sleep 2 s after the clone, retry a failed config write
  after 2, 3, 4 and 5 s.
* ``tight``: a plain careful client: adaptive status polls (``proxmox.waiting.wait_for_task``),
  exponential lock backoff on the synchronous config write, no fixed sleeps.

Each does clone -> configure -> resize (``build``), and for the whole create also start and one
read-back (``finish``). They return nothing: the harness times them and counts their calls at
the simulator.
"""

from __future__ import annotations

import time

from proxmox.client import PveClient
from proxmox.errors import PveError, PveLockError
from proxmox.waiting import wait_for_task

CONFIG = {"cores": 2, "memory": 2048, "ciuser": "debian", "name": "bench"}
DISK = "scsi0"
DISK_GIB = 20


class Seed002:
    name = "seed-002"

    def __init__(self, client: PveClient, node: str):
        self.client, self.node = client, node

    def wait(self, upid: str) -> None:
        # The node's task list, once a second, until the task is listed and stopped.
        while True:
            time.sleep(1.0)
            for task in self.client.tasks(self.node, source="all"):
                if task.get("upid") == upid and task.get("endtime"):
                    if task["status"] != "OK":
                        raise RuntimeError(f"task failed: {task['status']}")
                    return

    def build(self, template: int, vmid: int) -> None:
        self.wait(self.client.vm_clone(self.node, template, newid=vmid, name="bench"))
        time.sleep(2.0)
        for delay in (2, 3, 4, 5, None):
            try:
                self.client.vm_config_update(self.node, vmid, **CONFIG)
                break
            except PveError:
                if delay is None:
                    raise
                time.sleep(delay)
        self.wait(self.client.vm_resize(self.node, vmid, disk=DISK, size=DISK_GIB))

    def finish(self, vmid: int) -> None:
        self.wait(self.client.vm_power(self.node, vmid, "start"))
        self.client.vm_config(self.node, vmid)


class Tight:
    name = "tight client"

    def __init__(self, client: PveClient, node: str):
        self.client, self.node = client, node

    def wait(self, upid: str | None) -> None:
        wait_for_task(self.client, upid, timeout_s=600, first_interval_s=0.2)

    def build(self, template: int, vmid: int) -> None:
        self.wait(self.client.vm_clone(self.node, template, newid=vmid, name="bench"))
        delay = 0.5
        while True:
            try:
                self.client.vm_config_update(self.node, vmid, **CONFIG)
                break
            except PveLockError:
                time.sleep(delay)
                delay = min(delay * 2, 8.0)
        self.wait(self.client.vm_resize(self.node, vmid, disk=DISK, size=DISK_GIB))

    def finish(self, vmid: int) -> None:
        self.wait(self.client.vm_power(self.node, vmid, "start"))
        self.client.vm_pending(self.node, vmid)
