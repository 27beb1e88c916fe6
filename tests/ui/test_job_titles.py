"""Job history says which power action ran, and customers read their words, not staff's."""

import pytest
from django.urls import reverse

from panel.models import JobKind, JobState
from tests.ui.conftest import make_job

pytestmark = pytest.mark.django_db


def test_a_power_job_says_which_action(alice_client, alice_server):
    make_job(
        alice_server, kind=JobKind.POWER, state=JobState.SUCCEEDED, params={"action": "reboot"}
    )
    detail = alice_client.get(reverse("servers:detail", args=[alice_server.pk])).content.decode()
    jobs = alice_client.get(reverse("job-list")).content.decode()
    assert "Power: reboot" in detail
    assert "Power: reboot" in jobs


def test_a_customer_reads_refresh_status_and_staff_sync_from_pve(
    client, alice_client, alice_server, staff_user
):
    job = make_job(alice_server, kind=JobKind.SYNC, state=JobState.SUCCEEDED)
    for url in (reverse("job-list"), reverse("job-detail", args=[job.pk])):
        body = alice_client.get(url).content.decode()
        assert "Refresh status" in body
        assert "Sync from PVE" not in body
    client.force_login(staff_user)
    assert "Sync from PVE" in client.get(reverse("job-list")).content.decode()


def test_the_favicon_is_linked_and_served(alice_client):
    page = alice_client.get(reverse("job-list")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    icon = alice_client.get("/static/favicon.svg")
    assert icon.status_code == 200
    assert b"<svg" in b"".join(icon.streaming_content)
