"""The job panel: the htmx poll served from the database alone, stopping with 286 at the end."""

import json
import re

import pytest
from django.test import RequestFactory
from django.urls import reverse

from panel import views
from panel.models import JobKind, JobState
from tests.ui.conftest import HTMX, make_job

pytestmark = pytest.mark.django_db


def _poll(client, job):
    return client.get(reverse("job-panel", args=[job.pk]), **HTMX)


def test_running_job_keeps_polling(alice_client, alice_server):
    job = make_job(alice_server, progress=25)
    response = _poll(alice_client, job)
    assert response.status_code == 200
    text = response.content.decode()
    assert text.lstrip().startswith(f'<section id="job-{job.pk}"')
    assert 'hx-trigger="every 1s"' in text
    assert 'hx-swap="outerHTML"' in text
    assert '<progress id="job-' in text and 'max="100" value="25"' in text
    assert "Grow the disk" in text and "Read back what PVE holds" in text
    assert 'class="step step--running"' in text
    assert "HX-Trigger" not in response


def test_panel_shows_staff_the_elapsed_time_and_the_task_log_tail(client, staff_user, alice_server):
    job = make_job(alice_server)
    client.force_login(staff_user)
    text = _poll(client, job).content.decode()
    assert 'title="Elapsed time"' in text
    assert re.search(r'title="Elapsed time">\d+ s<', text)
    assert "line 30" in text and "line 16" in text
    assert not re.search(r"\bline 15\b", text)


def test_customers_see_progress_but_never_pve_text_or_log(alice_client, alice_server):
    """PVE's text names nodes, storages and task ids: customers read a plain sentence."""
    lvm = "lvextend: Insufficient free space: 1280 extents needed on pve1"
    job = make_job(
        alice_server,
        state=JobState.FAILED,
        error=f"Grow the disk: PVE task failed: {lvm}",
        customer_error="The resize did not complete: the host does not have enough free storage.",
    )
    text = _poll(alice_client, job).content.decode()
    assert 'title="Elapsed time"' in text
    assert "does not have enough free storage" in text
    assert "lvextend" not in text and "pve1" not in text and "line 30" not in text


@pytest.mark.parametrize("state", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED])
def test_finished_job_stops_polling_with_286(alice_client, alice_server, state):
    job = make_job(alice_server, state=state, progress=100, error="")
    response = _poll(alice_client, job)
    assert response.status_code == 286
    text = response.content.decode()
    assert "hx-trigger" not in text
    assert "hx-get" not in text
    assert f'data-job-state="{state}"' in text
    # ...and tells the page to refresh what the job changed.
    assert "job-finished" in json.loads(response["HX-Trigger"])


def test_poll_announces_a_state_change(alice_client, alice_server):
    """queued -> running: HX-Trigger job-state-changed, so the job history catches up."""
    job = make_job(alice_server, state=JobState.RUNNING)
    url = reverse("job-panel", args=[job.pk])
    changed = alice_client.get(url, {"seen": "queued"}, **HTMX)
    assert changed.status_code == 200
    assert "job-state-changed" in json.loads(changed["HX-Trigger"])
    assert f'hx-get="{url}?seen=running"' in changed.content.decode()
    same = alice_client.get(url, {"seen": "running"}, **HTMX)
    assert "HX-Trigger" not in same


def test_failed_job_shows_staff_its_error_and_log(client, staff_user, alice_server):
    job = make_job(
        alice_server,
        state=JobState.FAILED,
        error="PVE task failed: resize: disk 'scsi0' not found",
    )
    client.force_login(staff_user)
    text = _poll(client, job).content.decode()
    assert "PVE task failed: resize: disk &#x27;scsi0&#x27; not found" in text
    assert '<details class="task-log" open>' in text


def test_poll_without_htmx_goes_to_the_job_page(alice_client, alice_server):
    job = make_job(alice_server)
    response = alice_client.get(reverse("job-panel", args=[job.pk]))
    assert response.status_code == 302
    assert response.url == reverse("job-detail", args=[job.pk])


def test_job_page_embeds_the_panel(alice_client, alice_server):
    job = make_job(alice_server, kind=JobKind.POWER)
    response = alice_client.get(reverse("job-detail", args=[job.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert f'id="job-{job.pk}"' in body
    assert 'hx-trigger="every 1s"' in body


def test_poll_is_one_query(rf: RequestFactory, customer, alice_server, django_assert_num_queries):
    """The view's own work: the Job row, nothing else (no PVE, no server lookups)."""
    job = make_job(alice_server)
    request = rf.get(reverse("job-panel", args=[job.pk]), **HTMX)
    request.user = customer
    request.htmx = True
    with django_assert_num_queries(1):
        response = views.job_panel(request, pk=job.pk)
    assert response.status_code == 200


def test_poll_through_the_whole_stack_stays_small(
    alice_client, alice_server, django_assert_max_num_queries
):
    """Through the middleware: the session and the user (auth) plus the Job row."""
    job = make_job(alice_server, state=JobState.SUCCEEDED, progress=100)
    with django_assert_max_num_queries(3):
        response = _poll(alice_client, job)
    assert response.status_code == 286


def test_pages_and_polls_never_call_pve(alice_client, server, pve_sim):
    """With a server on the simulator: the poll, the detail page and its fragments read the
    database only; the worker is the one that talks to PVE."""
    job = make_job(server)
    pve_sim.reset_calls()
    for _ in range(3):
        assert _poll(alice_client, job).status_code == 200
    assert alice_client.get(reverse("servers:detail", args=[server.pk])).status_code == 200
    assert alice_client.get(reverse("servers:status", args=[server.pk]), **HTMX).status_code == 200
    assert alice_client.get(reverse("servers:list")).status_code == 200
    assert sum(pve_sim.calls.values()) == 0, dict(pve_sim.calls)
