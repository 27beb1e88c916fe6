"""Every request PveClient can send is valid for the real PVE API schema (PVE 9.1).

Each public method is called (with the parameter shapes the panel uses) through `responses`;
a callback records what went on the wire and answers with data shaped like the schema's
``returns``. Then each recorded request must pass ``validate_request``: the path and method
exist, every parameter is known, required ones are present, formats and patterns match.
Adding a client method without a scenario here fails ``test_every_public_method_is_covered``.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import responses

from proxmox.client import PveClient
from pvesim.schema import find_endpoint, validate_request
from tests.proxmox.pve_http import API, make_client

UPID = "UPID:pve1:0000C346:165A0CE4:68D7279C:qmclone:9000:panel@pve!panel:"
VOLID = "local:backup/vzdump-qemu-101-2026_01_31-12_00_00.vma.zst"

# Generic transport, not endpoints: exercised by every scenario below.
TRANSPORT_METHODS = {"request", "request_body", "get", "post", "put", "delete", "close"}


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, str]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.params}"


def _answer_for(method: str, path: str):
    """Data of the type the schema says the endpoint returns."""
    found = find_endpoint(method, path)
    returns = found[1].get("returns", {}) if found else {}
    kind = returns.get("type")
    if kind == "array":
        return [{"n": 1, "t": "TASK OK"}] if path.endswith("/log") else []
    if kind == "object":
        return {}
    if kind == "integer":
        return "100"
    if kind == "string":
        return UPID
    return None


def capture(call) -> list[Sent]:
    """Run ``call(client)`` and return every request it sent."""
    sent: list[Sent] = []

    def record(request):
        parts = urlsplit(request.url)
        path = unquote(parts.path)[len("/api2/json") :]
        if request.method in ("GET", "DELETE"):
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
        else:
            params = dict(parse_qsl(request.body or "", keep_blank_values=True))
        sent.append(Sent(request.method, path, params))
        data = _answer_for(request.method, path)
        body = {"data": data}
        if isinstance(data, list):
            body["total"] = len(data)
        return (200, {"Content-Type": "application/json;charset=UTF-8"}, json.dumps(body))

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for verb in ("GET", "POST", "PUT", "DELETE"):
            mock.add_callback(verb, re.compile(re.escape(API) + r"/.*"), callback=record)
        call(make_client())
    return sent


# One or more calls per public method, with the values the panel really sends.
SCENARIOS: dict[str, list] = {
    "version": [lambda c: c.version()],
    "nodes": [lambda c: c.nodes()],
    "node_status": [lambda c: c.node_status("pve1")],
    "cluster_resources": [
        lambda c: c.cluster_resources(),
        lambda c: c.cluster_resources(type="vm"),
        lambda c: c.cluster_resources(type="storage"),
    ],
    "next_vmid": [lambda c: c.next_vmid(), lambda c: c.next_vmid(105)],
    "cluster_status": [lambda c: c.cluster_status()],
    "storage_list": [
        lambda c: c.storage_list("pve1"),
        lambda c: c.storage_list("pve1", content="images"),
    ],
    "vm_list": [lambda c: c.vm_list("pve1")],
    "vm_clone": [
        lambda c: c.vm_clone("pve1", 9000, newid=101),
        lambda c: c.vm_clone(
            "pve1",
            9000,
            newid=101,
            name="web1.example.com",
            full=True,
            storage="local-lvm",
            target="pve2",
            description="customer 42 / order 7",
        ),
    ],
    "vm_config": [
        lambda c: c.vm_config("pve1", 101),
        lambda c: c.vm_config("pve1", 101, current=True),
    ],
    "vm_pending": [lambda c: c.vm_pending("pve1", 101)],
    "vm_config_update": [
        lambda c: c.vm_config_update(
            "pve1",
            101,
            cores=2,
            sockets=1,
            memory=4096,
            name="web1",
            ipconfig0="ip=203.0.113.10/24,gw=203.0.113.1",
            nameserver="1.1.1.1",
            ciuser="admin",
            cipassword="s3cret pass",
            sshkeys="ssh-ed25519 AAAAC3Nz a@b\n",
            net0="virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1",
            onboot=True,
            agent="enabled=1",
            description="panel-managed: server 42",
            tags="panel;customer-7",
            delete="ide2",
            digest="0123456789abcdef0123456789abcdef01234567",
        ),
    ],
    "vm_config_update_async": [
        lambda c: c.vm_config_update_async("pve1", 101, cores=4, memory=8192),
        lambda c: c.vm_config_update_async(
            "pve1", 101, scsi0="local-lvm:vm-101-disk-0,iothread=1,size=40G", background_delay=5
        ),
    ],
    "vm_resize": [
        lambda c: c.vm_resize("pve1", 101, disk="scsi0", size=40),
        lambda c: c.vm_resize("pve1", 101, disk="virtio0", size="40G"),
    ],
    "vm_delete": [
        lambda c: c.vm_delete("pve1", 101),
        lambda c: c.vm_delete("pve1", 101, purge=False, destroy_unreferenced_disks=False),
    ],
    "vm_status": [lambda c: c.vm_status("pve1", 101)],
    "vm_rrddata": [
        lambda c: c.vm_rrddata("pve1", 101, timeframe="hour"),
        lambda c: c.vm_rrddata("pve1", 101, timeframe="year", cf="MAX"),
    ],
    "node_rrddata": [
        lambda c: c.node_rrddata("pve1", timeframe="day", cf="AVERAGE"),
        lambda c: c.node_rrddata("pve1", timeframe="decade"),
    ],
    "vm_power": [
        lambda c: c.vm_power("pve1", 101, "start"),
        lambda c: c.vm_power("pve1", 101, "stop"),
        lambda c: c.vm_power("pve1", 101, "shutdown", forceStop=True, timeout=120),
        lambda c: c.vm_power("pve1", 101, "reboot", timeout=60),
        lambda c: c.vm_power("pve1", 101, "reset"),
        lambda c: c.vm_power("pve1", 101, "suspend"),
        lambda c: c.vm_power("pve1", 101, "resume"),
    ],
    "vm_restore": [
        lambda c: c.vm_restore("pve1", vmid=101, archive=VOLID),
        lambda c: c.vm_restore(
            "pve1", vmid=101, archive=VOLID, storage="local-lvm", force=True, unique=True
        ),
    ],
    "task_status": [lambda c: c.task_status("pve1", UPID)],
    "task_log": [lambda c: c.task_log("pve1", UPID), lambda c: c.task_log("pve1", UPID, start=50)],
    "task_log_tail": [lambda c: c.task_log_tail("pve1", UPID, lines=20)],
    "tasks": [
        lambda c: c.tasks("pve1"),
        lambda c: c.tasks("pve1", vmid=101, typefilter="qmclone", source="all", limit=10),
        lambda c: c.tasks("pve1", errors=True, since=1758930844),
    ],
    "vm_tasks": [
        lambda c: c.vm_tasks("pve1", 101),
        lambda c: c.vm_tasks(
            "pve1", 9000, typefilter="qmclone", since=1758930844, userfilter="panel@pve", limit=5
        ),
    ],
    "vzdump": [
        lambda c: c.vzdump("pve1", vmid=101, storage="backup-nfs"),
        lambda c: c.vzdump(
            "pve1",
            vmid=101,
            storage="local",
            mode="stop",
            compress="zstd",
            notes_template="{{guestname}} by panel",
        ),
    ],
    "storage_content": [
        lambda c: c.storage_content("pve1", "local"),
        lambda c: c.storage_content("pve1", "local", content="backup", vmid=101),
    ],
    "storage_content_delete": [lambda c: c.storage_content_delete("pve1", "local", VOLID)],
}


def public_methods(cls) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    } - TRANSPORT_METHODS


def test_every_public_method_is_covered():
    missing = public_methods(PveClient) - set(SCENARIOS)
    assert not missing, f"client methods without a schema scenario: {sorted(missing)}"
    stale = set(SCENARIOS) - public_methods(PveClient)
    assert not stale, f"scenarios for methods that no longer exist: {sorted(stale)}"


def test_coverage_check_notices_a_new_method():
    class Grown(PveClient):
        def vm_migrate(self, node, vmid, *, target):
            return self.post(f"/nodes/{node}/qemu/{vmid}/migrate", target=target)

    assert public_methods(Grown) - set(SCENARIOS) == {"vm_migrate"}


CASES = [
    pytest.param(name, i, call, id=f"{name}-{i}")
    for name, calls in SCENARIOS.items()
    for i, call in enumerate(calls)
]


@pytest.mark.parametrize(("name", "index", "call"), CASES)
def test_client_requests_are_valid_for_the_pve_schema(name, index, call):
    sent = capture(call)
    assert sent, f"{name} sent no request"
    for request in sent:
        errors = validate_request(request.method, request.path, request.params)
        assert errors == {}, f"{name}: {request} -> {errors}"


# --- proof that the check bites ------------------------------------------------------------


class Misspelt(PveClient):
    """The kind of slip the schema test exists to catch."""

    def vm_resize(self, node, vmid, *, disk, size):
        return self.put(f"/nodes/{node}/qemu/{vmid}/resize", disk=disk, sise=f"{size}G")

    def vm_status(self, node, vmid):
        return self.get(f"/nodes/{node}/qemu/{vmid}/status/curent")

    def vm_clone(self, node, vmid, *, newid, name=None):
        return self.post(f"/nodes/{node}/qemu/{vmid}/clone", newid=newid, name=name)


def _errors_of(call) -> list[dict]:
    def run(_client):
        client = Misspelt(_client.base_url, token_id="panel@pve!panel", token_secret="x")
        call(client)

    sent = capture(run)
    return [validate_request(r.method, r.path, r.params) for r in sent]


def test_misspelled_parameter_is_caught():
    (errors,) = _errors_of(lambda c: c.vm_resize("pve1", 101, disk="scsi0", size=40))
    assert "sise" in errors and "size" in errors


def test_misspelled_path_is_caught():
    (errors,) = _errors_of(lambda c: c.vm_status("pve1", 101))
    assert errors and "not implemented" in next(iter(errors.values()))


def test_bad_format_is_caught():
    (errors,) = _errors_of(lambda c: c.vm_clone("pve1", 9000, newid=101, name="web_1"))
    assert errors == {"name": "invalid format - value does not look like a valid DNS name"}
