"""What the traffic app records: each server's network bytes per hour (from PVE's netin/netout
counters), the last counter reading the next delta is taken from, the plans' monthly quotas and
staff's per-server overrides, and per billing period whom the panel told and what it enforced."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from servers.models import Server


class TrafficPolicy(models.TextChoices):
    """What happens once a server moved its whole monthly quota."""

    THROTTLE = "throttle", "Limit the network speed until the next period"
    SUSPEND = "suspend", "Suspend the server until the next period"


class PlanTrafficQuota(models.Model):
    """A plan's monthly traffic quota (in and out together) and what happens past it."""

    plan = models.OneToOneField(
        "servers.Plan", on_delete=models.CASCADE, related_name="traffic_quota"
    )
    quota_gib = models.PositiveIntegerField(
        "monthly quota (GiB)",
        null=True,
        blank=True,
        help_text="Incoming and outgoing traffic together, per billing period; empty: unlimited.",
    )
    policy = models.CharField(
        max_length=10, choices=TrafficPolicy.choices, default=TrafficPolicy.THROTTLE
    )
    throttle_mb_s = models.DecimalField(
        "throttled speed (MB/s)",
        max_digits=8,
        decimal_places=2,
        default=Decimal("1.25"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="PVE's NIC rate limit in megabytes per second (1.25 MB/s is 10 Mbit/s).",
    )

    class Meta:
        verbose_name = "plan traffic quota"

    def __str__(self) -> str:
        quota = f"{self.quota_gib} GiB" if self.quota_gib is not None else "unlimited"
        return f"{self.plan}: {quota}, then {self.get_policy_display().lower()}"


class ServerTrafficOverride(models.Model):
    """Staff's exception for one server: another quota than its plan's, or none at all."""

    server = models.OneToOneField(
        "servers.Server", on_delete=models.CASCADE, related_name="traffic_override"
    )
    quota_gib = models.PositiveIntegerField(
        "monthly quota (GiB)",
        null=True,
        blank=True,
        help_text="Instead of the plan's quota; empty: the plan's.",
    )
    exempt = models.BooleanField(
        default=False, help_text="No quota for this server: never warned, throttled or suspended."
    )
    note = models.CharField(max_length=200, blank=True, help_text="Why, for other staff.")

    class Meta:
        verbose_name = "server traffic override"

    def __str__(self) -> str:
        return f"{self.server}: {'exempt' if self.exempt else f'{self.quota_gib} GiB'}"


class TrafficCounter(models.Model):
    """The last netin/netout reading of a server's VM: the baseline of the next delta."""

    server = models.OneToOneField(
        "servers.Server",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="traffic_counter",
    )
    # Where the VM ran: on another node (a migration) its counters started again from zero.
    pve_node = models.CharField(max_length=64)
    netin_bytes = models.BigIntegerField()
    netout_bytes = models.BigIntegerField()
    uptime_s = models.BigIntegerField()
    read_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.server} at {self.read_at:%Y-%m-%d %H:%M}"


class TrafficHour(models.Model):
    """Bytes a server moved in one hour (UTC), in bytes: a small sample never reads as zero."""

    server = models.ForeignKey(
        "servers.Server", on_delete=models.CASCADE, related_name="traffic_hours"
    )
    hour = models.DateTimeField(help_text="The start of the hour.")
    in_bytes = models.BigIntegerField(default=0)
    out_bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(fields=["server", "hour"], name="traffic_hour_server_hour"),
            models.CheckConstraint(
                condition=Q(in_bytes__gte=0) & Q(out_bytes__gte=0),
                name="traffic_hour_bytes_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.server} {self.hour:%Y-%m-%d %H:00}"


class TrafficPeriod(models.Model):
    """One server's billing period as far as its quota goes: when it was warned (80 %), when it
    reached its quota (100 %), what was enforced by which job, and when that was lifted. One row
    per server and period (the unique constraint): a beat delivered twice enforces nothing twice.
    """

    server = models.ForeignKey(
        "servers.Server", on_delete=models.CASCADE, related_name="traffic_periods"
    )
    starts_on = models.DateField()
    warned_at = models.DateTimeField(null=True, blank=True)
    exceeded_at = models.DateTimeField(null=True, blank=True)
    enforcement = models.CharField(max_length=10, choices=TrafficPolicy.choices, blank=True)
    enforced_at = models.DateTimeField(null=True, blank=True)
    enforcement_job = models.ForeignKey(
        "panel.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    restored_at = models.DateTimeField(null=True, blank=True)
    restore_job = models.ForeignKey(
        "panel.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "starts_on"], name="traffic_period_server_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.server} from {self.starts_on}"


class ServerTraffic(Server):
    """Servers as staff read their traffic in admin (this period's totals and quota)."""

    class Meta:
        proxy = True
        verbose_name = "server traffic"
        verbose_name_plural = "server traffic"
