"""The monthly totals where people read them: the customer's server page, the API (tenant-isolated:
404 for another's server), staff's admin. None of them calls PVE."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from proxmox.units import GIB
from traffic.models import PlanTrafficQuota, TrafficHour
from traffic.periods import billing_period

pytestmark = pytest.mark.django_db


def _hour(server, *, in_bytes, out_bytes, at=None):
    at = (at or timezone.now()).replace(minute=0, second=0, microsecond=0)
    return TrafficHour.objects.create(
        server=server, hour=at, in_bytes=in_bytes, out_bytes=out_bytes
    )


@pytest.fixture
def usage(server_a, server_b, plan):
    PlanTrafficQuota.objects.create(plan=plan, quota_gib=100)
    period = billing_period()
    _hour(server_a, in_bytes=3 * GIB, out_bytes=7 * GIB)
    _hour(server_a, in_bytes=1_000, out_bytes=24, at=period.start)
    _hour(server_a, in_bytes=5 * GIB, out_bytes=5 * GIB, at=period.start - timedelta(hours=1))
    _hour(server_b, in_bytes=1, out_bytes=1)
    return period


def test_the_api_gives_a_customer_the_totals_of_their_servers(
    client_a, server_a, usage, no_pve_calls
):
    response = client_a.get("/api/v1/usage/")
    assert response.status_code == 200
    (row,) = response.json()["results"]  # not bob's server
    assert row == {
        "server": server_a.pk,
        "server_name": "alpha",
        "period_start": str(usage.starts_on),
        "next_period_start": str(usage.next_starts_on),
        "in_bytes": 3 * GIB + 1_000,
        "out_bytes": 7 * GIB + 24,
        "total_bytes": 10 * GIB + 1_024,
        "quota_bytes": 100 * GIB,
        "used_percent": 10,
        "policy": "throttle",
        "enforcement": "",
    }
    one = client_a.get(f"/api/v1/usage/{server_a.pk}/")
    assert one.status_code == 200 and one.json() == row


def test_another_customers_server_is_a_404(client_a, server_b, usage):
    assert client_a.get(f"/api/v1/usage/{server_b.pk}/").status_code == 404


def test_an_earlier_period_by_any_of_its_days(client_a, server_a, usage):
    day = usage.previous().starts_on + timedelta(days=3)
    row = client_a.get(f"/api/v1/usage/{server_a.pk}/", {"period": str(day)}).json()
    assert (row["period_start"], row["in_bytes"], row["out_bytes"]) == (
        str(usage.previous().starts_on),
        5 * GIB,
        5 * GIB,
    )


def test_a_bad_period_is_a_400_with_the_field(client_a, server_a, usage):
    response = client_a.get(f"/api/v1/usage/{server_a.pk}/", {"period": "last month"})
    assert response.status_code == 400
    assert "period" in str(response.json())


def test_staff_read_every_servers_usage(staff_client, server_a, server_b, usage):
    rows = staff_client.get("/api/v1/usage/").json()["results"]
    assert [r["server"] for r in rows] == sorted([server_a.pk, server_b.pk])


def test_the_server_page_shows_the_customer_this_periods_traffic(
    client, customer, server_a, usage, no_pve_calls
):
    client.force_login(customer)
    body = client.get(reverse("servers:detail", args=[server_a.pk])).content.decode()
    assert '<dd data-testid="traffic-in">3.0 GiB</dd>' in body
    assert '<dd data-testid="traffic-out">7.0 GiB</dd>' in body
    assert "10 % of the monthly quota of 100.0 GiB used" in body


def test_staff_read_the_totals_in_admin(client, staff_user, server_a, server_b, usage):
    client.force_login(staff_user)
    response = client.get(reverse("admin:traffic_servertraffic_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "10.0 GiB" in body and "100.0 GiB" in body and "bravo" in body


def test_the_page_says_in_plain_words_that_the_speed_is_limited(client, customer, server_a, usage):
    from traffic.models import TrafficPeriod

    TrafficPeriod.objects.create(
        server=server_a,
        starts_on=usage.starts_on,
        enforcement="throttle",
        enforced_at=timezone.now(),
    )
    client.force_login(customer)
    body = client.get(reverse("servers:detail", args=[server_a.pk])).content.decode()
    assert "the network speed is limited until the next period begins" in body
