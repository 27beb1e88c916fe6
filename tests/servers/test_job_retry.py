"""Retrying a failed job: a new job of the same kind, same server, same parameters, recorded
through the same service, so every check runs again; the steps skip what PVE already holds."""

import pytest
from django.core.exceptions import ValidationError

from panel.jobs import JobConflict, job_retry
from panel.models import AuditEntry, Job, JobKind, JobState
from proxmox.units import GIB, drive_size_bytes
from servers import services
from servers.models import Server, ServerStatus
from tests.fixtures.worker import wait_for_job

RESIZE_PUT = "PUT /nodes/{node}/qemu/{vmid}/resize"
CLONE_POST = "POST /nodes/{node}/qemu/{vmid}/clone"


def _failed(kind, server, **fields) -> Job:
    return Job.objects.create(
        kind=kind,
        state=JobState.FAILED,
        server=server,
        target_name=server.name if server else "gone",
        error="it broke",
        **fields,
    )


def _message(info) -> str:
    return " ".join(info.value.messages)


# --- on the real worker and the simulator -------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_failed_resize_is_retried_and_succeeds(
    celery_worker_process, pve_sim, server, customer, staff_user
):
    pve_sim.knobs.fail_next_tasks("resize", 1, "lvresize: Insufficient free space")
    failed = wait_for_job(
        services.server_resize(server=server, user=customer, memory_mib=4096, disk_gib=40),
        worker=celery_worker_process,
    )
    assert failed.state == JobState.FAILED

    retried = job_retry(job=failed, user=staff_user)

    assert (retried.kind, retried.server_id, retried.pk != failed.pk) == (
        JobKind.RESIZE,
        server.pk,
        True,
    )
    # Memory reached PVE in the failed job; only the disk is still to do.
    assert retried.params["disk_gib"] == 40 and "memory_mib" not in retried.params
    retried = wait_for_job(retried, worker=celery_worker_process)
    assert retried.state == JobState.SUCCEEDED, retried.error
    config = pve_sim.vm(server.vmid).merged_config()
    assert drive_size_bytes(config["scsi0"]) == 40 * GIB and int(config["memory"]) == 4096
    assert pve_sim.calls[RESIZE_PUT] == 2  # the failed attempt and the retry, nothing more
    server.refresh_from_db()
    # The running VM keeps the memory for its next start (PVE holds it pending).
    assert (server.memory_mib, server.pending_memory_mib) == (2048, 4096)
    assert (server.disk_gib, server.status) == (40, ServerStatus.RUNNING)
    failed.refresh_from_db()
    assert failed.state == JobState.FAILED and failed.result["retried_as"] == str(retried.pk)
    audit = AuditEntry.objects.get(action="job_retried")
    assert (audit.job_id, audit.actor, audit.details["retry_of"]) == (
        retried.pk,
        staff_user,
        str(failed.pk),
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_failed_create_is_retried_by_a_create_that_skips_what_pve_holds(
    celery_worker_process, pve_sim, node, template, plan, customer, staff_user, order_server
):
    pve_sim.knobs.fail_next_tasks("qmstart", 1, "start failed: QEMU exited with code 1")
    failed = wait_for_job(
        order_server(
            name="retry-me", cpu_cores=2, memory_mib=1024, disk_gib=15, password="a-long-password"
        ),
        worker=celery_worker_process,
    )
    assert failed.state == JobState.FAILED and "QEMU exited" in failed.error
    server = Server.objects.get(pk=failed.server_id)
    assert server.status == ServerStatus.ERROR

    retried = job_retry(job=failed, user=staff_user)

    assert (retried.kind, retried.server_id) == (JobKind.CREATE, server.pk)
    assert Server.objects.count() == 1  # the same server, not a new one
    server.refresh_from_db()
    assert server.status == ServerStatus.PROVISIONING
    retried = wait_for_job(retried, worker=celery_worker_process)
    assert retried.state == JobState.SUCCEEDED, retried.error
    steps = {s["name"]: s["state"] for s in retried.steps}
    assert steps == {
        "clone": "skipped",
        "configure": "skipped",  # PVE holds every value; the password went in the first time
        "resize_disk": "skipped",
        "start": "done",
        "finish": "done",
    }
    assert pve_sim.calls[CLONE_POST] == 1 and pve_sim.calls[RESIZE_PUT] == 1
    assert pve_sim.calls["PUT /nodes/{node}/qemu/{vmid}/config"] == 1  # nothing written twice
    assert pve_sim.vm(server.vmid).status == "running"
    assert pve_sim.vm(server.vmid).merged_config().get("cipassword")  # set by the first attempt
    server.refresh_from_db()
    assert (server.status, server.cpu_cores, server.memory_mib, server.disk_gib) == (
        ServerStatus.RUNNING,
        2,
        1024,
        15,
    )


# --- refusals: validation only, nothing reaches PVE -----------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "state", [JobState.SUCCEEDED, JobState.QUEUED, JobState.RUNNING, JobState.CANCELLED]
)
def test_only_a_failed_job_can_be_retried(offline_server, staff_user, state):
    job = Job.objects.create(
        kind=JobKind.RESIZE, state=state, server=offline_server, params={"disk_gib": 40}
    )
    with pytest.raises(ValidationError) as info:
        job_retry(job=job, user=staff_user)
    assert "Only a failed job can be retried" in _message(info)
    assert Job.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [JobKind.RESET_PASSWORD, JobKind.REBUILD])
def test_a_job_whose_password_was_forgotten_is_refused(offline_server, staff_user, kind):
    job = _failed(kind, offline_server, params={"password_encrypted": ""})
    with pytest.raises(ValidationError) as info:
        job_retry(job=job, user=staff_user)
    assert "enter the password again" in _message(info)
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_retried_resize_that_is_now_a_shrink_is_refused(offline_server, staff_user):
    job = _failed(JobKind.RESIZE, offline_server, params={"disk_gib": 30})
    Server.objects.filter(pk=offline_server.pk).update(disk_gib=40)  # grown since by someone
    with pytest.raises(ValidationError) as info:
        job_retry(job=job, user=staff_user)
    assert "Disks can only grow" in _message(info)
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_job_whose_server_is_gone_is_refused(offline_server, staff_user):
    job = _failed(JobKind.RESIZE, offline_server, params={"disk_gib": 30})
    offline_server.delete()
    job.refresh_from_db()
    with pytest.raises(ValidationError) as info:
        job_retry(job=job, user=staff_user)
    assert "is gone" in _message(info)


@pytest.mark.django_db
def test_a_job_is_retried_once_and_never_beside_an_active_job(offline_server, staff_user):
    job = _failed(JobKind.RESIZE, offline_server, params={"cpu_cores": 4})
    blocker = Job.objects.create(kind=JobKind.POWER, server=offline_server)
    with pytest.raises(JobConflict):
        job_retry(job=job, user=staff_user)
    job.refresh_from_db()
    assert "retried_as" not in job.result  # the refused retry left no trace
    Job.objects.filter(pk=blocker.pk).update(state=JobState.SUCCEEDED)

    retried = job_retry(job=job, user=staff_user)
    assert (retried.kind, retried.state, retried.params["cpu_cores"]) == (
        JobKind.RESIZE,
        JobState.QUEUED,
        4,
    )
    Job.objects.filter(pk=retried.pk).update(state=JobState.FAILED)
    with pytest.raises(ValidationError) as info:
        job_retry(job=job, user=staff_user)
    assert f"already retried as job {retried.pk}" in _message(info)


@pytest.mark.django_db
def test_a_failed_create_with_later_jobs_is_not_retried(offline_server, staff_user):
    create = _failed(JobKind.CREATE, offline_server, params={"template_id": None})
    Job.objects.create(kind=JobKind.POWER, state=JobState.SUCCEEDED, server=offline_server)
    with pytest.raises(ValidationError) as info:
        job_retry(job=create, user=staff_user)
    assert "Other jobs ran on this server" in _message(info)


@pytest.mark.django_db
def test_a_retried_power_job_keeps_its_action(offline_server, staff_user):
    job = _failed(JobKind.POWER, offline_server, params={"action": "reboot"})
    retried = job_retry(job=job, user=staff_user)
    assert (retried.kind, retried.params, retried.server_id) == (
        JobKind.POWER,
        {"action": "reboot"},
        offline_server.pk,
    )
