"""The monthly quota: after each sample, warn at ``TRAFFIC_WARN_PERCENT`` and at 100 % (once per
period each: an e-mail to the owner and an audit entry), then enforce the plan's policy once per
period (a throttle job, or the servers app's ``server_suspend``), and lift what was enforced once
the next period has begun.

"Once" is the ``TrafficPeriod`` row (one per server and period): each notice and each enforcement
is claimed by setting its timestamp on the row where it is still empty, in the same transaction
that records the job, so a beat delivered twice, or two samplers at once, do it once. An
enforcement refused because another job runs on the server is not recorded: the next sample tries
again.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from panel.jobs import JobConflict, job_create, job_definition, job_dispatch
from panel.models import AuditEntry, Job, JobKind, JobState
from proxmox.units import GIB
from servers.models import Server
from servers.services import server_suspend, server_unsuspend
from traffic.models import TrafficPeriod, TrafficPolicy
from traffic.periods import BillingPeriod, billing_period
from traffic.selectors import TrafficQuota, traffic_quota_for_server, traffic_totals

logger = logging.getLogger(__name__)


def _gib(size_bytes: int) -> str:
    return f"{size_bytes / GIB:.1f} GiB"


def _notify(*, server: Server, row: TrafficPeriod, field: str, percent: int, used: int, quota):
    """Claim the notice ``field`` on ``row`` and, if this call claimed it, audit and mail it."""
    now = timezone.now()
    if not TrafficPeriod.objects.filter(pk=row.pk, **{f"{field}__isnull": True}).update(
        **{field: now}
    ):
        return False
    setattr(row, field, now)
    AuditEntry.objects.create(
        action="traffic_quota_reached" if percent >= 100 else "traffic_quota_warning",
        object_repr=str(server),
        details={
            "period": str(row.starts_on),
            "percent": percent,
            "used_bytes": used,
            "quota_bytes": quota.quota_bytes,
        },
    )
    owner = server.owner
    if owner.email:
        if percent >= 100:
            then = (
                "Its network speed is now limited"
                if quota.policy == TrafficPolicy.THROTTLE
                else "It is now suspended"
            )
            subject = f"{server.name} has used its monthly traffic"
            body = (
                f"Your server {server.name} has moved {_gib(used)} this period, its whole "
                f"quota of {_gib(quota.quota_bytes)}. {then} until the next period begins."
            )
        else:
            subject = f"{server.name} has used {percent} % of its monthly traffic"
            body = (
                f"Your server {server.name} has moved {_gib(used)} of its "
                f"{_gib(quota.quota_bytes)} this period."
            )

        def send() -> None:
            try:
                send_mail(subject, body, None, [owner.email])
            except Exception:  # the notice is audited; a mail server down fails nothing else
                logger.exception("traffic: could not mail %s about %s", owner.email, server)

        transaction.on_commit(send)
    return True


def _throttle_job(*, server: Server, period: BillingPeriod, rate_mb_s: Decimal) -> Job:
    job = job_create(
        definition=job_definition(kind=JobKind.TRAFFIC_THROTTLE),
        server=server,
        requested_by=None,
        params={"rate_mb_s": str(rate_mb_s), "period": str(period.starts_on)},
    )
    AuditEntry.objects.create(
        action="server_traffic_throttle",
        object_repr=str(server),
        job=job,
        details=job.params,
    )
    job_dispatch(job=job)
    return job


def _enforce(*, server: Server, row: TrafficPeriod, quota: TrafficQuota, period) -> None:
    """The plan's policy, once per period; not recorded (tried again) while another job runs."""
    reason = f"traffic quota of {_gib(quota.quota_bytes)} reached (period {period.starts_on})"
    try:
        with transaction.atomic():
            locked = TrafficPeriod.objects.select_for_update().get(pk=row.pk)
            if locked.enforced_at is not None:
                return
            job = None
            if quota.policy == TrafficPolicy.THROTTLE:
                job = _throttle_job(server=server, period=period, rate_mb_s=quota.throttle_mb_s)
            elif not server.is_suspended:  # already suspended by staff: theirs to lift, not ours
                job = server_suspend(server=server, user=None, reason=reason)
            locked.enforcement = quota.policy
            locked.enforced_at = timezone.now()
            locked.enforcement_job = job
            locked.save(update_fields=["enforcement", "enforced_at", "enforcement_job"])
    except JobConflict:
        logger.info("traffic: %s busy; enforcing at the next sample", server)
    except ValidationError as exc:
        logger.warning("traffic: could not enforce the quota on %s: %s", server, exc)


def _restore(*, server: Server, row: TrafficPeriod) -> None:
    """Lift what an earlier period's enforcement did, once: the NIC's rate as it was, or the
    suspension (only one the quota made)."""
    job = row.enforcement_job
    if job is not None:
        job.refresh_from_db()
        if job.state in (JobState.QUEUED, JobState.RUNNING):
            return  # wait for it to end
    with transaction.atomic():
        locked = TrafficPeriod.objects.select_for_update().get(pk=row.pk)
        if locked.restored_at is not None:
            return
        restore_job = None
        try:
            if job is not None and job.state == JobState.SUCCEEDED:
                restore_job = _restore_job(server=server, row=locked, enforced_by=job)
        except JobConflict:
            logger.info("traffic: %s busy; lifting the quota's limit at the next sample", server)
            return
        locked.restored_at = timezone.now()
        locked.restore_job = restore_job
        locked.save(update_fields=["restored_at", "restore_job"])


def _restore_job(*, server: Server, row: TrafficPeriod, enforced_by: Job) -> Job | None:
    reason = f"new traffic period: lifting the limit of the period {row.starts_on}"
    if row.enforcement == TrafficPolicy.SUSPEND:
        server.refresh_from_db(fields=["is_suspended"])
        if not server.is_suspended:
            return None  # staff lifted it already
        return server_unsuspend(server=server, user=None, reason=reason)
    result = enforced_by.result or {}
    if not result.get("rate_changed"):
        return None  # the NIC was limited more tightly already; nothing was changed
    job = job_create(
        definition=job_definition(kind=JobKind.TRAFFIC_UNTHROTTLE),
        server=server,
        requested_by=None,
        params={
            "throttled_rate_mb_s": result["rate_mb_s"],
            "restore_rate_mb_s": result.get("previous_rate_mb_s"),
            "period": str(row.starts_on),
        },
    )
    AuditEntry.objects.create(
        action="server_traffic_unthrottle", object_repr=str(server), job=job, details=job.params
    )
    job_dispatch(job=job)
    return job


def traffic_quota_enforce(*, server: Server, now=None) -> None:
    """Lift the enforcements of earlier periods, then warn and enforce for the current one."""
    period = billing_period(now)
    for row in TrafficPeriod.objects.filter(
        server=server,
        starts_on__lt=period.starts_on,
        enforced_at__isnull=False,
        restored_at__isnull=True,
    ).select_related("enforcement_job"):
        _restore(server=server, row=row)
    quota = traffic_quota_for_server(server=server)
    if quota is None or quota.quota_bytes <= 0:
        return
    used = sum(traffic_totals(server=server, period=period))
    warn_at = quota.quota_bytes * settings.TRAFFIC_WARN_PERCENT // 100
    if used < warn_at:
        return
    row, _ = TrafficPeriod.objects.get_or_create(server=server, starts_on=period.starts_on)
    with transaction.atomic():
        _notify(
            server=server,
            row=row,
            field="warned_at",
            percent=settings.TRAFFIC_WARN_PERCENT,
            used=used,
            quota=quota,
        )
    if used < quota.quota_bytes:
        return
    with transaction.atomic():
        _notify(server=server, row=row, field="exceeded_at", percent=100, used=used, quota=quota)
    if row.enforced_at is None:
        _enforce(server=server, row=row, quota=quota, period=period)
