import pytest
from django.urls import reverse

from panel.models import JobState
from servers.models import ServerStatus
from tests.ui.conftest import HTMX, make_job

pytestmark = pytest.mark.django_db


def _detail(client, server):
    response = client.get(reverse("servers:detail", args=[server.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_detail_shows_specs_status_and_power_buttons(alice_client, alice_server):
    body = _detail(alice_client, alice_server)
    assert "<h1>web-1</h1>" in body
    assert '<dd data-testid="server-disk">40 GiB</dd>' in body
    assert "<dd>4 GiB</dd>" in body
    assert "<dd>2 vCPU</dd>" in body
    assert 'data-testid="server-status">Running</span>' in body
    # A running server can be shut down, rebooted or stopped; not started.
    for action in ("shutdown", "reboot", "stop"):
        assert f'name="action" value="{action}"' in body
    assert 'value="start"' not in body


def test_stop_and_reboot_ask_for_confirmation(alice_client, alice_server):
    body = _detail(alice_client, alice_server)
    assert 'value="stop"' in body
    stop = body[body.index('value="stop"') :].split("</button>")[0]
    assert 'hx-confirm="Stop web-1 now?' in stop
    reboot = body[body.index('value="reboot"') :].split("</button>")[0]
    assert 'hx-confirm="Reboot web-1 now?' in reboot
    shutdown = body[body.index('value="shutdown"') :].split("</button>")[0]
    assert "hx-confirm" not in shutdown


def test_stopped_server_offers_start_only(alice_client, alice_server):
    alice_server.status = ServerStatus.STOPPED
    alice_server.save()
    body = _detail(alice_client, alice_server)
    assert 'value="start"' in body
    assert 'value="stop"' not in body


def test_resize_form_is_prefilled_with_units_and_limits(alice_client, alice_server):
    body = _detail(alice_client, alice_server)
    cpu = body[body.index('name="cpu_cores"') :].split(">")[0]
    assert 'value="2"' in cpu
    assert 'min="1"' in cpu and 'max="8"' in cpu
    disk = body[body.index('name="disk_gib"') :].split(">")[0]
    assert 'value="40"' in disk
    assert 'min="40"' in disk
    assert 'max="200"' in disk
    memory = body[body.index('name="memory_mib"') :].split(">")[0]
    assert 'value="4096"' in memory
    assert 'list="memory-sizes"' in memory
    assert "Memory (MiB)" in body and "Disk (GiB)" in body
    assert "Now 4096 MiB (4 GiB)" in body
    assert '<option value="8192">8 GiB</option>' in body


def test_detail_shows_the_running_job_panel_and_history(alice_client, alice_server):
    make_job(alice_server, kind="power", state=JobState.SUCCEEDED, progress=100)
    running = make_job(alice_server)
    body = _detail(alice_client, alice_server)
    assert f'id="job-{running.pk}"' in body
    poll = f'hx-get="{reverse("job-panel", args=[running.pk])}?seen=running" hx-trigger="every 1s"'
    assert poll in body
    history = body[body.index('id="server-jobs"') :]
    assert "Power" in history and "Resize" in history


def test_no_job_panel_without_an_active_job(alice_client, alice_server):
    make_job(alice_server, state=JobState.SUCCEEDED, progress=100)
    body = _detail(alice_client, alice_server)
    assert 'hx-trigger="every 1s"' not in body


def test_blocks_refresh_when_a_job_starts_or_ends(alice_client, alice_server):
    body = _detail(alice_client, alice_server)
    status = body[body.index('id="server-status"') :].split(">")[0]
    assert (
        'hx-trigger="job-started from:body, job-state-changed from:body, job-finished from:body"'
        in status
    )
    assert f'hx-get="{reverse("servers:status", args=[alice_server.pk])}"' in status


def test_status_partial_is_a_fragment_for_htmx(alice_client, alice_server):
    url = reverse("servers:status", args=[alice_server.pk])
    fragment = alice_client.get(url, **HTMX)
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert text.lstrip().startswith('<section id="server-status"')
    assert "<html" not in text
    assert "40 GiB" in text
    # A browser (no htmx) asking for the fragment URL gets the page.
    full = alice_client.get(url)
    assert full.status_code == 302
    assert full.url == reverse("servers:detail", args=[alice_server.pk])


def test_job_history_partial(alice_client, alice_server):
    make_job(alice_server, kind="power", state=JobState.FAILED, error="boom")
    response = alice_client.get(reverse("servers:jobs", args=[alice_server.pk]), **HTMX)
    text = response.content.decode()
    assert text.lstrip().startswith('<section id="server-jobs"')
    assert '<span class="badge badge-job-failed">Failed</span>' in text


def test_resize_form_partial_reflects_new_values(alice_client, alice_server):
    alice_server.disk_gib = 80
    alice_server.save()
    response = alice_client.get(reverse("servers:resize", args=[alice_server.pk]), **HTMX)
    text = response.content.decode()
    assert text.lstrip().startswith('<div id="resize-form"')
    assert 'min="80"' in text


@pytest.mark.parametrize("status", [ServerStatus.RESIZING, ServerStatus.PROVISIONING])
def test_no_power_buttons_while_a_job_owns_the_vm(alice_client, alice_server, status):
    alice_server.status = status
    alice_server.save()
    body = _detail(alice_client, alice_server)
    assert 'name="action"' not in body
    assert "Power actions are available again when the current job ends." in body


def test_power_buttons_wait_for_the_running_job(alice_client, alice_server):
    make_job(alice_server, kind="power")
    body = _detail(alice_client, alice_server)
    assert 'name="action"' not in body
    assert "Power actions are available again when the current job ends." in body
    fragment = alice_client.get(reverse("servers:status", args=[alice_server.pk]), **HTMX)
    assert 'name="action"' not in fragment.content.decode()


def test_a_pending_change_is_shown_with_a_restart_button(alice_client, alice_server):
    alice_server.pending_memory_mib = 8192
    alice_server.save(update_fields=["pending_memory_mib"])
    body = _detail(alice_client, alice_server)
    assert '4 GiB now<span class="spec-pending">, 8 GiB after the next restart</span>' in body
    assert "<dd>2 vCPU</dd>" in body  # nothing waits for the CPU
    pending = body[body.index('data-testid="pending-changes"') :].split("</div>")[0]
    assert "take effect at the next restart" in pending
    button = pending[pending.index('value="reboot"') :].split("</button>")[0]
    assert "Restart to apply" in button and 'hx-confirm="Reboot web-1 now?' in button
    # The resize form starts from what the server will have, and offers to restart now.
    assert 'name="memory_mib" value="8192"' in body
    assert 'name="restart"' in body


def test_no_pending_change_no_restart_offer_and_a_stopped_server_no_restart_box(
    alice_client, alice_server
):
    body = _detail(alice_client, alice_server)
    assert "after the next restart" not in body and "Restart to apply" not in body
    alice_server.status = ServerStatus.STOPPED
    alice_server.save(update_fields=["status"])
    assert 'name="restart"' not in _detail(alice_client, alice_server)
