"""Answers that leave the outcome open (a bare 5xx after the work was done), and failed polls."""

from __future__ import annotations

import time

import pytest

from proxmox.errors import PveOutcomeUnknown
from proxmox.waiting import wait_for_task

STATUS = "GET /nodes/{node}/tasks/{upid}/status"
LOG = "GET /nodes/{node}/tasks/{upid}/log"


@pytest.mark.parametrize(
    ("kind", "status", "reason"),
    [("500_after", 500, "Internal Server Error"), ("502_after", 502, "Bad Gateway")],
)
def test_after_faults_apply_the_write_then_answer_a_bare_5xx(
    pve_sim, pve_http, kind, status, reason
):
    pve_sim.add_vm("pve1", 100, "web", 10)
    pve_sim.knobs.fail_next_calls(kind, endpoint="PUT /nodes/{node}/qemu/{vmid}/config")
    response = pve_http.request("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 4})
    assert (response.status_code, response.reason) == (status, reason)
    assert response.headers["Content-Type"].startswith("text/html")
    assert pve_sim.vm(100).config["cores"] == 4


def test_client_sees_an_unknown_outcome_and_the_read_back_shows_it_applied(pve_sim, pve_client):
    pve_sim.add_vm("pve1", 100, "web", 9)
    pve_sim.knobs.fail_next_calls("500_after", endpoint="PUT /nodes/{node}/qemu/{vmid}/resize")
    with pytest.raises(PveOutcomeUnknown):
        pve_client.vm_resize("pve1", 100, disk="scsi0", size=11)
    (task,) = pve_client.vm_tasks("pve1", 100, typefilter="resize", since=int(time.time()) - 60)
    wait_for_task(pve_client, task["upid"], timeout_s=30)
    assert "size=11G" in pve_client.vm_config("pve1", 100, current=True)["scsi0"]


def test_a_lost_clone_answer_is_found_in_the_task_list(pve_sim, pve_client):
    pve_sim.add_template("pve1", 9000, "debian-12", 1)
    pve_sim.knobs.update({"fail_next_calls": [{"kind": "502_after", "count": 1}]})
    since = int(time.time()) - 1
    with pytest.raises(PveOutcomeUnknown):
        pve_client.vm_clone("pve1", 9000, newid=101)
    tasks = pve_client.vm_tasks("pve1", 9000, typefilter="qmclone", since=since)
    assert len(tasks) == 1
    wait_for_task(pve_client, tasks[0]["upid"], timeout_s=30)
    assert pve_sim.vm(101).config["name"] == "Copy-of-VM-debian-12"


def test_a_pve_error_under_an_after_fault_stays_pves_answer(pve_sim, pve_client):
    pve_sim.knobs.fail_next_calls("500_after")
    with pytest.raises(Exception) as exc:
        pve_client.vm_config_update("pve1", 999, cores=1)
    assert "does not exist" in str(exc.value)
    assert not isinstance(exc.value, PveOutcomeUnknown)


# --- a failed poll is a reason to poll again ------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "596", "reset"])
def test_a_failed_status_poll_does_not_fail_the_wait(pve_sim, pve_client, kind):
    pve_sim.add_vm("pve1", 100, "web", 1, running=True)
    upid = pve_client.vm_power("pve1", 100, "stop")
    pve_sim.knobs.fail_next_calls(kind, count=2, endpoint=STATUS)
    pve_sim.reset_calls()
    result = wait_for_task(pve_client, upid, timeout_s=30, first_interval_s=0.05)
    assert result.exitstatus == "OK"
    assert pve_sim.calls[STATUS] >= 3
    assert pve_sim.vm(100).status == "stopped"


def test_a_failed_log_read_does_not_fail_the_wait(pve_sim, pve_client):
    pve_sim.add_vm("pve1", 100, "web", 1, running=True)
    upid = pve_client.vm_power("pve1", 100, "stop")
    pve_sim.knobs.fail_next_calls("500", count=5, endpoint=LOG)
    result = wait_for_task(pve_client, upid, timeout_s=30, first_interval_s=0.05)
    assert (result.exitstatus, result.log_tail) == ("OK", [])


def test_finished_tasks_match_userfilter_without_the_token(pve_sim, pve_client):
    pve_sim.add_vm("pve1", 100, "web", 1, running=True)
    wait_for_task(pve_client, pve_client.vm_power("pve1", 100, "stop"), timeout_s=30)
    assert len(pve_client.vm_tasks("pve1", 100, userfilter="panel@pve")) == 1
    assert pve_client.vm_tasks("pve1", 100, userfilter="panel@pve!panel") == []
