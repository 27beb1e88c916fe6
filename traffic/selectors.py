"""Reading traffic: a server's quota as it applies (plan, staff's override), its totals for a
billing period, and the usage the server page, admin and API show."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from proxmox.units import GIB
from servers.models import Server
from traffic.models import (
    PlanTrafficQuota,
    ServerTrafficOverride,
    TrafficHour,
    TrafficPeriod,
    TrafficPolicy,
)
from traffic.periods import BillingPeriod, billing_period


@dataclass(frozen=True)
class TrafficQuota:
    quota_bytes: int
    policy: str
    throttle_mb_s: object  # Decimal


def traffic_quota_for_server(*, server: Server) -> TrafficQuota | None:
    """The quota that applies to ``server``: staff's override (another quota, or exempt: None),
    else its plan's; None when it has none (unlimited)."""
    override = ServerTrafficOverride.objects.filter(server=server).first()
    if override is not None and override.exempt:
        return None
    plan_quota = PlanTrafficQuota.objects.filter(plan_id=server.plan_id).first()
    quota_gib = override.quota_gib if override is not None else None
    if quota_gib is None and plan_quota is not None:
        quota_gib = plan_quota.quota_gib
    if quota_gib is None:
        return None
    if plan_quota is None:
        plan_quota = PlanTrafficQuota()  # an override on a plan without one: the defaults
    return TrafficQuota(
        quota_bytes=quota_gib * GIB,
        policy=plan_quota.policy,
        throttle_mb_s=plan_quota.throttle_mb_s,
    )


def traffic_totals(*, server: Server, period: BillingPeriod) -> tuple[int, int]:
    """(in, out) bytes ``server`` moved in ``period``."""
    totals = TrafficHour.objects.filter(
        server=server, hour__gte=period.start, hour__lt=period.end
    ).aggregate(in_bytes=Sum("in_bytes"), out_bytes=Sum("out_bytes"))
    return int(totals["in_bytes"] or 0), int(totals["out_bytes"] or 0)


@dataclass(frozen=True)
class TrafficUsage:
    """One server's traffic in one billing period, as people read it."""

    period: BillingPeriod
    in_bytes: int
    out_bytes: int
    quota_bytes: int | None
    policy: str
    # What the quota did this period: "" (nothing), "throttle" or "suspend".
    enforcement: str

    @property
    def total_bytes(self) -> int:
        return self.in_bytes + self.out_bytes

    @property
    def used_percent(self) -> int | None:
        if not self.quota_bytes:
            return None
        return int(self.total_bytes * 100 // self.quota_bytes)

    @property
    def policy_label(self) -> str:
        return TrafficPolicy(self.policy).label if self.policy else ""


def traffic_usage(*, server: Server, period: BillingPeriod | None = None) -> TrafficUsage:
    period = period or billing_period()
    in_bytes, out_bytes = traffic_totals(server=server, period=period)
    quota = traffic_quota_for_server(server=server)
    row = TrafficPeriod.objects.filter(server=server, starts_on=period.starts_on).first()
    return TrafficUsage(
        period=period,
        in_bytes=in_bytes,
        out_bytes=out_bytes,
        quota_bytes=quota.quota_bytes if quota else None,
        policy=quota.policy if quota else "",
        enforcement=(row.enforcement if row and row.enforced_at and not row.restored_at else ""),
    )


def servers_for_usage(*, user):
    """The servers whose traffic ``user`` may read: through the one tenant filter."""
    return Server.objects.restrict(user).select_related("plan")
