"""The simulated cluster: nodes, storages, volumes, VMs, tasks. Plain data, JSON-persistable.

Every mutation happens under ``SimState.lock``. The per-VM lock files (flocks) and the per-node
vzdump lock live in ``locks.py``: they are process state, not persisted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from threading import RLock
from typing import Any

GIB = 1024**3


@dataclass
class Volume:
    volname: str  # vm-101-disk-0, base-9000-disk-0, backup/vzdump-qemu-101-....vma.zst
    content: str  # images | backup
    vmid: int | None
    size: int  # bytes
    ctime: int
    format: str  # raw | vma.zst | vma | ...
    parent: str | None = None  # linked clones: base-9000-disk-0@__base__
    notes: str | None = None
    protected: bool = False
    backup_config: dict | None = None  # the guest config stored inside a backup archive
    backup_log: list[str] | None = None


@dataclass
class Storage:
    storage: str
    type: str  # dir | lvmthin
    content: str  # comma list: images,rootdir / iso,vztmpl,backup
    total: int
    path: str | None = None
    shared: bool = False
    volumes: dict[str, Volume] = field(default_factory=dict)

    def used(self) -> int:
        return sum(v.size for v in self.volumes.values())

    def supports(self, content: str) -> bool:
        return content in self.content.split(",")


@dataclass
class Vm:
    vmid: int
    node: str
    config: dict[str, Any]  # the current config (what is running for a running VM)
    pending: dict[str, Any] = field(default_factory=dict)
    # Options to remove at the next start, as PVE writes them: "!key" for a forced delete.
    pending_delete: list[str] = field(default_factory=list)
    status: str = "stopped"  # running | stopped
    paused: bool = False
    started_at: float | None = None
    pid: int | None = None
    # The NIC byte counters of the running QEMU process (PVE's netin/netout, ``pvesim.traffic``):
    # they grow at these rates from ``started_at`` on, plus what a test added; zero at each start.
    netin_rate_bps: float = 0.0
    netout_rate_bps: float = 0.0
    netin_added: int = 0
    netout_added: int = 0

    @property
    def lock(self) -> str | None:
        return self.config.get("lock")

    @property
    def is_template(self) -> bool:
        return bool(int(self.config.get("template", 0) or 0))

    def pending_deletes(self) -> dict[str, bool]:
        """key -> forced, like AbstractConfig::parse_pending_delete."""
        return {key.lstrip("!"): key.startswith("!") for key in self.pending_delete}

    def add_pending_delete(self, key: str, force: bool = False) -> None:
        deletes = self.pending_deletes()
        deletes[key] = force
        self.pending_delete = [("!" if f else "") + k for k, f in deletes.items()]

    def remove_pending_delete(self, key: str) -> None:
        self.pending_delete = [k for k in self.pending_delete if k.lstrip("!") != key]

    def merged_config(self) -> dict[str, Any]:
        """GET .../config without ``current``: load_current_config with pending values in."""
        merged = {**self.config, **self.pending}
        for key in self.pending_deletes():
            merged.pop(key, None)
        return merged

    def digest(self) -> str:
        """SHA1 of the config file as PVE writes it (pending section included)."""
        lines = [f"{k}: {v}" for k, v in sorted(self.config.items()) if k != "description"]
        if "description" in self.config:
            lines.insert(0, "#" + str(self.config["description"]).replace("\n", "\n#"))
        if self.pending or self.pending_delete:
            lines.append("[PENDING]")
            lines += [f"{k}: {v}" for k, v in sorted(self.pending.items())]
            if self.pending_delete:
                lines.append("delete: " + ",".join(self.pending_delete))
        return hashlib.sha1("\n".join(lines).encode(), usedforsecurity=False).hexdigest()


@dataclass
class Task:
    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    status: str = "running"  # running | stopped
    exitstatus: str | None = None
    endtime: int | None = None
    log: list[str] = field(default_factory=list)


@dataclass
class Node:
    name: str
    maxcpu: int = 16
    maxmem: int = 64 * GIB
    boot_time: float = field(default_factory=time.time)
    storages: dict[str, Storage] = field(default_factory=dict)
    vms: dict[int, Vm] = field(default_factory=dict)


def default_storages() -> dict[str, Storage]:
    return {
        "local": Storage(
            storage="local",
            type="dir",
            content="iso,vztmpl,backup",
            total=100 * GIB,
            path="/var/lib/vz",
        ),
        "local-lvm": Storage(
            storage="local-lvm", type="lvmthin", content="images,rootdir", total=2048 * GIB
        ),
    }


@dataclass
class SimState:
    nodes: dict[str, Node] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)  # by UPID
    cluster_name: str = "pvesim"
    next_pid: int = 0x1000
    lock: RLock = field(default_factory=RLock, repr=False, compare=False)

    # --- lookups ------------------------------------------------------------------------------

    def find_vm(self, vmid: int) -> Vm | None:
        for node in self.nodes.values():
            vm = node.vms.get(int(vmid))
            if vm is not None:
                return vm
        return None

    def vm_on(self, node: str, vmid: int) -> Vm | None:
        n = self.nodes.get(node)
        return n.vms.get(int(vmid)) if n else None

    def all_vms(self) -> list[Vm]:
        return [vm for node in self.nodes.values() for vm in node.vms.values()]

    def used_vmids(self) -> set[int]:
        return {vm.vmid for vm in self.all_vms()}

    # --- persistence ----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        with self.lock:
            return {
                "cluster_name": self.cluster_name,
                "next_pid": self.next_pid,
                "nodes": {
                    name: {
                        **{k: v for k, v in asdict(node).items() if k not in ("storages", "vms")},
                        "storages": {s: asdict(st) for s, st in node.storages.items()},
                        "vms": {str(vmid): asdict(vm) for vmid, vm in node.vms.items()},
                    }
                    for name, node in self.nodes.items()
                },
                "tasks": {upid: asdict(task) for upid, task in self.tasks.items()},
            }

    @classmethod
    def from_dict(cls, data: dict) -> SimState:
        state = cls(cluster_name=data.get("cluster_name", "pvesim"), next_pid=data["next_pid"])
        for name, raw in data["nodes"].items():
            storages = {
                sid: Storage(
                    **{
                        **st,
                        "volumes": {vn: Volume(**vol) for vn, vol in st.get("volumes", {}).items()},
                    }
                )
                for sid, st in raw["storages"].items()
            }
            vms = {int(vmid): Vm(**vm) for vmid, vm in raw["vms"].items()}
            fields = {k: v for k, v in raw.items() if k not in ("storages", "vms")}
            state.nodes[name] = Node(**fields, storages=storages, vms=vms)
        state.tasks = {upid: Task(**task) for upid, task in data["tasks"].items()}
        return state

    def save(self, path: str | os.PathLike) -> None:
        payload = json.dumps(self.to_dict(), indent=1, sort_keys=True)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".pvesim-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SimState:
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))
