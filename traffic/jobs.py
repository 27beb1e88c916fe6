"""The traffic quota's job kinds, one declaration each (registered in ``TrafficConfig.ready()``):
limiting a server's network speed once it used its monthly quota, and lifting the limit when the
next period begins. A suspension is the servers app's own ``suspend``/``unsuspend`` kinds."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied

from panel.jobs import JobDefinition, JobTask, StepDef, job_create, job_definition, job_dispatch
from panel.models import AuditEntry, JobKind
from traffic.steps import step_set_nic_rate

# The Celery task that writes the NIC's rate (traffic.tasks.set_nic_rate): a config write.
SET_NIC_RATE = JobTask(
    name="traffic.tasks.set_nic_rate", wait_s=settings.PROXMOX_TASK_TIMEOUTS_S["configure"]
)


def traffic_job_retry(*, job, user):
    """Staff record the same change again (the step finds what PVE holds and does the rest)."""
    if not getattr(user, "is_staff", False):
        raise PermissionDenied("Only staff can retry the traffic quota's jobs.")
    new_job = job_create(
        definition=job_definition(kind=job.kind),
        server=job.server,
        requested_by=user,
        params=job.params,
    )
    AuditEntry.objects.create(
        actor=user,
        action=f"server_{job.kind}",
        object_repr=job.target_name,
        job=new_job,
        details=new_job.params,
    )
    job_dispatch(job=new_job)
    return new_job


THROTTLE_JOB = JobDefinition(
    kind=JobKind.TRAFFIC_THROTTLE,
    steps=(
        StepDef(
            "set_rate",
            lambda params: f"Limit the network to {params['rate_mb_s']} MB/s (traffic quota used)",
            SET_NIC_RATE,
            step_set_nic_rate,
        ),
    ),
    retry=traffic_job_retry,
)

UNTHROTTLE_JOB = JobDefinition(
    kind=JobKind.TRAFFIC_UNTHROTTLE,
    steps=(
        StepDef(
            "set_rate",
            "Lift the network speed limit (new traffic period)",
            SET_NIC_RATE,
            step_set_nic_rate,
            kwargs={"lift": True},
        ),
    ),
    retry=traffic_job_retry,
)

JOB_DEFINITIONS = (THROTTLE_JOB, UNTHROTTLE_JOB)
