"""Every response the simulator gives for the panel's endpoints matches the schema's ``returns``;
every endpoint of the carried schema is served."""

from __future__ import annotations

import pytest

from pvesim import schema
from pvesim.api import ROUTES


def test_every_schema_endpoint_but_ticket_login_is_implemented():
    wanted = {
        (method, endpoint["path"])
        for endpoint in schema.load_schema()["endpoints"]
        for method in endpoint["info"]
    }
    assert wanted - set(ROUTES) == {("POST", "/access/ticket")}
    assert set(ROUTES) <= wanted  # nothing served that the schema does not describe


@pytest.fixture
def cluster(pve_sim, pve_http):
    """A template, a running VM with a backup, a finished and a running task."""
    pve_sim.add_template("pve1", 9000, "debian-12", 10)
    pve_sim.add_vm("pve1", 100, "web-1", 20, running=True, tags="panel")
    pve_http.wait(
        pve_http.data(
            "POST",
            "/nodes/pve1/vzdump",
            data={"vmid": "100", "storage": "local", "compress": "zstd", "notes-template": "x"},
        )
    )
    upid = pve_http.data("POST", "/nodes/pve1/qemu/100/status/reset")
    pve_http.wait(upid)
    (backup,) = pve_http.data(
        "GET", "/nodes/pve1/storage/local/content", params={"content": "backup"}
    )
    return {"upid": upid, "backup": backup["volid"]}


def _reads(cluster):
    upid = cluster["upid"]
    return [
        ("GET", "/version", None),
        ("GET", "/nodes", None),
        ("GET", "/nodes/pve1/status", None),
        ("GET", "/nodes/pve1/storage", None),
        ("GET", "/cluster/resources", None),
        ("GET", "/cluster/resources", {"type": "vm"}),
        ("GET", "/cluster/nextid", None),
        ("GET", "/cluster/status", None),
        ("GET", "/nodes/pve1/qemu/100/pending", None),
        ("GET", "/nodes/pve1/qemu/100/config", {"current": 1}),
        ("GET", "/nodes/pve1/qemu", None),
        ("GET", "/nodes/pve1/qemu/100/config", None),
        ("GET", "/nodes/pve1/qemu/9000/config", None),
        ("GET", "/nodes/pve1/qemu/100/status/current", None),
        ("GET", "/nodes/pve1/qemu/9000/status/current", None),
        ("GET", "/nodes/pve1/qemu/100/rrddata", {"timeframe": "hour"}),
        ("GET", "/nodes/pve1/rrddata", {"timeframe": "day", "cf": "MAX"}),
        ("GET", "/nodes/pve1/tasks", None),
        ("GET", "/nodes/pve1/tasks", {"source": "all"}),
        ("GET", f"/nodes/pve1/tasks/{upid}/status", None),
        ("GET", f"/nodes/pve1/tasks/{upid}/log", None),
        ("GET", "/nodes/pve1/storage/local/content", None),
        ("GET", "/nodes/pve1/storage/local-lvm/content", None),
    ]


def test_read_responses_match_the_schema(pve_http, cluster):
    for method, path, params in _reads(cluster):
        data = pve_http.data(method, path, params=params)
        assert schema.validate_response(method, path, data) == [], (method, path, data)


def test_running_task_status_matches_the_schema(pve_sim, pve_http, cluster):
    pve_sim.knobs.set_task_duration("qmstop", 30)
    upid = pve_http.data("POST", "/nodes/pve1/qemu/100/status/stop")
    path = f"/nodes/pve1/tasks/{upid}/status"
    data = pve_http.data("GET", path)
    assert data["status"] == "running"
    assert schema.validate_response("GET", path, data) == []
    active = pve_http.data("GET", "/nodes/pve1/tasks", params={"source": "active"})
    assert schema.validate_response("GET", "/nodes/pve1/tasks", active) == []
    pve_sim.reset()


def test_write_responses_match_the_schema(pve_http, cluster):
    backup = cluster["backup"]
    writes = [
        ("POST", "/nodes/pve1/qemu/9000/clone", {"newid": 101, "full": 1}),
        ("PUT", "/nodes/pve1/qemu/100/config", {"cores": 2}),
        ("POST", "/nodes/pve1/qemu/100/config", {"memory": "4096"}),
        ("PUT", "/nodes/pve1/qemu/100/resize", {"disk": "scsi0", "size": "25G"}),
        ("POST", "/nodes/pve1/qemu/100/status/suspend", None),
        ("POST", "/nodes/pve1/qemu/100/status/resume", None),
        ("POST", "/nodes/pve1/qemu/100/status/reboot", None),
        ("POST", "/nodes/pve1/qemu/100/status/shutdown", None),
        ("POST", "/nodes/pve1/qemu/100/status/start", None),
        ("POST", "/nodes/pve1/qemu/100/status/stop", None),
        ("POST", "/nodes/pve1/vzdump", {"vmid": "100", "storage": "local"}),
        ("POST", "/nodes/pve1/qemu", {"vmid": 150, "archive": backup}),
        ("POST", "/nodes/pve1/qemu", {"vmid": 151, "cores": 1, "scsi0": "local-lvm:4"}),
        ("DELETE", f"/nodes/pve1/storage/local/content/{backup}", None),
        ("DELETE", "/nodes/pve1/qemu/101", None),
    ]
    for method, path, params in writes:
        in_query = method in ("GET", "DELETE")
        response = pve_http.request(
            method, path, params=params if in_query else None, data=None if in_query else params
        )
        assert response.status_code == 200, (method, path, response.reason)
        data = response.json()["data"]
        assert schema.validate_response(method, path, data) == [], (method, path, data)
        if isinstance(data, str) and data.startswith("UPID:"):
            assert pve_http.wait(data)["exitstatus"] == "OK", (method, path, pve_http.log(data))
