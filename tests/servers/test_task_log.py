"""The PVE task log on the Job while a task runs and when it ends: the worker reads it (at most
every couple of seconds, not on every status poll) and stores it; the job page reads only the
row, so watching a job costs PVE nothing."""

import html

import pytest
from django.urls import reverse

from panel.jobs import StepRun
from panel.models import Job, JobKind, JobState
from proxmox.errors import PveTransientError
from proxmox.waiting import wait_for_task
from servers import services
from tests.fixtures.worker import wait_for_job

UPID = "UPID:pve1:0000C346:165A0CE4:68D7279C:resize:101:panel@pve!panel:"
TASK_LOG = "GET /nodes/{node}/tasks/{upid}/log"
HTMX = {"HTTP_HX_REQUEST": "true"}


# --- unit level: a fake clock, a scripted PVE ---------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class ScriptedPve:
    """Stands in for PveClient: a task that runs for ``runs_for_s`` of the fake clock."""

    def __init__(self, clock: FakeClock, *, runs_for_s: float, log_fails: bool = False):
        self.clock = clock
        self.ends_at = clock.now + runs_for_s
        self.log_fails = log_fails
        self.status_calls = 0
        self.log_calls = 0

    def task_status(self, node, upid):
        self.status_calls += 1
        if self.clock.now >= self.ends_at:
            return {"status": "stopped", "exitstatus": "OK"}
        return {"status": "running"}

    def task_log_tail(self, node, upid, *, lines=50):
        self.log_calls += 1
        if self.log_fails and self.clock.now < self.ends_at:
            raise PveTransientError("connection reset")
        if self.clock.now >= self.ends_at:
            return ["working", "TASK OK"]
        return ["working", f"at {self.clock.now - 1000:.0f} s"]


@pytest.fixture
def running_job(offline_server):
    return Job.objects.create(
        kind=JobKind.RESIZE,
        state=JobState.RUNNING,
        server=offline_server,
        lease_token="held",
        steps=[
            {
                "name": "resize_disk",
                "label": "Grow the disk",
                "task": "t",
                "state": "running",
                "upid": UPID,
                "upid_node": "pve1",
            }
        ],
    )


def _wait(pve, clock, run):
    follower = run.follow_task_log(
        lambda: pve.task_log_tail("pve1", UPID, lines=50), every_s=2.0, clock=clock
    )
    return wait_for_task(
        pve,
        UPID,
        timeout_s=600,
        clock=clock,
        sleep=clock.sleep,
        on_poll=follower,
        first_interval_s=0.05,
        max_interval_s=0.25,
    )


@pytest.mark.django_db
def test_the_log_is_read_every_two_seconds_not_on_every_poll(running_job):
    clock = FakeClock()
    pve = ScriptedPve(clock, runs_for_s=20.0)
    run = StepRun(job=running_job, name="resize_disk")
    stored = []
    original = run.store_task_log
    run.store_task_log = lambda lines: (stored.append(list(lines)), original(lines))

    result = _wait(pve, clock, run)

    assert result.exitstatus == "OK"
    assert pve.status_calls > 60  # polled every 0.25 s of the fake clock
    live_reads = pve.log_calls - 1  # the last read is the wait's own final tail
    assert live_reads in (9, 10)  # one per 2 s of a 20 s task
    assert len(stored) == live_reads
    running_job.refresh_from_db()
    assert running_job.task_log == "\n".join(stored[-1]) and "TASK OK" not in running_job.task_log


@pytest.mark.django_db
def test_a_log_that_cannot_be_read_does_not_fail_the_wait(running_job):
    clock = FakeClock()
    pve = ScriptedPve(clock, runs_for_s=7.0, log_fails=True)
    result = _wait(pve, clock, StepRun(job=running_job, name="resize_disk"))
    assert result.exitstatus == "OK" and result.log_tail == ["working", "TASK OK"]
    assert pve.log_calls == 4  # three refused live reads, then the final tail
    running_job.refresh_from_db()
    assert running_job.task_log == ""  # nothing read while it ran; the step stores the tail


# --- on the real worker and the simulator -------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_successful_resize_keeps_the_task_log_ending_in_task_ok(
    celery_worker_process, pve_sim, server, customer, staff_user, client
):
    job = wait_for_job(
        services.server_resize(server=server, user=customer, disk_gib=40),
        worker=celery_worker_process,
    )
    assert job.state == JobState.SUCCEEDED, job.error
    lines = job.task_log.splitlines()
    assert lines[-1] == "TASK OK"
    assert any("successfully resized" in line for line in lines)
    task = next(t for t in pve_sim.state.tasks.values() if t.type == "resize")
    assert lines == task.log[-len(lines) :]  # the simulator's own lines, as PVE wrote them

    # Staff read PVE's log (customers never do: it names nodes, storages and task ids).
    client.force_login(staff_user)
    calls_before = sum(pve_sim.calls.values())
    page = client.get(reverse("job-panel", args=[job.pk]), **HTMX).content.decode()
    assert "TASK OK" in page and "successfully resized" in html.unescape(page)
    assert sum(pve_sim.calls.values()) == calls_before
    client.force_login(customer)
    page = client.get(reverse("job-panel", args=[job.pk]), **HTMX).content.decode()
    assert "TASK OK" not in page and "successfully resized" not in html.unescape(page)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_task_log_shows_while_the_task_runs(
    celery_worker_process, pve_sim, node, template, plan, staff_user, client, order_server
):
    pve_sim.knobs.set_task_duration("qmclone", 6.0)
    job = order_server(name="watched")
    seen = wait_for_job(
        job, worker=celery_worker_process, until=lambda row: row.task_log or row.is_finished
    )
    assert seen.state == JobState.RUNNING and seen.current_step == "clone"
    assert "create full clone" in seen.task_log and "TASK OK" not in seen.task_log

    client.force_login(staff_user)
    calls_before = pve_sim.calls.copy()
    page = client.get(reverse("job-panel", args=[job.pk]), **HTMX).content.decode()
    assert "create full clone" in page
    # Watching the job asks PVE nothing: whatever PVE heard meanwhile came from the worker.
    assert pve_sim.calls[TASK_LOG] - calls_before[TASK_LOG] <= 1

    done = wait_for_job(job, worker=celery_worker_process)
    assert done.state == JobState.SUCCEEDED, done.error
    assert done.task_log.splitlines()[-1] == "TASK OK"
