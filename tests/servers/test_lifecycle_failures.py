"""The failures the panel exists to get right: lock contention, lock storms, failed PVE tasks,
concurrent requests, and the per-node cap on heavy tasks. Real worker, simulator as PVE."""

import threading
import time

import pytest

from panel.jobs import JobConflict
from panel.models import ACTIVE_JOB_STATES, Job, JobState
from proxmox.units import GIB, drive_size_bytes
from servers import services
from servers.models import Server, ServerStatus
from tests.fixtures.worker import wait_for_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PUT_CONFIG = "PUT /nodes/{node}/qemu/{vmid}/config"


def test_lock_contention_on_configure_after_clone_succeeds_through_retries(
    celery_worker_process, pve_sim, node, template, plan, customer, staff_user
):
    """The seed failure: right after the clone, the VM's lock file is busy (PVE still writing),
    and `PUT .../config` fails with `can't lock file ... got timeout`. The panel retries."""
    vmid = 777
    pve_sim.knobs.set_task_duration("qmclone", 1.5)
    job = services.server_create(
        owner=customer,
        plan=plan,
        node=node,
        template=template,
        name="locked",
        hostname="locked.example.com",
        cpu_cores=3,
        memory_mib=1024,
        disk_gib=12,
        requested_by=staff_user,
        vmid=vmid,
    )
    # As soon as the clone has created the VM, someone else holds its lock file for a while,
    # past the clone's end, so the configure step meets it.
    deadline = time.monotonic() + 60
    while pve_sim.vm(vmid) is None:
        assert time.monotonic() < deadline, "the clone never started"
        time.sleep(0.02)
    pve_sim.knobs.lock_vm(vmid, 5.0)
    job = wait_for_job(job, worker=celery_worker_process)
    assert job.state == JobState.SUCCEEDED, job.error
    assert pve_sim.calls[PUT_CONFIG] >= 2  # at least one refused attempt, then success
    config = pve_sim.vm(vmid).merged_config()
    assert (int(config["cores"]), int(config["memory"])) == (3, 1024)  # not the template's specs
    server = Server.objects.get(pk=job.server_id)
    assert (server.cpu_cores, server.memory_mib, server.disk_gib) == (3, 1024, 12)


def test_a_lock_storm_past_the_deadline_fails_cleanly(
    celery_worker_process, pve_sim, server, customer
):
    celery_worker_process.restart(PROXMOX_LOCK_RETRY_DEADLINE_S="2")
    pve_sim.knobs.lock_vm(server.vmid, 600)
    try:
        job = wait_for_job(
            services.server_resize(server=server, user=customer, cpu_cores=4),
            worker=celery_worker_process,
        )
    finally:
        pve_sim.knobs.unlock_vm(server.vmid)
    assert job.state == JobState.FAILED
    assert "can't lock file" in job.error and "got timeout" in job.error
    assert pve_sim.calls[PUT_CONFIG] >= 2  # it was retried before giving up
    assert int(pve_sim.vm(server.vmid).merged_config()["cores"]) == 2
    server.refresh_from_db()
    # Truthful: PVE did not change, so the old specs stand, with the reason beside them.
    assert server.cpu_cores == 2 and server.status == ServerStatus.RUNNING
    assert "can't lock file" in server.status_reason


def test_a_failed_pve_task_fails_the_job_with_pves_message(
    celery_worker_process, pve_sim, server, customer
):
    message = "lvresize: Insufficient free space: 5120 extents needed, but only 12 available"
    pve_sim.knobs.fail_next_tasks("resize", 1, message)
    job = wait_for_job(
        services.server_resize(server=server, user=customer, memory_mib=4096, disk_gib=40),
        worker=celery_worker_process,
    )
    assert job.state == JobState.FAILED
    assert message in job.error
    assert f"TASK ERROR: {message}" in job.task_log
    assert "PveTaskFailed" in job.traceback
    steps = {s["name"]: s["state"] for s in job.steps}
    assert steps == {"configure": "done", "resize_disk": "failed", "finish": "pending"}
    # Truthful: memory changed on PVE (pending: the VM runs), the disk did not; the row says
    # exactly that.
    config = pve_sim.vm(server.vmid).merged_config()
    assert drive_size_bytes(config["scsi0"]) == 20 * GIB
    server.refresh_from_db()
    assert (server.memory_mib, server.pending_memory_mib, server.disk_gib) == (2048, 4096, 20)
    assert message in server.status_reason


def test_a_failed_clone_leaves_the_server_in_error_with_the_reason(
    celery_worker_process, pve_sim, node, template, plan, customer, order_server
):
    pve_sim.knobs.fail_next_tasks("qmclone", 1, "clone failed: storage 'local-lvm' is offline")
    job = wait_for_job(
        order_server(name="doomed"),
        worker=celery_worker_process,
    )
    assert job.state == JobState.FAILED and "storage 'local-lvm' is offline" in job.error
    server = Server.objects.get(pk=job.server_id)
    assert server.status == ServerStatus.ERROR and "offline" in server.status_reason


def test_two_concurrent_resizes_never_give_two_active_jobs(
    celery_worker_process, pve_sim, server, customer
):
    barrier = threading.Barrier(2)
    outcomes = []

    def request(cores):
        from django.db import connection

        try:
            barrier.wait()
            outcomes.append(services.server_resize(server=server, user=customer, cpu_cores=cores))
        except JobConflict as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(n,)) for n in (3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    jobs = [o for o in outcomes if isinstance(o, Job)]
    conflicts = [o for o in outcomes if isinstance(o, JobConflict)]
    assert len(jobs) == 1 and len(conflicts) == 1
    assert conflicts[0].active_job.pk == jobs[0].pk
    assert Job.objects.filter(server=server, state__in=ACTIVE_JOB_STATES).count() <= 1
    job = wait_for_job(jobs[0], worker=celery_worker_process)
    assert job.state == JobState.SUCCEEDED
    assert int(pve_sim.vm(server.vmid).merged_config()["cores"]) == job.params["cpu_cores"]


def test_the_node_cap_on_heavy_tasks_queues_clones(
    celery_worker_process, pve_sim, node, template, plan, customer, order_server
):
    node.max_concurrent_heavy_tasks = 1
    node.save()
    pve_sim.knobs.set_task_duration("qmclone", 1.0)
    jobs = [order_server(name=f"burst-{n}") for n in range(3)]
    most_clones_at_once = 0
    deadline = time.monotonic() + 120
    while Job.objects.filter(pk__in=[j.pk for j in jobs], state__in=ACTIVE_JOB_STATES).exists():
        assert time.monotonic() < deadline, "the burst did not finish"
        with pve_sim.state.lock:
            running = [
                t
                for t in pve_sim.state.tasks.values()
                if t.type == "qmclone" and t.status == "running"
            ]
        most_clones_at_once = max(most_clones_at_once, len(running))
        time.sleep(0.02)
    assert all(Job.objects.get(pk=j.pk).state == JobState.SUCCEEDED for j in jobs)
    assert most_clones_at_once == 1
    assert pve_sim.calls["POST /nodes/{node}/qemu/{vmid}/clone"] == 3


def test_a_server_whose_create_failed_can_be_deleted_without_touching_pve(
    celery_worker_process, pve_sim, node, template, plan, customer, order_server
):
    pve_sim.knobs.fail_next_tasks("qmclone", 1, "clone failed: out of space")
    job = wait_for_job(
        order_server(name="half"),
        worker=celery_worker_process,
    )
    server = Server.objects.get(pk=job.server_id)
    assert server.status == ServerStatus.ERROR
    # Someone else's VM sits on that VMID now: it must survive the delete.
    pve_sim.add_vm("pve1", server.vmid, "not-ours", 8)
    deleted = wait_for_job(
        services.server_delete(server=server, user=customer), worker=celery_worker_process
    )
    assert deleted.state == JobState.SUCCEEDED, deleted.error
    assert not Server.objects.filter(pk=server.pk).exists()
    assert pve_sim.vm(server.vmid) is not None
    assert pve_sim.calls["DELETE /nodes/{node}/qemu/{vmid}"] == 0


def test_delete_refuses_a_vm_that_lost_the_marker(celery_worker_process, pve_sim, server, customer):
    """A confirmed server whose VMID now holds a VM without our marker: never destroyed."""
    pve_sim.vm(server.vmid).config["description"] = "reused by staff"
    job = wait_for_job(
        services.server_delete(server=server, user=customer), worker=celery_worker_process
    )
    assert job.state == JobState.FAILED and "panel marker" in job.error
    assert pve_sim.vm(server.vmid) is not None
    assert pve_sim.calls["DELETE /nodes/{node}/qemu/{vmid}"] == 0
    server.refresh_from_db()
    assert server.status == ServerStatus.ERROR and "marker" in server.status_reason


def test_pve_unreachable_for_a_moment_is_retried_later_not_failed(
    celery_worker_process, pve_sim, server, customer
):
    pve_sim.knobs.fail_next_calls("596", 2, endpoint=PUT_CONFIG)
    job = wait_for_job(
        services.server_resize(server=server, user=customer, cpu_cores=5),
        worker=celery_worker_process,
    )
    assert job.state == JobState.SUCCEEDED, job.error
    configure = next(s for s in job.steps if s["name"] == "configure")
    assert configure["transient_retries"] == 2
    assert int(pve_sim.vm(server.vmid).merged_config()["cores"]) == 5
    assert pve_sim.calls[PUT_CONFIG] == 3
