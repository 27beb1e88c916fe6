"""Against the simulator: every API action answers 202 with a queued Job and the simulator sees
no call during the request."""

import pytest

from panel.models import Job, JobState
from servers.models import Server
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "method, action, payload",
    [
        ("post", "resize", {"cpu_cores": 4, "disk_gib": 30}),
        ("post", "power", {"action": "reboot"}),
        ("post", "rebuild", "template"),
        ("post", "reset-password", {"password": "a-long-new-password"}),
        ("post", "suspend", None),
        ("delete", "", None),
    ],
)
def test_api_action_does_not_call_pve(
    staff_user, pve_sim, server, template, method, action, payload
):
    if payload == "template":
        payload = {"template": template.pk}
    client = token_client(staff_user)
    calls_before = sum(pve_sim.calls.values())
    path = f"/api/v1/servers/{server.pk}/" + (f"{action}/" if action else "")
    response = getattr(client, method)(path, payload, format="json")
    assert response.status_code == 202, response.content
    assert Job.objects.get(pk=response.json()["id"]).state == JobState.QUEUED
    assert sum(pve_sim.calls.values()) == calls_before, pve_sim.calls


def test_api_create_does_not_call_pve(staff_user, customer, pve_sim, plan, node, template):
    client = token_client(staff_user)
    calls_before = sum(pve_sim.calls.values())
    response = client.post(
        "/api/v1/servers/",
        {
            "owner": customer.pk,
            "plan": plan.pk,
            "node": node.pk,
            "template": template.pk,
            "name": "echo",
            "hostname": "echo.example.com",
            "cpu_cores": 2,
            "memory_mib": 2048,
            "disk_gib": 20,
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    assert Server.objects.filter(name="echo").exists()
    assert sum(pve_sim.calls.values()) == calls_before
