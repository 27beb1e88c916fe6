"""Each lifecycle operation end to end: service -> Job -> broker -> real worker -> simulator.

Assertions are on what the simulator's VM holds afterwards and on the rows the panel stores.
"""

from urllib.parse import unquote

import pytest

from panel.models import Job, JobState
from proxmox.units import GIB, drive_size_bytes
from servers import services
from servers.models import Server, ServerStatus
from servers.steps import has_marker
from tests.fixtures.worker import wait_for_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0dGVzdGtleQ alice@laptop"


def vm_config(pve_sim, vmid) -> dict:
    vm = pve_sim.vm(vmid)
    assert vm is not None, f"VM {vmid} is not on the simulator"
    return vm.merged_config()


def disk_gib_on_sim(pve_sim, vmid) -> float:
    return drive_size_bytes(vm_config(pve_sim, vmid)["scsi0"]) / GIB


def succeeded(job, worker) -> Job:
    job = wait_for_job(job, worker=worker)
    assert job.state == JobState.SUCCEEDED, (job.error, job.steps, worker.log_tail())
    return job


def test_create_clones_configures_resizes_and_starts(
    celery_worker_process, pve_sim, node, template, plan, customer, order_server
):
    job = order_server(
        name="Web",
        hostname="web1.example.com",
        cpu_cores=2,
        memory_mib=3072,
        disk_gib=25,
        password="a-long-password",
        ssh_keys=SSH_KEY,
    )
    job = succeeded(job, celery_worker_process)
    server = Server.objects.get(pk=job.server_id)
    config = vm_config(pve_sim, server.vmid)
    assert (int(config["cores"]), int(config["memory"])) == (2, 3072)
    assert config["name"] == "web1.example.com"
    assert disk_gib_on_sim(pve_sim, server.vmid) == 25
    assert has_marker(config, server) and "panel" in config["tags"].split(";")
    assert config["ipconfig0"] == "ip=dhcp" and config["ciuser"]
    assert unquote(config["sshkeys"]).strip() == SSH_KEY
    assert config.get("cipassword")  # set before the first boot
    assert pve_sim.vm(server.vmid).status == "running"
    # The row holds what PVE confirmed.
    assert (server.cpu_cores, server.memory_mib, server.disk_gib) == (2, 3072, 25)
    assert server.status == ServerStatus.RUNNING
    assert job.params["password_encrypted"] == ""  # the secret is gone once PVE has it
    assert [s["state"] for s in job.steps] == ["done"] * 5
    assert all(
        s["upid"].startswith("UPID:pve1:")
        for s in job.steps
        if s["name"] != "finish" and s["name"] != "configure"
    )


def test_resize_changes_cores_memory_and_grows_the_disk(
    celery_worker_process, pve_sim, server_factory, customer
):
    # A stopped VM takes every change at once; a running one keeps cores and memory pending
    # until its next start (tests/servers/test_pending.py).
    server = server_factory(running=False)
    job = services.server_resize(
        server=server, user=customer, cpu_cores=4, memory_mib=4096, disk_gib=40
    )
    succeeded(job, celery_worker_process)
    config = vm_config(pve_sim, server.vmid)
    assert (int(config["cores"]), int(config["memory"])) == (4, 4096)
    assert disk_gib_on_sim(pve_sim, server.vmid) == 40
    server.refresh_from_db()
    assert (server.cpu_cores, server.memory_mib, server.disk_gib) == (4, 4096, 40)
    assert server.status == ServerStatus.STOPPED
    assert pve_sim.calls["PUT /nodes/{node}/qemu/{vmid}/resize"] == 1


def test_a_resize_pve_already_holds_is_not_sent_again(
    celery_worker_process, pve_sim, server, customer
):
    # PVE already has the 30 GiB (say, an earlier attempt applied it); the panel's row lags.
    pve_sim.vm(server.vmid).config["scsi0"] = (
        pve_sim.vm(server.vmid).config["scsi0"].replace("size=20G", "size=30G")
    )
    job = succeeded(
        services.server_resize(server=server, user=customer, disk_gib=30), celery_worker_process
    )
    assert pve_sim.calls["PUT /nodes/{node}/qemu/{vmid}/resize"] == 0
    assert {s["name"]: s["state"] for s in job.steps}["resize_disk"] == "skipped"
    server.refresh_from_db()
    assert server.disk_gib == 30


@pytest.mark.parametrize(
    ("running", "action", "after"),
    [
        (True, "stop", "stopped"),
        (True, "shutdown", "stopped"),
        (False, "start", "running"),
        (True, "reboot", "running"),
    ],
)
def test_power_actions(
    celery_worker_process, pve_sim, server_factory, customer, running, action, after
):
    server = server_factory(running=running)
    succeeded(
        services.server_power(server=server, user=customer, action=action), celery_worker_process
    )
    assert pve_sim.vm(server.vmid).status == after
    server.refresh_from_db()
    assert server.status == after


def test_delete_destroys_the_vm_and_keeps_the_job(celery_worker_process, pve_sim, server, customer):
    vmid, name = server.vmid, server.name
    job = succeeded(services.server_delete(server=server, user=customer), celery_worker_process)
    assert pve_sim.vm(vmid) is None
    assert not Server.objects.filter(pk=server.pk).exists()
    assert job.server_id is None and job.target_name == name and job.owner == customer
    assert not any(
        f"vm-{vmid}-" in v for v in pve_sim.state.nodes["pve1"].storages["local-lvm"].volumes
    )  # purged


def test_rebuild_reinstalls_from_the_template_under_the_same_vmid(
    celery_worker_process, pve_sim, server, template, customer
):
    pve_sim.vm(server.vmid).config["ciuser"] = "was-here-before"
    job = succeeded(
        services.server_rebuild(
            server=server, user=customer, template=template, password="fresh-password"
        ),
        celery_worker_process,
    )
    config = vm_config(pve_sim, server.vmid)
    assert config["ciuser"] != "was-here-before"  # a new VM, not the old one
    assert has_marker(config, server)
    assert (int(config["cores"]), int(config["memory"])) == (2, 2048)
    assert disk_gib_on_sim(pve_sim, server.vmid) == 20
    assert pve_sim.vm(server.vmid).status == "running"
    assert pve_sim.calls["POST /nodes/{node}/qemu/{vmid}/clone"] == 1
    server.refresh_from_db()
    assert server.status == ServerStatus.RUNNING and job.params["password_encrypted"] == ""


def test_reset_password_writes_cloud_init_and_reboots(
    celery_worker_process, pve_sim, server, customer
):
    before = vm_config(pve_sim, server.vmid).get("cipassword")
    succeeded(
        services.server_reset_password(server=server, user=customer, password="brand-new-pw"),
        celery_worker_process,
    )
    after = vm_config(pve_sim, server.vmid).get("cipassword")
    assert after and after != before
    assert pve_sim.calls["POST /nodes/{node}/qemu/{vmid}/status/reboot"] == 1


def test_suspend_then_unsuspend(celery_worker_process, pve_sim, server, staff_user, customer):
    succeeded(services.server_suspend(server=server, user=staff_user), celery_worker_process)
    server.refresh_from_db()
    assert server.is_suspended and server.status == ServerStatus.SUSPENDED
    assert pve_sim.vm(server.vmid).status == "stopped"
    succeeded(services.server_unsuspend(server=server, user=staff_user), celery_worker_process)
    server.refresh_from_db()
    assert not server.is_suspended and server.status == ServerStatus.RUNNING
    assert pve_sim.vm(server.vmid).status == "running"


def test_sync_stores_what_pve_holds_and_records_the_drift(
    celery_worker_process, pve_sim, server, staff_user
):
    pve_sim.vm(server.vmid).config["cores"] = 6
    job = succeeded(services.server_sync(server=server, user=staff_user), celery_worker_process)
    server.refresh_from_db()
    assert server.cpu_cores == 6
    assert job.result["drift"] == {"cpu_cores": {"panel": 2, "pve": 6}}


def test_sync_of_a_vm_gone_from_pve_marks_the_server_error(
    celery_worker_process, pve_sim, server, staff_user
):
    with pve_sim.state.lock:
        del pve_sim.state.nodes["pve1"].vms[server.vmid]
    job = wait_for_job(
        services.server_sync(server=server, user=staff_user), worker=celery_worker_process
    )
    assert job.state == JobState.FAILED and "does not exist" in job.error
    assert job.result["drift"] == {"vm": "missing"}
    server.refresh_from_db()
    assert server.status == ServerStatus.ERROR and "does not exist" in server.status_reason
