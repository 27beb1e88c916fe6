"""The job lifecycle services: creation and the one-active-job rule, leases, steps, the sweeper.

These run in-process (no worker): the services are plain functions over the Job row.
"""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from panel import jobs
from panel.jobs import JobConflict, JobDefinition, JobTask, StepDef, job_create
from panel.models import AuditEntry, Job, JobKind, JobState
from panel.selectors import job_get_for_user, jobs_for_user
from servers.models import Server, ServerStatus

pytestmark = pytest.mark.django_db

# The engine's own tests run handlers they pass in (job_run_task's ``handlers``); the declared
# ones are never called here.
RESIZE_TASK = JobTask("servers.tasks.resize", wait_s=60)
START_TASK = JobTask("servers.tasks.start", wait_s=60)
STEPS = (
    StepDef("configure", "Configure", RESIZE_TASK, handler=lambda run: None),
    StepDef("resize_disk", "Resize", RESIZE_TASK, handler=lambda run: None),
    StepDef("finish", "Finish", START_TASK, handler=lambda run: None),
)


def _job(server, user, **kw):
    return job_create(
        definition=JobDefinition(kind=kw.pop("kind", JobKind.RESIZE), steps=STEPS),
        server=server,
        requested_by=user,
        params={},
        **kw,
    )


def test_job_create_records_tenant_and_pending_steps(offline_server, staff_user):
    job = _job(offline_server, staff_user)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
    assert job.owner == offline_server.owner  # the tenant is the server's owner, not the asker
    assert job.requested_by == staff_user
    assert job.target_name == offline_server.name
    assert [s["name"] for s in job.steps] == ["configure", "resize_disk", "finish"]
    assert {s["state"] for s in job.steps} == {"pending"}


def test_second_active_job_on_a_server_is_refused_with_the_active_job(offline_server, customer):
    first = _job(offline_server, customer)
    with pytest.raises(JobConflict) as info:
        _job(offline_server, customer, kind=JobKind.POWER)
    assert info.value.active_job.pk == first.pk
    assert Job.objects.filter(server=offline_server).count() == 1


def test_conflict_inside_an_outer_transaction_leaves_it_usable(offline_server, customer):
    _job(offline_server, customer)
    with transaction.atomic():
        with pytest.raises(JobConflict):
            _job(offline_server, customer)
        # The savepoint was rolled back, not the whole transaction.
        assert Server.objects.filter(pk=offline_server.pk).exists()


def test_the_database_itself_refuses_two_active_jobs(offline_server, customer):
    Job.objects.create(kind=JobKind.RESIZE, server=offline_server, state=JobState.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(kind=JobKind.POWER, server=offline_server, state=JobState.QUEUED)


def test_a_finished_job_does_not_block_the_next(offline_server, customer):
    first = _job(offline_server, customer)
    Job.objects.filter(pk=first.pk).update(state=JobState.SUCCEEDED)
    second = _job(offline_server, customer)
    assert second.pk != first.pk


def test_job_start_takes_a_lease_that_blocks_a_duplicate_delivery(offline_server, customer):
    job = _job(offline_server, customer)
    claimed = jobs.job_start(job_id=job.pk)
    assert claimed is not None and claimed.state == JobState.RUNNING and claimed.attempts == 1
    # A second delivery while the first is alive does nothing.
    assert jobs.job_start(job_id=job.pk) is None
    # Once the lease is handed back (between the tasks of a chain), the next task claims it.
    jobs.job_release(job=claimed)
    again = jobs.job_start(job_id=job.pk)
    assert again is not None and again.lease_token != claimed.lease_token
    assert again.attempts == 1  # a chain's next task is not a new attempt


def test_a_stale_lease_can_be_taken_over_and_the_old_holder_learns_it(
    offline_server, customer, settings
):
    job = _job(offline_server, customer)
    old = jobs.job_start(job_id=job.pk)
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    )
    new = jobs.job_start(job_id=job.pk)
    assert new is not None
    with pytest.raises(jobs.JobLeaseLost):
        jobs.job_heartbeat(job=old)
    with pytest.raises(jobs.JobLeaseLost):
        jobs.job_step_begin(job=old, step="configure")


def test_finished_jobs_are_never_claimed(offline_server, customer):
    job = _job(offline_server, customer)
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED)
    assert jobs.job_start(job_id=job.pk) is None


def test_steps_record_upid_before_waiting_and_progress(offline_server, customer):
    job = jobs.job_start(job_id=_job(offline_server, customer).pk)
    jobs.job_step_begin(job=job, step="configure")
    jobs.job_step_done(job=job, step="configure")
    jobs.job_step_begin(job=job, step="resize_disk")
    upid = "UPID:pve1:00001234:00005678:6740A1B2:resize:4242:panel@pve!panel:"
    jobs.job_step_record_upid(job=job, step="resize_disk", upid=upid, node="pve1")
    row = Job.objects.get(pk=job.pk)
    assert row.upid == upid and row.upid_node == "pve1"
    assert row.current_step == "resize_disk"
    steps = {s["name"]: s for s in row.steps}
    assert steps["configure"]["state"] == "done"
    assert steps["resize_disk"] == {**steps["resize_disk"], "state": "running", "upid": upid}
    assert 0 < row.progress < 100


def test_run_task_runs_only_its_own_steps_in_order(offline_server, customer):
    job = _job(offline_server, customer)
    ran = []
    handlers = {name: (lambda run, n=name: ran.append(n)) for name in ("configure", "resize_disk")}
    # The start task's step comes after the resize task's: a start delivered first does nothing.
    jobs.job_run_task(job_id=job.pk, task_name="servers.tasks.start", handlers={})
    assert ran == []
    jobs.job_run_task(job_id=job.pk, task_name="servers.tasks.resize", handlers=handlers)
    assert ran == ["configure", "resize_disk"]
    row = Job.objects.get(pk=job.pk)
    assert row.state == JobState.RUNNING and row.lease_token == ""  # handed on to the next task
    jobs.job_run_task(
        job_id=job.pk,
        task_name="servers.tasks.start",
        handlers={"finish": lambda run: ran.append("finish")},
    )
    row = Job.objects.get(pk=job.pk)
    assert ran == ["configure", "resize_disk", "finish"]
    assert row.state == JobState.SUCCEEDED and row.progress == 100 and row.finished_at


def test_a_failing_step_fails_the_job_with_the_message_and_traceback(offline_server, customer):
    from proxmox.errors import PveTaskFailed

    job = _job(offline_server, customer)

    def boom(run):
        raise PveTaskFailed("UPID:x", "resize failed: storage full", ["line 1", "TASK ERROR: x"])

    jobs.job_run_task(
        job_id=job.pk,
        task_name="servers.tasks.resize",
        handlers={"configure": lambda run: None, "resize_disk": boom},
    )
    row = Job.objects.get(pk=job.pk)
    assert row.state == JobState.FAILED
    assert "resize failed: storage full" in row.error
    assert row.task_log.endswith("TASK ERROR: x")
    assert "PveTaskFailed" in row.traceback
    assert {s["name"]: s["state"] for s in row.steps} == {
        "configure": "done",
        "resize_disk": "failed",
        "finish": "pending",
    }


def test_sweeper_resumes_a_job_whose_worker_died(offline_server, customer, settings):
    job = jobs.job_start(job_id=_job(offline_server, customer).pk)
    jobs.job_step_begin(job=job, step="configure")
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 1)
    )
    outcome = jobs.jobs_sweep()
    assert outcome == [(str(job.pk), "resumed")]
    row = Job.objects.get(pk=job.pk)
    assert row.state == JobState.RUNNING and row.lease_token == "" and row.attempts == 2
    assert AuditEntry.objects.filter(job=row, action="job_resumed").exists()
    # A fresh job is left alone.
    assert jobs.jobs_sweep() == []


def test_sweeper_fails_a_job_resumed_too_often_with_a_reason(offline_server, customer, settings):
    job = jobs.job_start(job_id=_job(offline_server, customer).pk)
    Job.objects.filter(pk=job.pk).update(
        attempts=settings.JOB_MAX_RESUMES + 1,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 1),
    )
    assert jobs.jobs_sweep() == [(str(job.pk), "failed")]
    row = Job.objects.get(pk=job.pk)
    assert row.state == JobState.FAILED
    assert "stopped" in row.error and "giving up" in row.error
    # The failure hook left the server truthful: PVE unreachable -> error with the reason.
    offline_server.refresh_from_db()
    assert offline_server.status == ServerStatus.ERROR
    assert "giving up" in offline_server.status_reason


def test_customers_see_only_their_own_jobs(offline_server, customer, other_customer, staff_user):
    mine = _job(offline_server, customer)
    assert list(jobs_for_user(user=customer)) == [mine]
    assert list(jobs_for_user(user=other_customer)) == []
    assert list(jobs_for_user(user=staff_user)) == [mine]
    with pytest.raises(Job.DoesNotExist):
        job_get_for_user(user=other_customer, job_id=mine.pk)
    assert job_get_for_user(user=customer, job_id=mine.pk) == mine


def test_job_create_records_the_declared_steps_that_apply_with_their_labels(
    offline_server, customer
):
    definition = JobDefinition(
        kind=JobKind.POWER,
        steps=(
            StepDef("power", lambda p: f"Power: {p['action']}", START_TASK, lambda run: None),
            StepDef("grow", "Grow", RESIZE_TASK, lambda run: None, when=lambda p: "disk_gib" in p),
            StepDef("finish", "Finish", START_TASK, lambda run: None),
        ),
    )
    job = job_create(
        definition=definition,
        server=offline_server,
        requested_by=customer,
        params={"action": "reboot"},
    )
    assert job.kind == JobKind.POWER
    assert [(s["name"], s["label"], s["task"]) for s in job.steps] == [
        ("power", "Power: reboot", "servers.tasks.start"),
        ("finish", "Finish", "servers.tasks.start"),
    ]


def test_a_job_kind_is_declared_once():
    from django.core.exceptions import ImproperlyConfigured

    declared = jobs.job_definition(kind=JobKind.RESIZE)
    jobs.register_job_definitions(declared)  # the same declaration again changes nothing
    with pytest.raises(ImproperlyConfigured):
        jobs.register_job_definitions(JobDefinition(kind=JobKind.RESIZE, steps=STEPS))
    assert jobs.job_definition(kind=JobKind.RESIZE) is declared
