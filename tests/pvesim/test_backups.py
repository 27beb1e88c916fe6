"""vzdump, storage content and restore as PVE does them."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def vm(pve_sim):
    return pve_sim.add_vm("pve1", 100, "web-1", 20, running=True)


def _backup(pve_http, **params):
    data = {"vmid": "100", "storage": "local", "compress": "zstd", **params}
    return pve_http.data("POST", "/nodes/pve1/vzdump", data=data)


def test_vzdump_locks_the_vm_with_backup_while_running(pve_sim, pve_http, vm):
    pve_sim.knobs.set_task_duration("vzdump", 30)
    upid = _backup(pve_http)
    assert upid.split(":")[5:7] == ["vzdump", "100"]
    assert pve_http.data("GET", "/nodes/pve1/qemu/100/status/current")["lock"] == "backup"
    refused = pve_http.request("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2})
    assert (refused.status_code, refused.reason) == (500, "VM is locked (backup)")
    pve_sim.reset()


def test_vzdump_creates_a_pve_named_archive_listed_in_storage(pve_sim, pve_http, vm):
    upid = _backup(pve_http, **{"notes-template": "{{guestname}} ({{vmid}}) on {{node}}"})
    assert pve_http.wait(upid)["exitstatus"] == "OK"
    assert "lock" not in pve_http.data("GET", "/nodes/pve1/qemu/100/config")
    (item,) = pve_http.data(
        "GET", "/nodes/pve1/storage/local/content", params={"content": "backup", "vmid": 100}
    )
    assert re.fullmatch(
        r"local:backup/vzdump-qemu-100-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}\.vma\.zst", item["volid"]
    )
    assert item["format"] == "vma.zst"
    assert (item["content"], item["subtype"], item["vmid"]) == ("backup", "qemu", 100)
    assert isinstance(item["size"], int) and item["size"] > 0
    assert isinstance(item["ctime"], int)
    assert item["notes"] == "web-1 (100) on pve1"
    log = pve_http.log(upid)
    assert "INFO: Starting Backup of VM 100 (qemu)" in log
    assert log[-2:] == ["INFO: Backup job finished successfully", "TASK OK"]


@pytest.mark.parametrize(
    ("compress", "suffix"), [("0", ".vma"), ("gzip", ".vma.gz"), ("lzo", ".vma.lzo")]
)
def test_archive_extension_follows_compress(pve_http, vm, compress, suffix):
    pve_http.wait(_backup(pve_http, compress=compress))
    (item,) = pve_http.data(
        "GET", "/nodes/pve1/storage/local/content", params={"content": "backup"}
    )
    assert item["volid"].endswith(suffix)


def test_one_vzdump_at_a_time_per_node(pve_sim, pve_http, vm):
    pve_sim.add_vm("pve1", 101, "db-1", 10)
    first = _backup(pve_http)
    second = pve_http.data("POST", "/nodes/pve1/vzdump", data={"vmid": "101", "storage": "local"})
    assert pve_http.wait(second)["exitstatus"] == "OK"
    assert pve_http.data("GET", f"/nodes/pve1/tasks/{first}/status")["status"] == "stopped"
    assert pve_http.log(second)[:2] == [
        "INFO: trying to get global lock - waiting...",
        "INFO: got global lock",
    ]


def test_vzdump_of_guests_not_on_this_node_returns_ok_string(pve_sim, pve_http):
    pve_sim.add_vm("pve2", 100, "web", 10)
    assert pve_http.data("POST", "/nodes/pve1/vzdump", data={"vmid": "100"}) == "OK"


def test_vzdump_of_a_locked_vm_ends_with_job_errors(pve_sim, pve_http, vm):
    vm.config["lock"] = "clone"
    upid = _backup(pve_http)
    assert pve_http.wait(upid)["exitstatus"] == "job errors"
    assert "ERROR: Backup of VM 100 failed - VM is locked (clone)" in pve_http.log(upid)


def test_injected_vzdump_failure_is_a_job_error(pve_sim, pve_http, vm):
    pve_sim.knobs.fail_next_tasks("vzdump", message="zstd: write error")
    upid = _backup(pve_http)
    assert pve_http.wait(upid)["exitstatus"] == "job errors"
    assert "ERROR: Backup of VM 100 failed - zstd: write error" in pve_http.log(upid)
    assert (
        pve_http.data("GET", "/nodes/pve1/storage/local/content", params={"content": "backup"})
        == []
    )
    assert "lock" not in pve_http.data("GET", "/nodes/pve1/qemu/100/config")


def test_unknown_notes_variable_is_a_parameter_error(pve_http, vm):
    response = pve_http.request(
        "POST",
        "/nodes/pve1/vzdump",
        data={"vmid": "100", "storage": "local", "notes-template": "{{oops}}"},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "notes-template": "found unknown: variable 'oops' at char 0"
    }


def test_delete_backup_volume_is_an_imgdel_task(pve_sim, pve_http, vm):
    pve_http.wait(_backup(pve_http))
    (item,) = pve_http.data(
        "GET", "/nodes/pve1/storage/local/content", params={"content": "backup"}
    )
    upid = pve_http.data("DELETE", f"/nodes/pve1/storage/local/content/{item['volid']}")
    assert upid.split(":")[5:7] == ["imgdel", "100@local"]
    assert pve_http.wait(upid)["exitstatus"] == "OK"
    assert (
        pve_http.data("GET", "/nodes/pve1/storage/local/content", params={"content": "backup"})
        == []
    )


def test_protected_backup_cannot_be_deleted(pve_http, vm):
    pve_http.wait(_backup(pve_http, protected=1))
    (item,) = pve_http.data(
        "GET", "/nodes/pve1/storage/local/content", params={"content": "backup"}
    )
    assert item["protected"] == 1
    upid = pve_http.data("DELETE", f"/nodes/pve1/storage/local/content/{item['volid']}")
    assert pve_http.wait(upid)["exitstatus"].startswith("cannot remove protected archive '")


def test_restore_over_an_existing_vm_needs_force_and_locks_create(pve_sim, pve_http, vm):
    pve_http.wait(_backup(pve_http))
    (item,) = pve_http.data(
        "GET", "/nodes/pve1/storage/local/content", params={"content": "backup"}
    )
    refused = pve_http.request(
        "POST", "/nodes/pve1/qemu", data={"vmid": 100, "archive": item["volid"]}
    )
    assert (refused.status_code, refused.reason) == (
        500,
        "unable to restore VM 100 - VM 100 already exists on node 'pve1'",
    )
    # grow the disk after the backup: a restore brings the backed-up size back
    pve_http.wait(
        pve_http.data("PUT", "/nodes/pve1/qemu/100/resize", data={"disk": "scsi0", "size": "30G"})
    )
    pve_http.wait(pve_http.data("POST", "/nodes/pve1/qemu/100/status/stop"))
    pve_sim.knobs.set_task_duration("qmrestore", 30)
    upid = pve_http.data(
        "POST", "/nodes/pve1/qemu", data={"vmid": 100, "archive": item["volid"], "force": 1}
    )
    assert upid.split(":")[5:7] == ["qmrestore", "100"]
    assert pve_http.data("GET", "/nodes/pve1/qemu/100/config")["lock"] == "create"
    pve_sim.reset()


def test_restore_brings_back_the_backed_up_config(pve_sim, pve_http, vm):
    pve_http.wait(_backup(pve_http))
    (item,) = pve_http.data(
        "GET", "/nodes/pve1/storage/local/content", params={"content": "backup"}
    )
    pve_http.wait(
        pve_http.data("PUT", "/nodes/pve1/qemu/100/resize", data={"disk": "scsi0", "size": "30G"})
    )
    pve_http.wait(pve_http.data("POST", "/nodes/pve1/qemu/100/status/stop"))
    upid = pve_http.data(
        "POST", "/nodes/pve1/qemu", data={"vmid": 100, "archive": item["volid"], "force": 1}
    )
    assert pve_http.wait(upid)["exitstatus"] == "OK"
    config = pve_http.data("GET", "/nodes/pve1/qemu/100/config")
    assert "lock" not in config
    assert config["scsi0"].endswith("size=20G")
    assert config["name"] == "web-1"


def test_restore_into_a_running_vm_fails_in_the_task_and_drops_the_lock(pve_sim, pve_http, vm):
    pve_http.wait(_backup(pve_http))
    (item,) = pve_http.data(
        "GET", "/nodes/pve1/storage/local/content", params={"content": "backup"}
    )
    upid = pve_http.data(
        "POST", "/nodes/pve1/qemu", data={"vmid": 100, "archive": item["volid"], "force": 1}
    )
    assert pve_http.wait(upid)["exitstatus"] == "unable to restore VM 100 - vm is running"
    assert "lock" not in pve_http.data("GET", "/nodes/pve1/qemu/100/config")


def test_restore_to_a_new_vmid(pve_sim, pve_http, vm):
    pve_http.wait(_backup(pve_http))
    (item,) = pve_http.data(
        "GET", "/nodes/pve1/storage/local/content", params={"content": "backup"}
    )
    upid = pve_http.data(
        "POST",
        "/nodes/pve1/qemu",
        data={"vmid": 150, "archive": item["volid"], "storage": "local-lvm", "unique": 1},
    )
    assert pve_http.wait(upid)["exitstatus"] == "OK"
    config = pve_http.data("GET", "/nodes/pve1/qemu/150/config")
    assert config["scsi0"].startswith("local-lvm:vm-150-disk-0,")
    assert config["net0"] != pve_http.data("GET", "/nodes/pve1/qemu/100/config")["net0"]


def test_restore_with_disk_params_conflicts_with_archive(pve_http, vm):
    response = pve_http.request(
        "POST",
        "/nodes/pve1/qemu",
        data={"vmid": 150, "archive": "local:backup/x.vma.zst", "scsi0": "local-lvm:10"},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"scsi0": "option conflicts with option 'archive'"}
