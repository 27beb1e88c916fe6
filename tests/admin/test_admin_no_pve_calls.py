"""Against the simulator: every admin action records a Job and the simulator sees no call at all
during the request (the worker, not the request, talks to PVE)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from panel.models import Job, JobKind, JobState
from servers.models import Server

pytestmark = pytest.mark.django_db

ACTIONS = [
    ("power_start", {}, JobKind.POWER),
    ("power_shutdown", {}, JobKind.POWER),
    ("power_reboot", {}, JobKind.POWER),
    ("power_stop", {}, JobKind.POWER),
    ("suspend_servers", {}, JobKind.SUSPEND),
    ("sync_servers", {}, JobKind.SYNC),
    ("delete_servers", {"apply": "1"}, JobKind.DELETE),
    (
        "resize_server",
        {"apply": "1", "cpu_cores": 4, "memory_mib": 4096, "disk_gib": 30},
        JobKind.RESIZE,
    ),
    ("rebuild_server", {"apply": "1", "confirm": "on"}, JobKind.REBUILD),
]


@pytest.mark.parametrize("action, extra, kind", ACTIONS)
def test_admin_action_queues_a_job_without_calling_pve(
    client, staff_user, pve_sim, server, template, action, extra, kind
):
    client.force_login(staff_user)
    if action == "rebuild_server":
        extra = {**extra, "template": template.pk}
    calls_before = sum(pve_sim.calls.values())
    response = client.post(
        "/admin/servers/server/", {"action": action, ACTION_CHECKBOX_NAME: [server.pk], **extra}
    )
    assert response.status_code == 302
    job = Job.objects.get(server=server)
    assert (job.kind, job.state) == (kind, JobState.QUEUED)
    assert sum(pve_sim.calls.values()) == calls_before, pve_sim.calls


def test_unsuspend_queues_a_job_without_calling_pve(client, staff_user, pve_sim, server):
    Server.objects.filter(pk=server.pk).update(is_suspended=True, status="suspended")
    client.force_login(staff_user)
    calls_before = sum(pve_sim.calls.values())
    client.post(
        "/admin/servers/server/", {"action": "unsuspend_servers", ACTION_CHECKBOX_NAME: [server.pk]}
    )
    assert Job.objects.get(server=server).kind == JobKind.UNSUSPEND
    assert sum(pve_sim.calls.values()) == calls_before
