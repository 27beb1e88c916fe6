"""Pending changes and hotplug, as qemu-server keeps them (GET config with and without
``current``, GET .../pending, what a running VM takes live, what stop/start/reboot apply)."""

from __future__ import annotations

import pytest

from proxmox.waiting import wait_for_task

CONFIG = "/nodes/pve1/qemu/100/config"
PENDING = "/nodes/pve1/qemu/100/pending"
MEMORY_HOTPLUG = {"hotplug": "network,disk,usb,memory", "numa": 1}


def pending_of(pve_http) -> dict[str, dict]:
    return {item["key"]: item for item in pve_http.data("GET", PENDING)}


def current(pve_http) -> dict:
    return pve_http.data("GET", CONFIG, params={"current": 1})


def power(pve_http, action: str) -> dict:
    return pve_http.wait(pve_http.data("POST", f"/nodes/pve1/qemu/100/status/{action}"))


@pytest.fixture
def running_vm(pve_sim):
    return pve_sim.add_vm("pve1", 100, "web", 10, cores=1, memory_mib=2048, running=True)


def test_get_config_shows_pending_values_unless_current(pve_http, running_vm):
    pve_http.data("PUT", CONFIG, data={"cores": 4, "memory": "4096", "name": "renamed"})
    merged = pve_http.data("GET", CONFIG)
    assert (merged["cores"], merged["memory"], merged["name"]) == (4, "4096", "renamed")
    running = current(pve_http)
    assert (running["cores"], running["memory"], running["name"]) == (1, "2048", "renamed")
    assert merged["digest"] == running["digest"]


def test_pending_lists_current_and_pending_values_in_pve_format(pve_http, running_vm):
    pve_http.data("PUT", CONFIG, data={"cores": 4, "memory": "4096", "name": "renamed"})
    pve_http.data("PUT", CONFIG, data={"delete": "agent"})
    items = pve_http.data("GET", PENDING)
    assert all(set(item) <= {"key", "value", "pending", "delete"} for item in items)
    by_key = {item["key"]: item for item in items}
    assert by_key["cores"] == {"key": "cores", "value": 1, "pending": 4}
    assert by_key["memory"] == {"key": "memory", "value": "2048", "pending": "4096"}
    assert by_key["name"] == {"key": "name", "value": "renamed"}  # applied at once
    assert by_key["digest"]["value"] == pve_http.data("GET", CONFIG)["digest"]
    assert by_key["agent"]["delete"] == 1 and "agent" in current(pve_http)


def test_a_stopped_vm_takes_changes_at_once(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10, cores=1)
    pve_http.data("PUT", CONFIG, data={"cores": 4})
    assert current(pve_http)["cores"] == 4
    assert "pending" not in pending_of(pve_http)["cores"]


@pytest.mark.parametrize("action", ["stop", "shutdown", "reboot"])
def test_stop_shutdown_and_reboot_apply_pending_changes(pve_http, running_vm, action):
    pve_http.data("PUT", CONFIG, data={"cores": 4, "delete": "agent"})
    assert power(pve_http, action)["exitstatus"] == "OK"
    config = current(pve_http)
    assert config["cores"] == 4 and "agent" not in config
    assert not [i for i in pve_http.data("GET", PENDING) if "pending" in i or "delete" in i]


def test_reset_keeps_pending_changes(pve_http, running_vm):
    pve_http.data("PUT", CONFIG, data={"cores": 4})
    power(pve_http, "reset")
    assert pending_of(pve_http)["cores"]["pending"] == 4


def test_setting_the_running_value_again_drops_the_pending_change(pve_http, running_vm):
    pve_http.data("PUT", CONFIG, data={"cores": 4})
    pve_http.data("PUT", CONFIG, data={"cores": 1})
    assert pending_of(pve_http)["cores"] == {"key": "cores", "value": 1}


# --- memory hotplug ---------------------------------------------------------------------------


@pytest.fixture
def hotplug_vm(pve_sim):
    return pve_sim.add_vm(
        "pve1", 100, "web", 10, memory_mib=2048, running=True, config=MEMORY_HOTPLUG
    )


@pytest.mark.parametrize(
    ("asked", "result"),
    [("4096", "4096"), ("3000", "3072"), ("1600", "1536"), ("1500", "1024"), ("2500", "2560")],
)
def test_memory_hotplug_applies_live_in_whole_dimms_up_or_down(pve_http, hotplug_vm, asked, result):
    pve_http.data("PUT", CONFIG, data={"memory": asked})
    assert current(pve_http)["memory"] == result
    assert "pending" not in pending_of(pve_http)["memory"]
    status = pve_http.data("GET", "/nodes/pve1/qemu/100/status/current")
    assert status["maxmem"] == int(result) * 1024**2


def test_memory_hotplug_below_the_static_gib_fails_and_stays_pending(pve_http, hotplug_vm):
    response = pve_http.request("PUT", CONFIG, data={"memory": "512", "name": "x"})
    assert (response.status_code, response.reason) == (400, "Parameter verification failed.")
    assert response.json()["errors"] == {
        "memory": "hotplug problem - memory can't be lower than 1024 MB at "
        "/usr/share/perl5/PVE/QemuServer/Memory.pm line 219."
    }
    assert pending_of(pve_http)["memory"] == {"key": "memory", "value": "2048", "pending": "512"}
    assert current(pve_http)["name"] == "x"  # the rest was written


def test_memory_hotplug_failure_fails_the_async_task(pve_http, hotplug_vm):
    upid = pve_http.data("POST", CONFIG, data={"memory": "600000"})
    status = pve_http.wait(upid)
    assert status["exitstatus"] == (
        "400 Parameter verification failed. memory: hotplug problem - "
        "you cannot add more memory than max mem 524288 MB!"
    )


def test_without_memory_hotplug_memory_stays_pending(pve_http, running_vm):
    pve_http.data("PUT", CONFIG, data={"memory": "4096"})
    assert current(pve_http)["memory"] == "2048"


def test_memory_hotplug_without_numa_cannot_start(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10, config={"hotplug": "memory"})
    status = power(pve_http, "start")
    assert status["exitstatus"] == "NUMA needs to be enabled for memory hotplug"
    assert pve_http.data("GET", "/nodes/pve1/qemu/100/status/current")["status"] == "stopped"


def test_memory_hotplug_needs_aligned_memory_to_start(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10, memory_mib=2000, config=MEMORY_HOTPLUG)
    status = power(pve_http, "start")
    assert status["exitstatus"] == "memory size (2000) must be aligned to 512 for hotplugging"


# --- cpu hotplug -------------------------------------------------------------------------------


def test_cpu_hotplug_applies_vcpus_live_but_never_cores(pve_sim, pve_http):
    pve_sim.add_vm(
        "pve1", 100, "web", 10, cores=4, running=True, config={"hotplug": "cpu", "vcpus": 1}
    )
    pve_http.data("PUT", CONFIG, data={"vcpus": 3, "cores": 8})
    config = current(pve_http)
    assert (config["vcpus"], config["cores"]) == (3, 4)
    assert pending_of(pve_http)["cores"]["pending"] == 8
    assert pve_http.data("GET", "/nodes/pve1/qemu/100/status/current")["cpus"] == 3
    too_many = pve_http.request("PUT", CONFIG, data={"vcpus": 6})
    assert too_many.json()["errors"] == {
        "vcpus": "hotplug problem - you can't add more vcpus than maxcpus"
    }


def test_without_cpu_hotplug_vcpus_stays_pending(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10, cores=4, running=True)
    pve_http.data("PUT", CONFIG, data={"vcpus": 2})
    assert "vcpus" not in current(pve_http)


# --- through the client ------------------------------------------------------------------------


def test_client_reads_pending_and_current(pve_client, pve_sim, running_vm):
    upid = pve_client.vm_config_update_async("pve1", 100, cores=2, memory=4096)
    wait_for_task(pve_client, upid, timeout_s=30)
    assert pve_client.vm_config("pve1", 100)["cores"] == 2
    assert pve_client.vm_config("pve1", 100, current=True)["cores"] == 1
    pending = {i["key"]: i for i in pve_client.vm_pending("pve1", 100) if "pending" in i}
    assert {k: (i["value"], i["pending"]) for k, i in pending.items()} == {
        "cores": (1, 2),
        "memory": ("2048", "4096"),
    }


def test_current_and_snapshot_exclude_each_other(pve_http, running_vm):
    response = pve_http.request("GET", CONFIG, params={"current": 1, "snapshot": "before"})
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "snapshot": "cannot use 'snapshot' parameter with 'current'",
        "current": "cannot use 'snapshot' parameter with 'current'",
    }
