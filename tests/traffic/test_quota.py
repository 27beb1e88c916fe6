"""A quota crossing, end to end: the sample on the simulator, notices (mail and audit) once at
80 % and once at 100 %, one enforcement job run by the real worker, and the next period lifting
it. A beat delivered twice does nothing twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from panel.models import AuditEntry, Job, JobKind, JobState
from proxmox.units import GIB
from servers.models import Server
from tests.fixtures.worker import wait_for_job
from traffic.models import PlanTrafficQuota, ServerTrafficOverride, TrafficPeriod, TrafficPolicy
from traffic.periods import billing_period
from traffic.quota import traffic_quota_enforce
from traffic.services import traffic_sample_and_enforce

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

NET0 = "virtio=BC:24:11:2A:00:01,bridge=vmbr0,firewall=1,tag=20"


@pytest.fixture
def quota_server(quiet_sim, server, node, plan):
    quiet_sim.vm(server.vmid).config["net0"] = NET0
    traffic_sample_and_enforce(node_id=node.pk)  # the baseline
    return server


def _move(sim, node, server, gib: float) -> None:
    sim.add_traffic(server.vmid, netin=int(gib * GIB * 0.25), netout=int(gib * GIB * 0.75))
    traffic_sample_and_enforce(node_id=node.pk)


def _succeeded(job, worker) -> Job:
    job = wait_for_job(job, worker=worker)
    assert job.state == JobState.SUCCEEDED, (job.error, job.steps, worker.log_tail())
    return job


def _jobs(server, kind):
    return list(Job.objects.filter(server=server, kind=kind))


def _audits(action):
    return list(AuditEntry.objects.filter(action=action))


def test_throttle_once_per_period_and_lift_at_the_next(
    celery_worker_process, quiet_sim, quota_server, node, plan, mailoutbox
):
    server = quota_server
    PlanTrafficQuota.objects.create(plan=plan, quota_gib=10, throttle_mb_s=Decimal("1.25"))

    _move(quiet_sim, node, server, 7.9)
    assert mailoutbox == [] and _audits("traffic_quota_warning") == []

    _move(quiet_sim, node, server, 0.2)  # 8.1 of 10 GiB
    _move(quiet_sim, node, server, 0.1)  # the next sample: no second notice
    assert [m.subject for m in mailoutbox] == [
        f"{server.name} has used 80 % of its monthly traffic"
    ]
    assert mailoutbox[0].to == [server.owner.email]
    assert len(_audits("traffic_quota_warning")) == 1
    assert _jobs(server, JobKind.TRAFFIC_THROTTLE) == []

    _move(quiet_sim, node, server, 2)  # past 10 GiB
    (throttle,) = _jobs(server, JobKind.TRAFFIC_THROTTLE)
    _succeeded(throttle, celery_worker_process)
    _move(quiet_sim, node, server, 1)
    traffic_quota_enforce(server=server)  # a redelivered beat
    assert len(_jobs(server, JobKind.TRAFFIC_THROTTLE)) == 1
    assert len(mailoutbox) == 2 and "limited" in mailoutbox[1].body
    assert len(_audits("traffic_quota_reached")) == 1
    (audit,) = _audits("server_traffic_throttle")
    assert audit.job_id == throttle.pk

    # Only rate= changed on net0; PVE applies it to the running VM at once.
    vm = quiet_sim.vm(server.vmid)
    assert vm.config["net0"] == NET0 + ",rate=1.25"
    throttle.refresh_from_db()
    assert throttle.result["live"] is True and throttle.result["previous_rate_mb_s"] is None

    next_period = billing_period().end
    traffic_quota_enforce(server=server, now=next_period)
    traffic_quota_enforce(server=server, now=next_period)
    (lift,) = _jobs(server, JobKind.TRAFFIC_UNTHROTTLE)
    _succeeded(lift, celery_worker_process)
    assert quiet_sim.vm(server.vmid).config["net0"] == NET0
    row = TrafficPeriod.objects.get(server=server)
    assert row.enforcement == TrafficPolicy.THROTTLE and row.restore_job_id == lift.pk


def test_suspend_once_per_period_and_unsuspend_at_the_next(
    celery_worker_process, quiet_sim, quota_server, node, plan, mailoutbox
):
    server = quota_server
    PlanTrafficQuota.objects.create(plan=plan, quota_gib=1, policy=TrafficPolicy.SUSPEND)

    _move(quiet_sim, node, server, 1.5)  # 80 % and 100 % in one sample: both notices
    assert [m.subject for m in mailoutbox] == [
        f"{server.name} has used 80 % of its monthly traffic",
        f"{server.name} has used its monthly traffic",
    ]
    (suspend,) = _jobs(server, JobKind.SUSPEND)
    _succeeded(suspend, celery_worker_process)
    assert suspend.requested_by is None and "traffic quota" in suspend.params["reason"]
    assert Server.objects.get(pk=server.pk).is_suspended
    assert quiet_sim.vm(server.vmid).status == "stopped"
    traffic_sample_and_enforce(node_id=node.pk)
    traffic_quota_enforce(server=server)
    assert len(_jobs(server, JobKind.SUSPEND)) == 1

    traffic_quota_enforce(server=server, now=billing_period().end)
    (unsuspend,) = _jobs(server, JobKind.UNSUSPEND)
    _succeeded(unsuspend, celery_worker_process)
    assert not Server.objects.get(pk=server.pk).is_suspended
    assert quiet_sim.vm(server.vmid).status == "running"


def test_staff_exempt_a_server_from_its_plans_quota(
    quiet_sim, quota_server, node, plan, mailoutbox
):
    PlanTrafficQuota.objects.create(plan=plan, quota_gib=1)
    ServerTrafficOverride.objects.create(server=quota_server, exempt=True)
    _move(quiet_sim, node, quota_server, 3)
    assert mailoutbox == [] and not TrafficPeriod.objects.exists()
    assert _jobs(quota_server, JobKind.TRAFFIC_THROTTLE) == []


def test_staff_give_a_server_a_larger_quota(quiet_sim, quota_server, node, plan, mailoutbox):
    PlanTrafficQuota.objects.create(plan=plan, quota_gib=1)
    ServerTrafficOverride.objects.create(server=quota_server, quota_gib=100)
    _move(quiet_sim, node, quota_server, 3)
    assert mailoutbox == []


def test_a_busy_server_is_throttled_at_the_next_sample(
    quiet_sim, quota_server, node, plan, staff_user
):
    from panel.jobs import job_create, job_definition

    PlanTrafficQuota.objects.create(plan=plan, quota_gib=1)
    # Another job on the server (recorded, not queued: no worker may end it under the test).
    busy = job_create(
        definition=job_definition(kind=JobKind.SYNC), server=quota_server, requested_by=staff_user
    )
    _move(quiet_sim, node, quota_server, 2)
    assert _jobs(quota_server, JobKind.TRAFFIC_THROTTLE) == []
    assert TrafficPeriod.objects.get(server=quota_server).enforced_at is None
    Job.objects.filter(pk=busy.pk).update(state=JobState.CANCELLED)
    traffic_sample_and_enforce(node_id=node.pk)
    assert len(_jobs(quota_server, JobKind.TRAFFIC_THROTTLE)) == 1


def test_a_nic_limited_more_tightly_already_is_left_alone_then_and_after(
    celery_worker_process, quiet_sim, quota_server, node, plan
):
    server = quota_server
    tight = NET0 + ",rate=0.5"
    quiet_sim.vm(server.vmid).config["net0"] = tight
    PlanTrafficQuota.objects.create(plan=plan, quota_gib=1, throttle_mb_s=Decimal("1.25"))
    _move(quiet_sim, node, server, 2)
    (throttle,) = _jobs(server, JobKind.TRAFFIC_THROTTLE)
    throttle = _succeeded(throttle, celery_worker_process)
    assert throttle.steps[0]["state"] == "skipped" and throttle.result["rate_changed"] is False
    assert quiet_sim.vm(server.vmid).config["net0"] == tight

    traffic_quota_enforce(server=server, now=billing_period().end)
    assert _jobs(server, JobKind.TRAFFIC_UNTHROTTLE) == []  # nothing of ours to lift
    assert quiet_sim.vm(server.vmid).config["net0"] == tight
    assert TrafficPeriod.objects.get(server=server).restored_at is not None


def test_lifting_leaves_a_rate_staff_changed_since(
    celery_worker_process, quiet_sim, quota_server, node, plan
):
    server = quota_server
    PlanTrafficQuota.objects.create(plan=plan, quota_gib=1)
    _move(quiet_sim, node, server, 2)
    (throttle,) = _jobs(server, JobKind.TRAFFIC_THROTTLE)
    _succeeded(throttle, celery_worker_process)
    quiet_sim.vm(server.vmid).config["net0"] = NET0 + ",rate=50"  # staff, by hand on PVE

    traffic_quota_enforce(server=server, now=billing_period().end)
    (lift,) = _jobs(server, JobKind.TRAFFIC_UNTHROTTLE)
    lift = _succeeded(lift, celery_worker_process)
    assert lift.steps[0]["state"] == "skipped"
    assert quiet_sim.vm(server.vmid).config["net0"] == NET0 + ",rate=50"
