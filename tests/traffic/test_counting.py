"""From two counter readings to bytes moved: never negative, never huge, right across a reset."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from traffic.counting import Reading, traffic_delta
from traffic.periods import billing_period

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
MAX = 5_000_000_000


def reading(netin, netout, *, uptime_s, after_s=0, node="pve1") -> Reading:
    return Reading(node, netin, netout, uptime_s, T0 + timedelta(seconds=after_s))


def test_the_first_reading_is_a_baseline():
    delta = traffic_delta(None, reading(10_000, 20_000, uptime_s=3600), max_bytes_per_s=MAX)
    assert (delta.in_bytes, delta.out_bytes, delta.how) == (0, 0, "first")


def test_growth_is_the_difference():
    last = reading(10_000, 20_000, uptime_s=3600)
    new = reading(15_000, 29_000, uptime_s=3900, after_s=300)
    delta = traffic_delta(last, new, max_bytes_per_s=MAX)
    assert (delta.in_bytes, delta.out_bytes, delta.how) == (5_000, 9_000, "counted")


def test_a_lower_reading_is_a_restart_counted_from_zero():
    last = reading(10_000_000, 20_000_000, uptime_s=3600)
    new = reading(4_000, 7_000, uptime_s=100, after_s=300)
    delta = traffic_delta(last, new, max_bytes_per_s=MAX)
    assert (delta.in_bytes, delta.out_bytes, delta.how) == (4_000, 7_000, "restarted")


def test_a_restart_that_already_moved_more_is_told_by_the_uptime():
    last = reading(1_000, 2_000, uptime_s=3600)
    new = reading(50_000, 90_000, uptime_s=200, after_s=300)  # higher, but it restarted
    delta = traffic_delta(last, new, max_bytes_per_s=MAX)
    assert (delta.in_bytes, delta.out_bytes, delta.how) == (50_000, 90_000, "restarted")


def test_a_migration_to_another_node_counts_from_zero():
    last = reading(1_000, 2_000, uptime_s=30)
    new = reading(5_000, 6_000, uptime_s=330, after_s=300, node="pve2")
    assert traffic_delta(last, new, max_bytes_per_s=MAX).how == "restarted"
    assert traffic_delta(last, new, max_bytes_per_s=MAX).in_bytes == 5_000


def test_a_stopped_vm_reads_zero_and_moves_nothing():
    last = reading(10_000, 20_000, uptime_s=3600)
    stopped = reading(0, 0, uptime_s=0, after_s=300)
    delta = traffic_delta(last, stopped, max_bytes_per_s=MAX)
    assert (delta.in_bytes, delta.out_bytes) == (0, 0)


def test_more_than_any_nic_moves_is_counted_as_nothing():
    last = reading(0, 0, uptime_s=3600)
    absurd = reading(2**63 - 1, 5, uptime_s=3900, after_s=300)
    delta = traffic_delta(last, absurd, max_bytes_per_s=MAX)
    assert (delta.in_bytes, delta.out_bytes, delta.how) == (0, 0, "implausible")


def test_an_older_reading_than_the_last_is_stale():
    last = reading(10_000, 20_000, uptime_s=3600, after_s=300)
    older = reading(9_000, 19_000, uptime_s=3300)
    assert traffic_delta(last, older, max_bytes_per_s=MAX).counts is False


@pytest.mark.parametrize(
    ("day", "moment", "starts_on", "next_starts_on"),
    [
        (1, datetime(2026, 12, 2, 10, tzinfo=UTC), date(2026, 12, 1), date(2027, 1, 1)),
        (15, datetime(2026, 12, 2, 10, tzinfo=UTC), date(2026, 11, 15), date(2026, 12, 15)),
        (15, datetime(2026, 12, 15, 0, tzinfo=UTC), date(2026, 12, 15), date(2027, 1, 15)),
        (28, datetime(2027, 1, 3, tzinfo=UTC), date(2026, 12, 28), date(2027, 1, 28)),
    ],
)
def test_billing_periods_start_on_the_configured_day(
    settings, day, moment, starts_on, next_starts_on
):
    settings.TRAFFIC_BILLING_DAY = day
    period = billing_period(moment)
    assert (period.starts_on, period.next_starts_on) == (starts_on, next_starts_on)
    assert period.start <= moment < period.end
    assert period.previous().next_starts_on == starts_on
