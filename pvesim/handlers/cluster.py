"""/version, /nodes, node status and storages, /cluster/resources, /cluster/nextid."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pvesim.api import Request, die, param_error, route
from pvesim.guests import vm_status
from pvesim.seed import add_vm

if TYPE_CHECKING:
    from pvesim.server import PveSimulator
    from pvesim.state import Node, Storage

PVE_VERSION = "9.1.3"
PVE_RELEASE = "9.1"
PVE_REPOID = "bd5bf5a1"
KERNEL = "6.14.11-4-pve"
VMID_RANGE = (100, 1_000_000)


@route("GET", "/version")
def version(sim: PveSimulator, req: Request):
    return {"version": PVE_VERSION, "release": PVE_RELEASE, "repoid": PVE_REPOID}


def _node_usage(node: Node) -> tuple[float, int]:
    running = [vm for vm in node.vms.values() if vm.status == "running"]
    mem = 2 * 1024**3 + sum(vm_status(vm, full=False)["mem"] for vm in running)
    cpu = round(0.02 + 0.03 * len(running), 4)
    return min(cpu, 1.0), min(mem, node.maxmem)


def _node_item(sim: PveSimulator, node: Node) -> dict:
    if node.name in sim.knobs.nodes_down:
        return {"id": f"node/{node.name}", "type": "node", "node": node.name, "status": "offline"}
    cpu, mem = _node_usage(node)
    root_total = 100 * 1024**3
    return {
        "id": f"node/{node.name}",
        "type": "node",
        "node": node.name,
        "status": "online",
        "cpu": cpu,
        "maxcpu": node.maxcpu,
        "mem": mem,
        "maxmem": node.maxmem,
        "disk": root_total // 8,
        "maxdisk": root_total,
        "uptime": int(time.time() - node.boot_time),
        "level": "",
        "ssl_fingerprint": sim.fingerprint_sha256,
    }


@route("GET", "/nodes")
def nodes(sim: PveSimulator, req: Request):
    with sim.state.lock:
        return [_node_item(sim, node) for node in sim.state.nodes.values()]


@route("GET", "/nodes/{node}/status")
def node_status(sim: PveSimulator, req: Request):
    with sim.state.lock:
        node = sim.state.nodes[req.node]
        cpu, mem = _node_usage(node)
        return {
            "cpu": cpu,
            "wait": 0.0005,
            "uptime": int(time.time() - node.boot_time),
            "idle": 0,
            "loadavg": ["0.21", "0.17", "0.12"],
            "kversion": f"Linux {KERNEL} #1 SMP PREEMPT_DYNAMIC PMX {KERNEL} (2026-01-01T00:00Z)",
            "pveversion": f"pve-manager/{PVE_VERSION}/{PVE_REPOID}",
            "cpuinfo": {
                "cpus": node.maxcpu,
                "cores": node.maxcpu // 2,
                "sockets": 1,
                "model": "AMD EPYC 7302P 16-Core Processor (simulated)",
                "mhz": "3000.000",
                "hvm": "1",
                "user_hz": 100,
                "flags": "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr svm",
            },
            "memory": {
                "total": node.maxmem,
                "used": mem,
                "free": node.maxmem - mem,
                "available": node.maxmem - mem,
            },
            "swap": {"total": 8 * 1024**3, "used": 0, "free": 8 * 1024**3},
            "rootfs": {
                "total": 100 * 1024**3,
                "used": 12 * 1024**3,
                "free": 88 * 1024**3,
                "avail": 83 * 1024**3,
            },
            "ksm": {"shared": 0},
            "boot-info": {"mode": "efi", "secureboot": 0},
            "current-kernel": {
                "sysname": "Linux",
                "release": KERNEL,
                "version": f"#1 SMP PREEMPT_DYNAMIC PMX {KERNEL} (2026-01-01T00:00Z)",
                "machine": "x86_64",
            },
        }


def _storage_item(storage: Storage) -> dict:
    used = storage.used()
    return {
        "storage": storage.storage,
        "type": storage.type,
        "content": storage.content,
        "active": 1,
        "enabled": 1,
        "shared": 1 if storage.shared else 0,
        "total": storage.total,
        "used": used,
        "avail": storage.total - used,
        "used_fraction": round(used / storage.total, 6) if storage.total else 0,
    }


@route("GET", "/nodes/{node}/storage")
def node_storages(sim: PveSimulator, req: Request):
    content = req.get("content")
    wanted = set(content.split(",")) if content else None
    only = req.get("storage")
    with sim.state.lock:
        items = []
        for storage in sim.state.nodes[req.node].storages.values():
            if only and storage.storage != only:
                continue
            if wanted and not wanted & set(storage.content.split(",")):
                continue
            items.append(_storage_item(storage))
        return items


@route("GET", "/cluster/resources")
def cluster_resources(sim: PveSimulator, req: Request):
    kind = req.get("type")
    items: list[dict] = []
    with sim.state.lock:
        for node in sim.state.nodes.values():
            down = node.name in sim.knobs.nodes_down
            if kind in (None, "node"):
                item = _node_item(sim, node)
                item.pop("ssl_fingerprint", None)
                if not down:
                    item["cgroup-mode"] = 2
                items.append(item)
            if kind in (None, "vm"):
                for vm in sorted(node.vms.values(), key=lambda v: v.vmid):
                    status = vm_status(vm, full=False)
                    entry = {
                        "id": f"qemu/{vm.vmid}",
                        "type": "qemu",
                        "node": node.name,
                        "vmid": vm.vmid,
                        "name": status["name"],
                        "status": "unknown" if down else status["status"],
                        "template": 1 if vm.is_template else 0,
                        "maxcpu": status["cpus"],
                        "cpu": status["cpu"],
                        "maxmem": status["maxmem"],
                        "mem": status["mem"],
                        "maxdisk": status["maxdisk"],
                        "disk": 0,
                        "uptime": status["uptime"],
                        "netin": status["netin"],
                        "netout": status["netout"],
                        "diskread": status["diskread"],
                        "diskwrite": status["diskwrite"],
                    }
                    for key in ("lock", "tags"):
                        if key in status:
                            entry[key] = status[key]
                    items.append(entry)
            if kind in (None, "storage"):
                for storage in node.storages.values():
                    used = storage.used()
                    items.append(
                        {
                            "id": f"storage/{node.name}/{storage.storage}",
                            "type": "storage",
                            "storage": storage.storage,
                            "node": node.name,
                            "status": "unknown" if down else "available",
                            "content": storage.content,
                            "plugintype": storage.type,
                            "shared": 1 if storage.shared else 0,
                            "disk": used,
                            "maxdisk": storage.total,
                        }
                    )
            if kind in (None, "sdn"):
                items.append(
                    {
                        "id": f"sdn/{node.name}/localnetwork",
                        "type": "sdn",
                        "sdn": "localnetwork",
                        "node": node.name,
                        "status": "unknown" if down else "ok",
                    }
                )
    return items


@route("GET", "/cluster/nextid")
def nextid(sim: PveSimulator, req: Request):
    """The lowest id free in the whole cluster (pmxcfs' vmlist). Nothing is reserved: callers
    asking at the same time get the same id (pve-manager API2/Cluster.pm, still so in 9.x)."""
    # PVE's Perl returns the id after using it as a hash key, so JSON carries a string.
    with sim.state.lock:
        used = sim.state.used_vmids()
        wanted = req.get("vmid")
        if wanted is not None:
            if int(wanted) in used:
                raise param_error({"vmid": f"VM {int(wanted)} already exists"})
            answer = wanted
        else:
            low, high = VMID_RANGE
            answer = next((str(v) for v in range(low, high) if v not in used), None)
            if answer is None:
                raise die(f"unable to get any free VMID in range [{low}, {high}]")
        if sim.knobs.take_nextid_race():
            _another_client_takes(sim, int(answer))
    return answer


def _another_client_takes(sim: PveSimulator, vmid: int) -> None:
    """Knob ``nextid_races``: a client that asked at the same time wins the id."""
    node = next(iter(sim.state.nodes))
    add_vm(sim, node, vmid, f"other-client-{vmid}", 1, cloudinit=False)


@route("GET", "/cluster/status")
def cluster_status(sim: PveSimulator, req: Request):
    """pve-manager API2/Cluster.pm get_status. Several nodes form one cluster (the first node is
    the one answering, ``local``); a single node is standalone: one node entry, nodeid 0."""
    with sim.state.lock:
        names = list(sim.state.nodes)
    local = names[0]
    if len(names) == 1:
        return [
            {
                "type": "node",
                "id": f"node/{local}",
                "name": local,
                "ip": node_ip(0),
                "local": 1,
                "nodeid": 0,
                "online": 1,
                "level": "",
            }
        ]
    online = [name not in sim.knobs.nodes_down for name in names]
    items: list[dict] = [
        {
            "type": "cluster",
            "id": "cluster",
            "name": sim.state.cluster_name,
            "nodes": len(names),
            "version": len(names),  # corosync.conf was rewritten once per join
            "quorate": 1 if sum(online) * 2 > len(names) else 0,
        }
    ]
    for index, (name, up) in enumerate(zip(names, online, strict=True)):
        entry = {
            "type": "node",
            "id": f"node/{name}",
            "name": name,
            "nodeid": index + 1,
            "local": 1 if name == local else 0,
            "online": 1 if up else 0,
            "ip": node_ip(index),
        }
        if up:  # extract_node_stats only knows nodes whose status is current
            entry["level"] = ""
        items.append(entry)
    return items


def node_ip(index: int) -> str:
    return f"192.0.2.{11 + index}"  # TEST-NET-1
