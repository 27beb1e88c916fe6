"""Staff's traffic pages: this period's totals per server (with its quota and what the quota did),
the plans' quotas, per-server overrides, and each period's notices and enforcement jobs."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils.html import format_html

from traffic.models import (
    PlanTrafficQuota,
    ServerTraffic,
    ServerTrafficOverride,
    TrafficPeriod,
)
from traffic.periods import billing_period
from traffic.selectors import traffic_quota_for_server
from traffic.templatetags.traffic_ui import iec_bytes


@admin.register(PlanTrafficQuota)
class PlanTrafficQuotaAdmin(admin.ModelAdmin):
    list_display = ("plan", "quota_gib", "policy", "throttle_mb_s")
    list_select_related = ("plan",)


@admin.register(ServerTrafficOverride)
class ServerTrafficOverrideAdmin(admin.ModelAdmin):
    list_display = ("server", "quota_gib", "exempt", "note")
    list_select_related = ("server",)
    raw_id_fields = ("server",)


def _job_link(job):
    if job is None:
        return "—"
    url = reverse("admin:panel_job_change", args=[job.pk])
    return format_html('<a href="{}">{} ({})</a>', url, job.get_kind_display(), job.state)


@admin.register(TrafficPeriod)
class TrafficPeriodAdmin(admin.ModelAdmin):
    """Read-only: what the quota did, period by period."""

    list_display = (
        "server",
        "starts_on",
        "warned_at",
        "exceeded_at",
        "enforcement",
        "enforced_at",
        "enforcement_job_link",
        "restored_at",
        "restore_job_link",
    )
    list_filter = ("starts_on", "enforcement")
    list_select_related = ("server", "enforcement_job", "restore_job")
    search_fields = ("server__name", "server__hostname")

    @admin.display(description="enforced by")
    def enforcement_job_link(self, obj):
        return _job_link(obj.enforcement_job)

    @admin.display(description="lifted by")
    def restore_job_link(self, obj):
        return _job_link(obj.restore_job)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ServerTraffic)
class ServerTrafficAdmin(admin.ModelAdmin):
    """This billing period's bytes per server, from the hourly counts."""

    list_display = ("name", "owner", "plan", "in_total", "out_total", "total", "quota")
    list_select_related = ("owner", "plan")
    search_fields = ("name", "hostname", "owner__username")
    list_filter = ("plan",)

    def get_queryset(self, request):
        period = billing_period()
        in_period = Q(traffic_hours__hour__gte=period.start, traffic_hours__hour__lt=period.end)
        return (
            super()
            .get_queryset(request)
            .annotate(
                in_bytes=Sum("traffic_hours__in_bytes", filter=in_period, default=0),
                out_bytes=Sum("traffic_hours__out_bytes", filter=in_period, default=0),
            )
        )

    def changelist_view(self, request, extra_context=None):
        period = billing_period()
        extra = {"title": f"Traffic from {period.starts_on} to before {period.next_starts_on}"}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    @admin.display(description="in", ordering="in_bytes")
    def in_total(self, obj):
        return iec_bytes(obj.in_bytes)

    @admin.display(description="out", ordering="out_bytes")
    def out_total(self, obj):
        return iec_bytes(obj.out_bytes)

    @admin.display(description="total")
    def total(self, obj):
        return iec_bytes(obj.in_bytes + obj.out_bytes)

    @admin.display(description="quota")
    def quota(self, obj):
        quota = traffic_quota_for_server(server=obj)
        return iec_bytes(quota.quota_bytes) if quota else "unlimited"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
