"""Resize, power, rebuild and password reset: with htmx a fragment, without it POST-redirect-GET;
the service's validation shown next to the fields; a running job reported, never a 500."""

import json

import pytest
from django.urls import reverse

from panel.models import Job, JobKind, JobState
from tests.fixtures.data import offline_node_row
from tests.ui.conftest import HTMX, make_job

pytestmark = pytest.mark.django_db


def _resize(client, server, *, htmx=False, **values):
    data = {"cpu_cores": server.cpu_cores, "memory_mib": server.memory_mib}
    data["disk_gib"] = server.disk_gib
    data.update(values)
    return client.post(reverse("servers:resize", args=[server.pk]), data, **(HTMX if htmx else {}))


def _field_errors(body: str, field: str) -> str:
    marker = f'id="id_{field}_errors"'
    assert marker in body, f"no errors shown next to {field}"
    return body[body.index(marker) :].split("</ul>")[0]


# --- resize -----------------------------------------------------------------------------------


def test_htmx_resize_answers_with_the_polling_job_panel(alice_client, alice_server):
    response = _resize(alice_client, alice_server, htmx=True, disk_gib=80)
    assert response.status_code == 200
    job = Job.objects.get(server=alice_server)
    assert job.kind == JobKind.RESIZE
    assert job.params["disk_gib"] == 80
    # Only what changed is asked for.
    assert "cpu_cores" not in job.params and "memory_mib" not in job.params
    text = response.content.decode()
    assert text.lstrip().startswith(f'<section id="job-{job.pk}"')
    poll = f'hx-get="{reverse("job-panel", args=[job.pk])}?seen=queued" hx-trigger="every 1s"'
    assert poll in text
    assert "Grow the disk" in text
    assert "<html" not in text
    assert "job-started" in json.loads(response["HX-Trigger"])


def test_plain_resize_redirects_to_the_detail_page(alice_client, alice_server):
    response = _resize(alice_client, alice_server, cpu_cores=4, memory_mib=8192)
    assert response.status_code == 302
    assert response.url == reverse("servers:detail", args=[alice_server.pk])
    job = Job.objects.get(server=alice_server)
    assert (job.params["cpu_cores"], job.params["memory_mib"]) == (4, 8192)
    page = alice_client.get(response.url).content.decode()
    assert "Resize started." in page
    assert f'id="job-{job.pk}"' in page


def test_resize_with_restart_asks_for_the_restart(alice_client, alice_server):
    response = _resize(alice_client, alice_server, cpu_cores=4, restart="on")
    assert response.status_code == 302
    job = Job.objects.get(server=alice_server)
    assert (job.params["cpu_cores"], job.params["restart"]) == (4, True)
    assert [s["name"] for s in job.steps] == ["configure", "restart", "finish"]


@pytest.mark.parametrize("htmx", [False, True])
def test_disk_cannot_shrink(alice_client, alice_server, htmx):
    response = _resize(alice_client, alice_server, htmx=htmx, disk_gib=20)
    assert response.status_code == 200
    errors = _field_errors(response.content.decode(), "disk_gib")
    assert "Disks can only grow: the disk is 40 GiB, so 20 GiB is not possible." in errors
    assert not Job.objects.exists()
    if htmx:
        assert response["HX-Retarget"] == "#resize-form"
        assert response["HX-Reswap"] == "outerHTML"
        assert response.content.decode().lstrip().startswith('<div id="resize-form"')
    else:
        # The whole page again, with what was typed kept.
        body = response.content.decode()
        assert "<html" in body
        assert 'value="20"' in body[body.index('name="disk_gib"') :].split(">")[0]


def test_plan_limits_are_shown_next_to_the_field(alice_client, alice_server):
    response = _resize(alice_client, alice_server, htmx=True, cpu_cores=64)
    errors = _field_errors(response.content.decode(), "cpu_cores")
    assert "8" in errors  # the plan's limit is named
    assert not Job.objects.exists()


def test_whole_numbers_only(alice_client, alice_server):
    response = _resize(alice_client, alice_server, htmx=True, memory_mib="4096.5")
    assert "Enter a whole number." in _field_errors(response.content.decode(), "memory_mib")
    assert not Job.objects.exists()


def test_nothing_changed_is_refused_with_a_message(alice_client, alice_server):
    response = _resize(alice_client, alice_server, htmx=True)
    body = response.content.decode()
    assert "Nothing to change" in body
    assert 'role="alert"' in body
    assert not Job.objects.exists()


def test_resize_while_another_job_runs_says_so_with_htmx(alice_client, alice_server):
    running = make_job(alice_server, kind=JobKind.POWER, progress=50)
    response = _resize(alice_client, alice_server, htmx=True, disk_gib=80)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Another job is running on this server: Power (running, 50% done)." in body
    # The job that holds the server is shown, polling, in its place.
    assert f'id="job-{running.pk}"' in body
    assert response["HX-Retarget"] == "#job-area"
    assert Job.objects.filter(server=alice_server).count() == 1


def test_resize_while_another_job_runs_says_so_without_js(alice_client, alice_server):
    make_job(alice_server, kind=JobKind.REBUILD, state=JobState.QUEUED, progress=0)
    response = _resize(alice_client, alice_server, disk_gib=80)
    assert response.status_code == 409
    body = response.content.decode()
    assert "Another job is running on this server: Rebuild (queued, 0% done)." in body
    assert 'value="80"' in body[body.index('name="disk_gib"') :].split(">")[0]


def test_suspended_server_cannot_be_resized(alice_client, alice_server):
    alice_server.is_suspended = True
    alice_server.save()
    response = _resize(alice_client, alice_server, htmx=True, disk_gib=80)
    assert "suspended" in response.content.decode()
    assert not Job.objects.exists()


# --- power ------------------------------------------------------------------------------------


def test_htmx_shutdown_starts_a_power_job(alice_client, alice_server):
    response = alice_client.post(
        reverse("servers:power", args=[alice_server.pk]), {"action": "shutdown"}, **HTMX
    )
    assert response.status_code == 200
    job = Job.objects.get(server=alice_server)
    assert (job.kind, job.params["action"]) == (JobKind.POWER, "shutdown")
    assert f'id="job-{job.pk}"' in response.content.decode()


@pytest.mark.parametrize("action", ["stop", "reboot"])
def test_stop_and_reboot_without_confirmation_ask_first(alice_client, alice_server, action):
    url = reverse("servers:power", args=[alice_server.pk])
    response = alice_client.post(url, {"action": action})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="power-confirm"' in body
    assert '<input type="hidden" name="confirmed" value="on">' in body
    assert not Job.objects.exists()
    confirmed = alice_client.post(url, {"action": action, "confirmed": "on"})
    assert confirmed.status_code == 302
    assert Job.objects.get(server=alice_server).params["action"] == action


def test_htmx_stop_confirmed_by_the_dialog_starts_the_job(alice_client, alice_server):
    # hx-confirm asks in the browser, then hx-vals adds confirmed=on.
    response = alice_client.post(
        reverse("servers:power", args=[alice_server.pk]),
        {"action": "stop", "confirmed": "on"},
        **HTMX,
    )
    assert response.status_code == 200
    assert Job.objects.get(server=alice_server).params["action"] == "stop"


def test_unknown_power_action_is_refused(alice_client, alice_server):
    response = alice_client.post(
        reverse("servers:power", args=[alice_server.pk]), {"action": "explode"}, follow=True
    )
    assert "Unknown power action." in response.content.decode()
    assert not Job.objects.exists()


def test_power_while_another_job_runs(alice_client, alice_server):
    make_job(alice_server)
    response = alice_client.post(
        reverse("servers:power", args=[alice_server.pk]), {"action": "shutdown"}, **HTMX
    )
    assert response.status_code == 200
    assert "Another job is running on this server: Resize" in response.content.decode()


def test_power_refused_by_the_service_is_reported(alice_client, alice_server):
    alice_server.is_suspended = True
    alice_server.save()
    response = alice_client.post(
        reverse("servers:power", args=[alice_server.pk]), {"action": "start"}, follow=True
    )
    assert response.status_code == 200
    assert "suspended" in response.content.decode()
    assert not Job.objects.exists()


# --- rebuild and password ---------------------------------------------------------------------


def test_rebuild_needs_the_confirmation_box(alice_client, alice_server, offline_template):
    url = reverse("servers:rebuild", args=[alice_server.pk])
    response = alice_client.post(url, {"template": offline_template.pk}, **HTMX)
    assert "This field is required." in _field_errors(response.content.decode(), "confirm")
    assert response["HX-Retarget"] == "#rebuild-form"
    assert not Job.objects.exists()
    response = alice_client.post(url, {"template": offline_template.pk, "confirm": "on"})
    assert response.status_code == 302
    job = Job.objects.get(server=alice_server)
    assert (job.kind, job.params["template_id"]) == (JobKind.REBUILD, offline_template.pk)


def test_rebuild_refuses_a_template_of_another_node(alice_client, alice_server, plan):
    from nodes.models import Template

    other = offline_node_row(name="Paris 9", pve_node="pve9")
    foreign = Template.objects.create(node=other, vmid=9001, name="Alpine", disk_gib=5)
    response = alice_client.post(
        reverse("servers:rebuild", args=[alice_server.pk]),
        {"template": foreign.pk, "confirm": "on"},
        **HTMX,
    )
    assert "Select a valid choice" in _field_errors(response.content.decode(), "template")
    assert not Job.objects.exists()


def test_reset_password_checks_both_entries(alice_client, alice_server):
    url = reverse("servers:reset-password", args=[alice_server.pk])
    response = alice_client.post(
        url, {"password": "correct-horse-1", "password_again": "correct-horse-2"}, **HTMX
    )
    errors = _field_errors(response.content.decode(), "password_again")
    assert "The two passwords differ." in errors
    assert response["HX-Retarget"] == "#reset-password-form"
    response = alice_client.post(url, {"password": "short", "password_again": "short"}, **HTMX)
    assert "at least" in _field_errors(response.content.decode(), "password")
    assert not Job.objects.exists()


def test_reset_password_starts_a_job_and_never_echoes_the_password(alice_client, alice_server):
    response = alice_client.post(
        reverse("servers:reset-password", args=[alice_server.pk]),
        {"password": "correct-horse-1", "password_again": "correct-horse-1"},
        **HTMX,
    )
    assert response.status_code == 200
    job = Job.objects.get(server=alice_server)
    assert job.kind == JobKind.RESET_PASSWORD
    assert "correct-horse-1" not in response.content.decode()
    page = alice_client.get(reverse("servers:detail", args=[alice_server.pk]))
    assert "correct-horse-1" not in page.content.decode()
