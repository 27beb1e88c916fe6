"""VM behaviour: clone, config (sync and async), locks, resize, destroy, power, pending changes."""

from __future__ import annotations

import re

import pytest

GIB = 1024**3
LOCK_FILE_ERROR = "can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout"


@pytest.fixture
def template(pve_sim):
    return pve_sim.add_template("pve1", 9000, "debian-12", 10, ciuser="debian")


def _clone(pve_http, newid=100, **params):
    return pve_http.data(
        "POST", "/nodes/pve1/qemu/9000/clone", data={"newid": newid, "full": 1, **params}
    )


# --- nextid, listings ------------------------------------------------------------------------


def test_nextid_is_a_string_and_skips_used_ids_cluster_wide(pve_sim, pve_http):
    assert pve_http.data("GET", "/cluster/nextid") == "100"
    pve_sim.add_vm("pve2", 100, "a", 5)
    assert pve_http.data("GET", "/cluster/nextid") == "101"


def test_nextid_with_vmid_checks_it_is_free(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "a", 5)
    assert pve_http.data("GET", "/cluster/nextid", params={"vmid": 150}) == "150"
    taken = pve_http.request("GET", "/cluster/nextid", params={"vmid": 100})
    assert taken.status_code == 400
    assert taken.json()["errors"] == {"vmid": "VM 100 already exists"}


def test_client_next_vmid_reads_the_string(pve_client):
    assert pve_client.next_vmid() == 100


def test_cluster_resources_type_filter(pve_sim, pve_http, template):
    pve_sim.add_vm("pve2", 100, "web", 5, running=True)
    vms = pve_http.data("GET", "/cluster/resources", params={"type": "vm"})
    assert {(r["id"], r["type"], r["node"], r["status"], r["template"]) for r in vms} == {
        ("qemu/9000", "qemu", "pve1", "stopped", 1),
        ("qemu/100", "qemu", "pve2", "running", 0),
    }
    nodes = pve_http.data("GET", "/cluster/resources", params={"type": "node"})
    assert sorted(n["id"] for n in nodes) == ["node/pve1", "node/pve2"]
    storages = pve_http.data("GET", "/cluster/resources", params={"type": "storage"})
    assert "storage/pve1/local-lvm" in {s["id"] for s in storages}


def test_vm_list_and_status_current(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 20, memory_mib=2048, cores=2, running=True, tags="x")
    (item,) = pve_http.data("GET", "/nodes/pve1/qemu")
    assert (item["vmid"], item["name"], item["status"]) == (100, "web", "running")
    status = pve_http.data("GET", "/nodes/pve1/qemu/100/status/current")
    assert status["maxmem"] == 2048 * 1024**2
    assert status["maxdisk"] == 20 * GIB
    assert status["cpus"] == 2
    assert status["qmpstatus"] == "running"
    assert status["ha"] == {"managed": 0}
    assert status["tags"] == "x"
    assert "lock" not in status


# --- clone -----------------------------------------------------------------------------------


def test_clone_target_carries_lock_clone_while_the_task_runs(pve_sim, pve_http, template):
    pve_sim.knobs.set_task_duration("qmclone", 30)
    upid = _clone(pve_http, name="web-1")
    assert upid.split(":")[5:7] == ["qmclone", "9000"]  # the id is the *source* vmid
    config = pve_http.data("GET", "/nodes/pve1/qemu/100/config")
    assert config["lock"] == "clone"
    status = pve_http.data("GET", "/nodes/pve1/qemu/100/status/current")
    assert status["lock"] == "clone"
    refused = pve_http.request("POST", "/nodes/pve1/qemu/100/config", data={"cores": 2})
    assert (refused.status_code, refused.reason) == (500, "VM is locked (clone)")
    assert "lock" not in pve_http.data("GET", "/nodes/pve1/qemu/9000/config")  # source unlocked
    pve_sim.reset()


def test_full_clone_copies_config_with_new_identity(pve_sim, pve_http, template):
    upid = _clone(pve_http, name="web-1", storage="local-lvm", description="customer 7")
    assert pve_http.wait(upid)["exitstatus"] == "OK"
    source = pve_http.data("GET", "/nodes/pve1/qemu/9000/config")
    clone = pve_http.data("GET", "/nodes/pve1/qemu/100/config")
    assert "lock" not in clone and "template" not in clone
    assert clone["name"] == "web-1"
    assert clone["description"] == "customer 7"
    assert clone["scsi0"] == "local-lvm:vm-100-disk-0,iothread=1,size=10G"
    assert clone["ide2"] == "local-lvm:vm-100-cloudinit,media=cdrom"
    assert (clone["cores"], clone["memory"], clone["ciuser"]) == (1, "2048", "debian")
    src_mac = re.search(r"virtio=([0-9A-F:]{17})", source["net0"])[1]
    new_mac = re.search(r"virtio=([0-9A-F:]{17})", clone["net0"])[1]
    assert new_mac != src_mac and new_mac.startswith("BC:24:11")
    assert clone["smbios1"] != source["smbios1"]
    content = pve_http.data("GET", "/nodes/pve1/storage/local-lvm/content", params={"vmid": 100})
    assert {c["volid"] for c in content} == {
        "local-lvm:vm-100-disk-0",
        "local-lvm:vm-100-cloudinit",
    }
    assert any(line.startswith("transferred ") for line in pve_http.log(upid))


def test_clone_of_template_is_linked_by_default(pve_sim, pve_http, template):
    upid = pve_http.data("POST", "/nodes/pve1/qemu/9000/clone", data={"newid": 100})
    pve_http.wait(upid)
    clone = pve_http.data("GET", "/nodes/pve1/qemu/100/config")
    assert clone["scsi0"].startswith("local-lvm:base-9000-disk-0/vm-100-disk-0,")
    assert clone["name"] == "Copy-of-VM-debian-12"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"newid": 100, "full": 0, "storage": "local-lvm"},
            "parameter 'storage' not allowed for linked clones",
        ),
        ({"newid": 9000, "full": 1}, "unable to create VM 9000: config file already exists"),
        (
            {"newid": 100, "full": 1, "target": "pve2"},
            "can't clone VM to node 'pve2' (VM uses local storage)",
        ),
        ({"newid": 100, "full": 1, "storage": "nope"}, "storage 'nope' does not exist"),
    ],
)
def test_clone_checks_fail_the_http_call(pve_http, template, params, message):
    response = pve_http.request("POST", "/nodes/pve1/qemu/9000/clone", data=params)
    assert (response.status_code, response.reason) == (500, message)
    assert response.json()["message"] == message + "\n"


def test_clone_of_a_locked_source_is_refused(pve_sim, pve_http, template):
    template.config["lock"] = "backup"
    response = pve_http.request("POST", "/nodes/pve1/qemu/9000/clone", data={"newid": 100})
    assert (response.status_code, response.reason) == (500, "VM is locked (backup)")


def test_failed_clone_removes_the_half_made_vm(pve_sim, pve_http, template):
    pve_sim.knobs.fail_next_tasks("qmclone", message="clone failed: storage error")
    upid = _clone(pve_http)
    assert pve_http.wait(upid)["exitstatus"] == "clone failed: storage error"
    assert pve_http.request("GET", "/nodes/pve1/qemu/100/config").status_code == 500
    assert pve_http.data("GET", "/nodes/pve1/storage/local-lvm/content", params={"vmid": 100}) == []


# --- config ----------------------------------------------------------------------------------


def test_config_put_is_synchronous_and_returns_null(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    response = pve_http.request(
        "PUT", "/nodes/pve1/qemu/100/config", data={"cores": 4, "memory": "4096", "delete": "tags"}
    )
    assert response.json() == {"data": None}
    config = pve_http.data("GET", "/nodes/pve1/qemu/100/config")
    assert (config["cores"], config["memory"]) == (4, "4096")


def test_config_post_is_async_and_returns_a_qmconfig_upid(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    upid = pve_http.data("POST", "/nodes/pve1/qemu/100/config", data={"cores": 3})
    assert upid.split(":")[5:7] == ["qmconfig", "100"]
    assert pve_http.wait(upid)["exitstatus"] == "OK"
    assert pve_http.data("GET", "/nodes/pve1/qemu/100/config")["cores"] == 3


def test_config_post_background_delay_returns_null_when_done(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    response = pve_http.request(
        "POST", "/nodes/pve1/qemu/100/config", data={"cores": 3, "background_delay": 30}
    )
    assert response.json() == {"data": None}


def test_digest_mismatch_is_refused(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    digest = pve_http.data("GET", "/nodes/pve1/qemu/100/config")["digest"]
    assert re.fullmatch(r"[0-9a-f]{40}", digest)
    pve_http.data("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2, "digest": digest})
    stale = pve_http.request(
        "PUT", "/nodes/pve1/qemu/100/config", data={"cores": 3, "digest": digest}
    )
    assert (stale.status_code, stale.reason) == (
        500,
        "checksum mismatch (file change by other user?)",  # qemu-server be8c868f
    )


def test_no_options_and_skiplock_are_refused(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    empty = pve_http.request("PUT", "/nodes/pve1/qemu/100/config", data={})
    assert (empty.status_code, empty.reason) == (500, "no options specified")
    skip = pve_http.request("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2, "skiplock": 1})
    assert skip.status_code == 400
    assert skip.json()["errors"] == {"skiplock": "Only root may use this option."}


def test_cipassword_is_hidden_and_sshkeys_kept_encoded(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0 me@host"
    from urllib.parse import quote

    pve_http.data(
        "PUT",
        "/nodes/pve1/qemu/100/config",
        data={"cipassword": "s3cret", "sshkeys": quote(key, safe="")},
    )
    config = pve_http.data("GET", "/nodes/pve1/qemu/100/config")
    assert config["cipassword"] == "**********"
    assert config["sshkeys"] == quote(key, safe="")
    assert "s3cret" not in str(pve_sim.state.to_dict())


def test_running_vm_keeps_cpu_and_memory_pending_until_restart(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10, cores=1, memory_mib=1024, running=True)
    pve_http.data(
        "PUT", "/nodes/pve1/qemu/100/config", data={"cores": 4, "memory": "4096", "name": "new"}
    )
    assert pve_http.data("GET", "/nodes/pve1/qemu/100/config")["cores"] == 4  # pending values
    current = pve_http.data("GET", "/nodes/pve1/qemu/100/config", params={"current": 1})
    assert (current["cores"], current["memory"], current["name"]) == (1, "1024", "new")
    assert pve_http.data("GET", "/nodes/pve1/qemu/100/status/current")["cpus"] == 1
    pve_http.wait(pve_http.data("POST", "/nodes/pve1/qemu/100/status/reboot"))
    status = pve_http.data("GET", "/nodes/pve1/qemu/100/status/current")
    assert (status["cpus"], status["maxmem"]) == (4, 4096 * 1024**2)


# --- locks -----------------------------------------------------------------------------------


def test_lock_window_makes_sync_config_writes_fail_with_pve_text(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 101, "web", 10)
    pve_sim.knobs.lock_vm(101, 60)
    response = pve_http.request("PUT", "/nodes/pve1/qemu/101/config", data={"cores": 2})
    assert response.status_code == 500
    assert response.reason == LOCK_FILE_ERROR.format(vmid=101)
    assert response.json() == {"data": None, "message": LOCK_FILE_ERROR.format(vmid=101) + "\n"}
    pve_sim.knobs.unlock_vm(101)
    assert pve_http.request("PUT", "/nodes/pve1/qemu/101/config", data={"cores": 2}).ok


def test_lock_window_fails_async_tasks_behind_200(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    pve_sim.knobs.lock_vm(100, 60)
    upid = pve_http.data(
        "PUT", "/nodes/pve1/qemu/100/resize", data={"disk": "scsi0", "size": "20G"}
    )
    assert pve_http.wait(upid)["exitstatus"] == LOCK_FILE_ERROR.format(vmid=100)
    assert pve_http.log(upid)[-1] == "TASK ERROR: " + LOCK_FILE_ERROR.format(vmid=100)


def test_writer_waits_for_a_flock_holder_and_then_succeeds(pve_sim, pve_http):
    """A sync PUT during a task holding the flock waits for it (PVE waits up to 10 s)."""
    pve_sim.add_vm("pve1", 100, "web", 10)
    upid = pve_http.data(
        "PUT", "/nodes/pve1/qemu/100/resize", data={"disk": "scsi0", "size": "20G"}
    )
    assert pve_http.request("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2}).ok
    assert pve_http.wait(upid)["exitstatus"] == "OK"
    assert pve_sim.vm(100).config["cores"] == 2


def test_writer_gives_up_when_the_flock_is_held_past_its_timeout(pve_sim, pve_http):
    """With lock_timeout_s 0 the waiting writer times out at once: PVE's lock error text."""
    pve_sim.add_vm("pve1", 100, "web", 10)
    pve_sim.knobs.update({"lock_timeout_s": 0.0})
    pve_sim.knobs.set_task_duration("resize", 30)
    pve_http.data("PUT", "/nodes/pve1/qemu/100/resize", data={"disk": "scsi0", "size": "20G"})
    response = pve_http.request("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2})
    assert response.reason == LOCK_FILE_ERROR.format(vmid=100)
    pve_sim.reset()


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("PUT", "/nodes/pve1/qemu/100/config", {"cores": 2}),
        ("POST", "/nodes/pve1/qemu/100/config", {"cores": 2}),
        ("POST", "/nodes/pve1/qemu/100/clone", {"newid": 200}),
    ],
)
def test_config_lock_refuses_sync_paths_with_http_500(pve_sim, pve_http, method, path, data):
    vm = pve_sim.add_vm("pve1", 100, "web", 10)
    vm.config["lock"] = "backup"
    response = pve_http.request(method, path, data=data)
    assert (response.status_code, response.reason) == (500, "VM is locked (backup)")
    assert response.json()["message"] == "VM is locked (backup)\n"


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("PUT", "/nodes/pve1/qemu/100/resize", {"disk": "scsi0", "size": "20G"}),
        ("POST", "/nodes/pve1/qemu/100/status/start", None),
        ("POST", "/nodes/pve1/qemu/100/status/stop", None),
        ("DELETE", "/nodes/pve1/qemu/100", None),
    ],
)
def test_config_lock_fails_these_inside_the_task(pve_sim, pve_http, method, path, data):
    vm = pve_sim.add_vm("pve1", 100, "web", 10)
    vm.config["lock"] = "backup"
    upid = pve_http.data(method, path, data=data)
    assert pve_http.wait(upid)["exitstatus"] == "VM is locked (backup)"
    assert pve_sim.vm(100) is not None


# --- resize ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("20G", "20G"),
        ("+5G", "15G"),
        ("10752M", "10752M"),
        ("1T", "1T"),
        ("11010048K", "10752M"),
        ("+0.5G", "10752M"),
    ],
)
def test_resize_grows_with_binary_units(pve_sim, pve_http, size, expected):
    pve_sim.add_vm("pve1", 100, "web", 10)
    upid = pve_http.data("PUT", "/nodes/pve1/qemu/100/resize", data={"disk": "scsi0", "size": size})
    assert upid.split(":")[5:7] == ["resize", "100"]
    assert pve_http.wait(upid)["exitstatus"] == "OK"
    scsi0 = pve_http.data("GET", "/nodes/pve1/qemu/100/config")["scsi0"]
    assert scsi0.endswith(f",size={expected}")


def test_shrink_fails_the_task_not_the_call(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    response = pve_http.request(
        "PUT", "/nodes/pve1/qemu/100/resize", data={"disk": "scsi0", "size": "5G"}
    )
    assert response.status_code == 200
    upid = response.json()["data"]
    assert pve_http.wait(upid)["exitstatus"] == "shrinking disks is not supported"
    assert pve_http.log(upid) == ["TASK ERROR: shrinking disks is not supported"]
    assert pve_sim.vm(100).config["scsi0"].endswith("size=10G")


def test_resize_to_the_same_size_is_a_silent_success(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    upid = pve_http.data(
        "PUT", "/nodes/pve1/qemu/100/resize", data={"disk": "scsi0", "size": "10G"}
    )
    assert pve_http.wait(upid)["exitstatus"] == "OK"
    assert pve_http.log(upid) == ["TASK OK"]


@pytest.mark.parametrize(
    ("disk", "message"),
    [("scsi1", "disk 'scsi1' does not exist"), ("ide2", "you can't resize a cdrom")],
)
def test_resize_disk_errors_are_task_errors(pve_sim, pve_http, disk, message):
    pve_sim.add_vm("pve1", 100, "web", 10)
    upid = pve_http.data("PUT", "/nodes/pve1/qemu/100/resize", data={"disk": disk, "size": "20G"})
    assert pve_http.wait(upid)["exitstatus"] == message


def test_resize_of_a_missing_vm_fails_inside_the_task(pve_http):
    upid = pve_http.data(
        "PUT", "/nodes/pve1/qemu/555/resize", data={"disk": "scsi0", "size": "20G"}
    )
    assert pve_http.wait(upid)["exitstatus"] == (
        "Configuration file 'nodes/pve1/qemu-server/555.conf' does not exist"
    )


# --- destroy ---------------------------------------------------------------------------------


def test_destroy_removes_vm_and_disks(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    upid = pve_http.data(
        "DELETE", "/nodes/pve1/qemu/100", params={"purge": 1, "destroy-unreferenced-disks": 1}
    )
    assert upid.split(":")[5:7] == ["qmdestroy", "100"]
    assert pve_http.wait(upid)["exitstatus"] == "OK"
    assert pve_sim.vm(100) is None
    assert pve_http.data("GET", "/nodes/pve1/storage/local-lvm/content", params={"vmid": 100}) == []


def test_destroy_of_a_running_vm_is_refused(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10, running=True)
    response = pve_http.request("DELETE", "/nodes/pve1/qemu/100")
    assert (response.status_code, response.reason) == (500, "VM 100 is running - destroy failed")


def test_destroy_of_a_protected_vm_is_refused(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10, config={"protection": 1})
    response = pve_http.request("DELETE", "/nodes/pve1/qemu/100")
    assert response.reason == "can't remove VM 100 - protection mode enabled"


# --- power -----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["reboot", "reset", "suspend", "resume"])
def test_actions_needing_a_running_vm_fail_the_call(pve_sim, pve_http, action):
    pve_sim.add_vm("pve1", 100, "web", 10)
    response = pve_http.request("POST", f"/nodes/pve1/qemu/100/status/{action}")
    assert (response.status_code, response.reason) == (500, "VM 100 not running")


def test_power_cycle_task_types_and_states(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    for action, task_type, status in [
        ("start", "qmstart", "running"),
        ("suspend", "qmsuspend", "running"),
        ("resume", "qmresume", "running"),
        ("reboot", "qmreboot", "running"),
        ("shutdown", "qmshutdown", "stopped"),
        ("stop", "qmstop", "stopped"),
    ]:
        upid = pve_http.data("POST", f"/nodes/pve1/qemu/100/status/{action}")
        assert upid.split(":")[5] == task_type
        assert pve_http.wait(upid)["exitstatus"] == "OK", action
        assert pve_http.data("GET", "/nodes/pve1/qemu/100/status/current")["status"] == status


def test_start_errors_are_task_errors(pve_sim, pve_http, template):
    pve_sim.add_vm("pve1", 100, "web", 10, running=True)
    upid = pve_http.data("POST", "/nodes/pve1/qemu/100/status/start")
    assert pve_http.wait(upid)["exitstatus"] == "VM 100 already running"
    upid = pve_http.data("POST", "/nodes/pve1/qemu/9000/status/start")
    assert pve_http.wait(upid)["exitstatus"] == "you can't start a vm if it's a template"


def test_paused_vm_cannot_shutdown(pve_sim, pve_http):
    vm = pve_sim.add_vm("pve1", 100, "web", 10, running=True)
    vm.paused = True
    response = pve_http.request("POST", "/nodes/pve1/qemu/100/status/shutdown")
    assert (response.status_code, response.reason) == (500, "VM is paused - cannot shutdown")
    forced = pve_http.request("POST", "/nodes/pve1/qemu/100/status/shutdown", data={"forceStop": 1})
    assert forced.status_code == 200
