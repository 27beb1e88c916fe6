"""The real PveClient and waiting helpers against the simulator, over HTTPS with pinning."""

from __future__ import annotations

import pytest

from proxmox.errors import PveLockError, PveTaskFailed, PveTaskLockError
from proxmox.upid import parse_upid
from proxmox.waiting import retry_on_lock, wait_for_task, wait_until_unlocked

GIB = 1024**3


def test_clone_configure_with_lock_retry_resize_delete(pve_sim, pve_client):
    pve_sim.add_template("pve1", 9000, "debian-12", 10)
    vmid = pve_client.next_vmid()

    upid = pve_client.vm_clone("pve1", 9000, newid=vmid, name="web-1", storage="local-lvm")
    assert parse_upid(upid).type == "qmclone"
    assert wait_for_task(pve_client, upid, timeout_s=60).exitstatus == "OK"
    assert wait_until_unlocked(pve_client, "pve1", vmid, timeout_s=30)["name"] == "web-1"

    # Another process holds the VM's lock file for a while: the sync config write must be
    # retried until it gets through, and only lock errors may be retried.
    pve_sim.knobs.lock_vm(vmid, 1.5)
    retries = []
    retry_on_lock(
        lambda: pve_client.vm_config_update("pve1", vmid, cores=4, memory=4096, ciuser="admin"),
        deadline_s=30,
        base_delay_s=0.2,
        on_retry=lambda attempt, exc, delay: retries.append(exc.message),
    )
    assert retries, "the lock window should have refused at least one attempt"
    assert set(retries) == {
        f"can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout"
    }
    config = pve_client.vm_config("pve1", vmid)
    assert (config["cores"], config["memory"], config["ciuser"]) == (4, "4096", "admin")

    upid = pve_client.vm_resize("pve1", vmid, disk="scsi0", size=25)
    assert wait_for_task(pve_client, upid, timeout_s=60).exitstatus == "OK"
    assert pve_client.vm_status("pve1", vmid)["maxdisk"] == 25 * GIB
    # the same absolute size again (a retried step) changes nothing and succeeds
    upid = pve_client.vm_resize("pve1", vmid, disk="scsi0", size=25)
    assert wait_for_task(pve_client, upid, timeout_s=60).exitstatus == "OK"

    upid = pve_client.vm_power("pve1", vmid, "start")
    wait_for_task(pve_client, upid, timeout_s=60)
    upid = pve_client.vm_power("pve1", vmid, "stop")
    wait_for_task(pve_client, upid, timeout_s=60)

    upid = pve_client.vm_delete("pve1", vmid)
    assert wait_for_task(pve_client, upid, timeout_s=60).exitstatus == "OK"
    assert vmid not in {vm["vmid"] for vm in pve_client.vm_list("pve1")}


def test_lock_error_inside_a_task_reaches_the_client_as_task_lock_error(pve_sim, pve_client):
    pve_sim.add_vm("pve1", 100, "web", 10)
    pve_sim.knobs.lock_vm(100, 60)
    upid = pve_client.vm_resize("pve1", 100, disk="scsi0", size=20)
    with pytest.raises(PveTaskLockError) as excinfo:
        wait_for_task(pve_client, upid, timeout_s=30)
    assert (
        excinfo.value.exitstatus
        == "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout"
    )


def test_config_lock_is_a_lock_error_for_the_client(pve_sim, pve_client):
    vm = pve_sim.add_vm("pve1", 100, "web", 10)
    vm.config["lock"] = "backup"
    with pytest.raises(PveLockError) as excinfo:
        pve_client.vm_config_update("pve1", 100, cores=2)
    assert str(excinfo.value.message) == "VM is locked (backup)"


def test_shrink_reaches_the_client_as_a_failed_task(pve_sim, pve_client):
    pve_sim.add_vm("pve1", 100, "web", 10)
    upid = pve_client.vm_resize("pve1", 100, disk="scsi0", size=5)
    with pytest.raises(PveTaskFailed) as excinfo:
        wait_for_task(pve_client, upid, timeout_s=30)
    assert excinfo.value.exitstatus == "shrinking disks is not supported"


def test_backup_list_and_restore_through_the_client(pve_sim, pve_client):
    pve_sim.add_vm("pve1", 100, "web", 10)
    upid = pve_client.vzdump("pve1", vmid=100, storage="local", notes_template="{{guestname}}")
    wait_for_task(pve_client, upid, timeout_s=60)
    (backup,) = pve_client.storage_content("pve1", "local", content="backup", vmid=100)
    upid = pve_client.vm_restore("pve1", vmid=100, archive=backup["volid"], force=True)
    assert wait_for_task(pve_client, upid, timeout_s=60).exitstatus == "OK"
    upid = pve_client.storage_content_delete("pve1", "local", backup["volid"])
    assert wait_for_task(pve_client, upid, timeout_s=60).exitstatus == "OK"
    assert pve_client.storage_content("pve1", "local", content="backup") == []


def test_sshkeys_survive_the_double_encoding_pve_expects(pve_sim, pve_client):
    from urllib.parse import unquote

    pve_sim.add_vm("pve1", 100, "web", 10)
    keys = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0 alice@laptop\nssh-rsa AAAAB3NzaC1yc2E bob@desk"
    pve_client.vm_config_update("pve1", 100, sshkeys=keys, ciuser="alice", cipassword="pw")
    config = pve_client.vm_config("pve1", 100)
    assert unquote(config["sshkeys"]) == keys  # PVE stores (and returns) the URI-encoded text
    assert config["cipassword"] == "**********"
