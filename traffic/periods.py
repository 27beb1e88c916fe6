"""Billing periods: a month from ``TRAFFIC_BILLING_DAY`` (1-28) at midnight in ``TIME_ZONE`` to
the same day of the next month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone


@dataclass(frozen=True)
class BillingPeriod:
    starts_on: date
    next_starts_on: date  # the first day of the next period (this one ends before it)

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.starts_on, time.min))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.next_starts_on, time.min))

    def previous(self) -> BillingPeriod:
        return billing_period_starting(_add_months(self.starts_on, -1))


def _billing_day() -> int:
    day = int(settings.TRAFFIC_BILLING_DAY)
    if not 1 <= day <= 28:
        raise ImproperlyConfigured("TRAFFIC_BILLING_DAY must be 1-28 (every month has that day).")
    return day


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return day.replace(year=index // 12, month=index % 12 + 1)


def billing_period_starting(starts_on: date) -> BillingPeriod:
    return BillingPeriod(starts_on=starts_on, next_starts_on=_add_months(starts_on, 1))


def billing_period(moment: datetime | None = None) -> BillingPeriod:
    """The period ``moment`` (default: now) falls in."""
    local = timezone.localtime(moment or timezone.now())
    day = _billing_day()
    starts_on = date(local.year, local.month, day)
    if local.day < day:
        starts_on = _add_months(starts_on, -1)
    return billing_period_starting(starts_on)
