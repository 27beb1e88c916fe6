"""The staff admin's "retry" action on failed jobs: it records the new job and PVE hears nothing
during the request (the worker, not the request, talks to PVE)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from panel.models import Job, JobKind, JobState

pytestmark = pytest.mark.django_db


def test_retry_action_queues_a_new_job_without_calling_pve(client, staff_user, pve_sim, server):
    failed = Job.objects.create(
        kind=JobKind.RESIZE,
        state=JobState.FAILED,
        server=server,
        target_name=server.name,
        params={"disk_gib": 40, "previous": {"disk_gib": 20}},
        error="lvresize: no space",
    )
    client.force_login(staff_user)
    assert "retry_jobs" in client.get("/admin/panel/job/").content.decode()
    calls_before = sum(pve_sim.calls.values())

    response = client.post(
        "/admin/panel/job/",
        {"action": "retry_jobs", ACTION_CHECKBOX_NAME: [failed.pk]},
        follow=True,
    )

    assert response.status_code == 200
    retried = Job.objects.exclude(pk=failed.pk).get()
    assert (retried.kind, retried.state, retried.server_id, retried.params["disk_gib"]) == (
        JobKind.RESIZE,
        JobState.QUEUED,
        server.pk,
        40,
    )
    assert "retry queued" in response.content.decode()
    assert sum(pve_sim.calls.values()) == calls_before, pve_sim.calls


def test_retry_action_explains_a_refusal(client, staff_user, pve_sim, server):
    failed = Job.objects.create(
        kind=JobKind.RESET_PASSWORD,
        state=JobState.FAILED,
        server=server,
        target_name=server.name,
        params={"password_encrypted": ""},
    )
    client.force_login(staff_user)
    response = client.post(
        "/admin/panel/job/",
        {"action": "retry_jobs", ACTION_CHECKBOX_NAME: [failed.pk]},
        follow=True,
    )
    assert "enter the password again" in response.content.decode()
    assert Job.objects.count() == 1
