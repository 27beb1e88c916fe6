"""Tasks as PVE runs them: UPIDs, status without exitstatus while running, logs, listings."""

from __future__ import annotations

import re
import time

import pytest

from proxmox.errors import PveTaskFailed
from proxmox.upid import parse_upid
from proxmox.waiting import wait_for_task
from pvesim.taskrunner import UPID_RE, encode_upid

PVE_UPID_RE = re.compile(
    r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
    r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$"
)


def test_encode_upid_matches_pve_test_vector():
    upid = encode_upid("example-node", 49990, 375000292, 1758930844, "aptupdate", "", "root@pam")
    assert upid == "UPID:example-node:0000C346:165A0CE4:68D7279C:aptupdate::root@pam:"
    assert UPID_RE.match(upid)


def _start_vm_task(pve_sim, pve_http, vmid=100):
    pve_sim.add_vm("pve1", vmid, "web", 10)
    return pve_http.data("POST", f"/nodes/pve1/qemu/{vmid}/status/start")


def test_upid_has_pve_format_and_the_token_as_user(pve_sim, pve_http):
    before = int(time.time())
    upid = _start_vm_task(pve_sim, pve_http)
    assert PVE_UPID_RE.match(upid)
    parsed = parse_upid(upid)
    assert (parsed.node, parsed.type, parsed.id) == ("pve1", "qmstart", "100")
    assert parsed.user == "panel@pve!panel"
    assert parsed.starttime >= before
    assert re.fullmatch(
        r"UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmstart:100:panel@pve!panel:", upid
    )


def test_status_has_no_exitstatus_while_running_then_ok(pve_sim, pve_http):
    pve_sim.knobs.set_task_duration("qmstart", 30)
    upid = _start_vm_task(pve_sim, pve_http)
    running = pve_http.data("GET", f"/nodes/pve1/tasks/{upid}/status")
    assert running["status"] == "running"
    assert "exitstatus" not in running
    assert (running["user"], running["tokenid"]) == ("panel@pve", "panel")
    assert running["upid"] == upid and running["type"] == "qmstart" and running["id"] == "100"
    assert isinstance(running["pid"], int) and isinstance(running["starttime"], int)
    pve_sim.knobs.set_task_duration("qmstart", 0)
    pve_sim.reset()  # stops the long task: it ends as PVE's would when its daemon goes away


def test_finished_task_reports_ok_and_log_ends_with_task_ok(pve_sim, pve_http):
    upid = _start_vm_task(pve_sim, pve_http)
    status = pve_http.wait(upid)
    assert status["exitstatus"] == "OK"
    assert pve_http.log(upid)[-1] == "TASK OK"
    assert pve_sim.vm(100).status == "running"


def test_injected_failure_ends_the_task_with_that_text(pve_sim, pve_http):
    pve_sim.knobs.fail_next_tasks("qmstart", message="start failed: QEMU exited with code 1")
    upid = _start_vm_task(pve_sim, pve_http)
    assert pve_http.wait(upid)["exitstatus"] == "start failed: QEMU exited with code 1"
    assert pve_http.log(upid)[-1] == "TASK ERROR: start failed: QEMU exited with code 1"
    assert pve_sim.vm(100).status == "stopped"  # the effect was not applied
    second = pve_http.data("POST", "/nodes/pve1/qemu/100/status/stop")
    assert pve_http.wait(second)["exitstatus"] == "OK"


def test_fail_next_n_tasks_of_a_type_counts_down(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    pve_sim.knobs.fail_next_tasks("qmstop", count=2, message="boom")
    results = [
        pve_http.wait(pve_http.data("POST", "/nodes/pve1/qemu/100/status/stop"))["exitstatus"]
        for _ in range(3)
    ]
    assert results == ["boom", "boom", "OK"]


def test_warnings_end_as_warnings_n(pve_sim, pve_http):
    pve_sim.knobs.warn_next_tasks("qmstart", warnings=["a", "b"])
    upid = _start_vm_task(pve_sim, pve_http)
    assert pve_http.wait(upid)["exitstatus"] == "WARNINGS: 2"
    log = pve_http.log(upid)
    assert log[-3:] == ["WARN: a", "WARN: b", "TASK WARNINGS: 2"]


def test_task_log_paging_n_t_and_total(pve_sim, pve_http):
    pve_sim.add_template("pve1", 9000, "tpl", 10)
    upid = pve_http.data("POST", "/nodes/pve1/qemu/9000/clone", data={"newid": 100, "full": 1})
    pve_http.wait(upid)
    response = pve_http.request("GET", f"/nodes/pve1/tasks/{upid}/log", params={"limit": 0})
    body = response.json()
    lines = body["data"]
    assert [line["n"] for line in lines] == list(range(1, len(lines) + 1))
    assert body["total"] == len(lines) > 4
    page = pve_http.request(
        "GET", f"/nodes/pve1/tasks/{upid}/log", params={"start": 2, "limit": 2}
    ).json()
    assert page["total"] == len(lines)
    assert page["data"] == lines[2:4]
    assert lines[-1]["t"] == "TASK OK"


def test_unparsable_and_unknown_upids_are_400(pve_http, pve_sim):
    bad = pve_http.request("GET", "/nodes/pve1/tasks/UPID:bad task/status")
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"upid": "unable to parse worker upid"}
    unknown = encode_upid("pve1", 1, 2, 3, "qmstart", "100", "panel@pve!panel")
    missing = pve_http.request("GET", f"/nodes/pve1/tasks/{unknown}/status")
    assert missing.json()["errors"] == {"upid": "no such task"}


def test_task_on_another_node_is_no_such_task(pve_sim, pve_http):
    upid = _start_vm_task(pve_sim, pve_http)
    response = pve_http.request("GET", f"/nodes/pve2/tasks/{upid}/status")
    assert response.json()["errors"] == {"upid": "no such task"}


def test_task_list_newest_first_with_filters_and_total(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "a", 10)
    pve_sim.add_vm("pve1", 101, "b", 10)
    pve_sim.knobs.fail_next_tasks("qmstart", message="nope")
    first = pve_http.data("POST", "/nodes/pve1/qemu/100/status/start")
    pve_http.wait(first)
    second = pve_http.data("POST", "/nodes/pve1/qemu/101/status/start")
    pve_http.wait(second)
    body = pve_http.request("GET", "/nodes/pve1/tasks").json()
    assert [t["upid"] for t in body["data"]] == [second, first]
    assert body["total"] == 2
    assert body["data"][1]["status"] == "nope" and body["data"][0]["status"] == "OK"
    assert body["data"][0]["endtime"] >= body["data"][0]["starttime"]
    only_101 = pve_http.data("GET", "/nodes/pve1/tasks", params={"vmid": 101})
    assert [t["upid"] for t in only_101] == [second]
    errors = pve_http.data("GET", "/nodes/pve1/tasks", params={"errors": 1})
    assert [t["upid"] for t in errors] == [first]
    assert pve_http.data("GET", "/nodes/pve1/tasks", params={"typefilter": "qmstop"}) == []


def test_running_tasks_are_only_in_active_listing(pve_sim, pve_http):
    pve_sim.knobs.set_task_duration("qmstart", 30)
    upid = _start_vm_task(pve_sim, pve_http)
    assert pve_http.data("GET", "/nodes/pve1/tasks") == []
    active = pve_http.data("GET", "/nodes/pve1/tasks", params={"source": "active"})
    assert [(t["upid"], t["status"]) for t in active] == [(upid, "RUNNING")]
    pve_sim.reset()


def test_client_wait_for_task_follows_a_task_to_its_end(pve_sim, pve_client):
    pve_sim.add_vm("pve1", 100, "web", 10)
    upid = pve_client.vm_power("pve1", 100, "start")
    seen = []
    result = wait_for_task(pve_client, upid, timeout_s=30, on_poll=seen.append)
    assert result.exitstatus == "OK"
    assert seen[-1]["status"] == "stopped"
    assert all("exitstatus" not in s for s in seen if s["status"] == "running")


def test_client_sees_task_failure_with_log_tail(pve_sim, pve_client):
    pve_sim.add_vm("pve1", 100, "web", 10, running=True)
    upid = pve_client.vm_power("pve1", 100, "start")
    with pytest.raises(PveTaskFailed) as excinfo:
        wait_for_task(pve_client, upid, timeout_s=30)
    assert excinfo.value.exitstatus == "VM 100 already running"
    assert excinfo.value.log_tail[-1] == "TASK ERROR: VM 100 already running"
