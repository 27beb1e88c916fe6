"""Crash safety: a worker SIGKILLed mid-job, and duplicate deliveries of a running job."""

import pytest

from config.celery import app
from panel.jobs import jobs_sweep
from panel.models import JobState
from proxmox.units import GIB, drive_size_bytes
from servers import services
from tests.fixtures.worker import wait_for_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RESIZE = "PUT /nodes/{node}/qemu/{vmid}/resize"


def _resize_upid_recorded(job) -> bool:
    return any(s["name"] == "resize_disk" and s["upid"] for s in job.steps)


def test_worker_killed_mid_resize_resumes_and_resizes_exactly_once(
    celery_worker_process, pve_sim, server, customer
):
    worker = celery_worker_process
    pve_sim.knobs.set_task_duration("resize", 4.0)  # long enough to die in the middle of it
    job = services.server_resize(server=server, user=customer, disk_gib=50)
    running = wait_for_job(job, until=_resize_upid_recorded, worker=worker)
    assert running.state == JobState.RUNNING

    worker.kill()  # SIGKILL to the worker and its pool: no cleanup, no ack
    worker.start()
    # The sweeper (beat runs it every minute) finds the job without a live heartbeat; we know the
    # worker is dead, so treat any heartbeat as stale instead of waiting JOB_STALE_AFTER_S.
    assert (str(job.pk), "resumed") in jobs_sweep(stale_after_s=0)

    job = wait_for_job(job, worker=worker)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.attempts == 2
    # The resumed step waited on the recorded UPID instead of resizing again.
    assert pve_sim.calls[RESIZE] == 1
    assert drive_size_bytes(pve_sim.vm(server.vmid).merged_config()["scsi0"]) == 50 * GIB
    server.refresh_from_db()
    assert server.disk_gib == 50


def test_a_duplicate_delivery_of_a_running_job_does_nothing(
    celery_worker_process, pve_sim, server, customer
):
    pve_sim.knobs.set_task_duration("resize", 3.0)
    job = services.server_resize(server=server, user=customer, disk_gib=30)
    wait_for_job(job, until=_resize_upid_recorded, worker=celery_worker_process)
    # As if the broker delivered the message again (visibility timeout, a restored unacked message).
    app.signature("servers.tasks.resize", args=(str(job.pk),)).apply_async()
    app.signature("servers.tasks.resize", args=(str(job.pk),)).apply_async()
    job = wait_for_job(job, worker=celery_worker_process)
    assert job.state == JobState.SUCCEEDED
    assert pve_sim.calls[RESIZE] == 1
    assert job.attempts == 1
    # Both duplicates found the job leased by the live execution and left it alone.
    held = f"job {job.pk} is held by a live execution; this delivery does nothing"
    assert celery_worker_process.log_tail(lines=100_000).count(held) == 2


def test_the_periodic_sweeper_alone_brings_a_crashed_job_to_its_end(
    celery_worker_process, pve_sim, server, customer
):
    """No help from the test: the restarted worker's beat runs the sweep, which finds the job
    without a live heartbeat and resumes it."""
    worker = celery_worker_process
    worker.restart(JOB_STALE_AFTER_S="3")  # heartbeats every second, stale after three
    pve_sim.knobs.set_task_duration("resize", 4.0)
    job = services.server_resize(server=server, user=customer, disk_gib=60)
    wait_for_job(job, until=_resize_upid_recorded, worker=worker)
    worker.kill()
    worker.restart(beat=True, JOBS_SWEEP_INTERVAL_S="1")
    job = wait_for_job(job, worker=worker)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.attempts == 2
    assert pve_sim.calls[RESIZE] == 1
    assert drive_size_bytes(pve_sim.vm(server.vmid).merged_config()["scsi0"]) == 60 * GIB
