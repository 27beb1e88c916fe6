"""Servers and their actions: 202 + Location with the job, 400 per field, 404 across tenants,
409 with the active job. No test here lets a request reach PVE."""

import pytest

from panel.models import Job, JobKind, JobState
from servers.models import Server

pytestmark = pytest.mark.django_db

RESIZE = ("resize", {"memory_mib": 4096})
POWER = ("power", {"action": "start"})
RESET = ("reset-password", {"password": "a-long-new-password"})


def url(server, action=None):
    base = f"/api/v1/servers/{server.pk}/"
    return f"{base}{action}/" if action else base


def assert_accepted(response, *, kind, server):
    assert response.status_code == 202, response.content
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert job.kind == kind
    assert job.state == JobState.QUEUED
    assert job.server_id == server.pk
    assert body["state"] == "queued"
    assert response["Location"].endswith(f"/api/v1/jobs/{job.pk}/")
    assert body["url"] == response["Location"]
    return job


def test_list_requires_authentication(anon_client, server_a):
    response = anon_client.get("/api/v1/servers/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_invalid_token_is_401(server_a):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/servers/")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}


def test_customer_lists_only_own_servers(client_a, server_a, server_b):
    response = client_a.get("/api/v1/servers/")
    assert response.status_code == 200
    names = [s["name"] for s in response.json()["results"]]
    assert names == ["alpha"]


def test_staff_lists_all_servers(staff_client, server_a, server_b):
    response = staff_client.get("/api/v1/servers/")
    assert [s["name"] for s in response.json()["results"]] == ["alpha", "bravo"]


def test_list_is_paginated(client_a, customer, plan, offline_node, offline_template):
    from tests.api.conftest import make_server

    for index in range(55):
        make_server(
            owner=customer,
            plan=plan,
            node=offline_node,
            template=offline_template,
            name=f"s{index:02d}",
            vmid=200 + index,
        )
    first = client_a.get("/api/v1/servers/").json()
    assert first["count"] == 55
    assert len(first["results"]) == 50
    assert first["next"].endswith("page=2")
    second = client_a.get(first["next"]).json()
    assert len(second["results"]) == 5
    assert second["next"] is None
    beyond = client_a.get("/api/v1/servers/?page=9")
    assert beyond.status_code == 404
    assert beyond.json()["code"] == "not_found"


def test_list_filters_with_the_shared_filterset(
    client_a, server_a, customer, plan, offline_node, offline_template
):
    from tests.api.conftest import make_server

    make_server(
        owner=customer,
        plan=plan,
        node=offline_node,
        template=offline_template,
        name="charlie",
        vmid=103,
        status="stopped",
        is_suspended=True,
    )

    def names(query):
        return [s["name"] for s in client_a.get(f"/api/v1/servers/?{query}").json()["results"]]

    assert names("status=stopped") == ["charlie"]
    assert names("is_suspended=false") == ["alpha"]
    assert names("q=alp") == ["alpha"]
    assert names(f"node={offline_node.pk}") == ["alpha", "charlie"]
    bad = client_a.get("/api/v1/servers/?status=exploded")
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]


def test_retrieve_shows_specs_but_no_secrets(client_a, server_a):
    body = client_a.get(url(server_a)).json()
    assert body["id"] == server_a.pk
    assert (body["cpu_cores"], body["memory_mib"], body["disk_gib"]) == (2, 2048, 20)
    assert body["status"] == "running"
    # Customers read where it runs, never the node's name (staff do).
    assert body["location"] == "Frankfurt 1"
    assert body["node_name"] is None and body["node"] is None
    assert body["active_job"] is None
    assert "token_secret" not in str(body)


def test_customers_read_a_plain_status_reason_and_staff_pves_text(client_a, staff_client, server_a):
    reason = "Resize failed: Grow the disk: VM 101 does not exist on pve1."
    Server.objects.filter(pk=server_a.pk).update(status="error", status_reason=reason)
    body = client_a.get(url(server_a)).json()
    assert body["status"] == "error"
    assert body["status_reason"].startswith("Something went wrong with this server")
    assert "pve1" not in str(body) and "VM 101" not in str(body)
    staff = staff_client.get(url(server_a)).json()
    assert staff["status_reason"] == reason
    assert staff["node_name"] == server_a.node.name


def test_status_and_specs_are_not_writable(client_a, server_a):
    # No PUT/PATCH exists: the API never writes what PVE has not confirmed.
    for method in ("put", "patch"):
        response = getattr(client_a, method)(
            url(server_a), {"status": "running", "memory_mib": 99999}, format="json"
        )
        assert response.status_code == 405
    server_a.refresh_from_db()
    assert server_a.memory_mib == 2048


def test_resize_answers_202_with_job_and_location(client_a, server_a, no_pve_calls):
    response = client_a.post(
        url(server_a, "resize"), {"cpu_cores": 4, "memory_mib": 4096}, format="json"
    )
    job = assert_accepted(response, kind=JobKind.RESIZE, server=server_a)
    server_a.refresh_from_db()
    # Specs change only when PVE confirms, never at request time.
    assert (server_a.cpu_cores, server_a.memory_mib) == (2, 2048)
    assert client_a.get(url(server_a)).json()["active_job"] == response["Location"]
    polled = client_a.get(response["Location"])
    assert polled.status_code == 200
    assert polled.json()["id"] == str(job.pk)


def test_retrieve_shows_what_waits_for_the_next_restart(client_a, server_a):
    assert client_a.get(url(server_a)).json()["pending"] == {"cpu_cores": None, "memory_mib": None}
    Server.objects.filter(pk=server_a.pk).update(pending_memory_mib=4096)
    body = client_a.get(url(server_a)).json()
    assert body["memory_mib"] == 2048  # what it runs with
    assert body["pending"] == {"cpu_cores": None, "memory_mib": 4096}


def test_resize_with_restart_adds_a_restart_step(client_a, server_a, no_pve_calls):
    response = client_a.post(
        url(server_a, "resize"), {"cpu_cores": 4, "restart": True}, format="json"
    )
    job = assert_accepted(response, kind=JobKind.RESIZE, server=server_a)
    assert job.params["restart"] is True
    assert [s["name"] for s in job.steps] == ["configure", "restart", "finish"]
    only_restart = client_a.post(url(server_a, "resize"), {"restart": True}, format="json")
    assert only_restart.status_code == 400


def test_resize_shrinking_disk_is_400_with_field_message(client_a, server_a):
    response = client_a.post(url(server_a, "resize"), {"disk_gib": 10}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"]["disk_gib"]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"cpu_cores": "many"}, "cpu_cores"),
        ({"cpu_cores": 0}, "cpu_cores"),
        ({"memory_mib": 10**30}, "memory_mib"),
        ({"disk_gib": -5}, "disk_gib"),
        ({"disk_gib": 1.5}, "disk_gib"),
        ({}, "non_field_errors"),
        ({"cpu_cores": 999}, "cpu_cores"),  # beyond the plan: the service's message
    ],
)
def test_resize_bad_input_is_400_per_field(client_a, server_a, payload, field):
    response = client_a.post(url(server_a, "resize"), payload, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert not Job.objects.exists()


def test_malformed_json_is_400_not_500(client_a, server_a):
    response = client_a.post(url(server_a, "resize"), "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_body_that_is_not_an_object_is_400(client_a, server_a):
    response = client_a.post(url(server_a, "resize"), [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_conflict_is_409_with_the_active_job(client_a, server_a):
    active = Job.objects.create(
        kind=JobKind.POWER, state=JobState.RUNNING, server=server_a, owner=server_a.owner
    )
    response = client_a.post(url(server_a, "resize"), {"memory_mib": 4096}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert body["active_job"]["id"] == str(active.pk)
    assert Job.objects.count() == 1


def test_power_202_and_unknown_action_400(client_a, server_a):
    bad = client_a.post(url(server_a, "power"), {"action": "explode"}, format="json")
    assert bad.status_code == 400
    assert "action" in bad.json()["errors"]
    assert_accepted(
        client_a.post(url(server_a, "power"), {"action": "start"}, format="json"),
        kind=JobKind.POWER,
        server=server_a,
    )


def test_rebuild_202_and_unknown_template_400(client_a, server_a, offline_template):
    bad = client_a.post(url(server_a, "rebuild"), {"template": 999999}, format="json")
    assert bad.status_code == 400
    assert "template" in bad.json()["errors"]
    response = client_a.post(
        url(server_a, "rebuild"),
        {"template": offline_template.pk, "password": "another-long-pass"},
        format="json",
    )
    job = assert_accepted(response, kind=JobKind.REBUILD, server=server_a)
    assert "another-long-pass" not in response.content.decode()
    assert "password" not in response.json()["params"]
    assert job.params["template_id"] == offline_template.pk


def test_reset_password_202_and_short_password_400(client_a, server_a):
    bad = client_a.post(url(server_a, "reset-password"), {"password": "x"}, format="json")
    assert bad.status_code == 400
    assert "password" in bad.json()["errors"]
    response = client_a.post(
        url(server_a, "reset-password"), {"password": "a-long-new-password"}, format="json"
    )
    assert_accepted(response, kind=JobKind.RESET_PASSWORD, server=server_a)
    assert "a-long-new-password" not in response.content.decode()


def test_suspend_and_unsuspend_are_staff_only(client_a, server_a):
    for action in ("suspend", "unsuspend"):
        response = client_a.post(url(server_a, action))
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert not Job.objects.exists()


def test_owner_deletes_own_server_through_a_job(client_a, server_a, no_pve_calls):
    assert_accepted(client_a.delete(url(server_a)), kind=JobKind.DELETE, server=server_a)
    assert Server.objects.filter(pk=server_a.pk).exists()


def test_customer_cannot_act_on_a_suspended_server(client_a, server_a):
    Server.objects.filter(pk=server_a.pk).update(is_suspended=True, status="suspended")
    response = client_a.post(url(server_a, "power"), {"action": "start"}, format="json")
    assert response.status_code == 400
    assert "suspended" in response.json()["errors"]["non_field_errors"][0]
    assert not Job.objects.exists()


def test_staff_suspend_then_unsuspend(staff_client, server_a):
    job = assert_accepted(
        staff_client.post(url(server_a, "suspend")), kind=JobKind.SUSPEND, server=server_a
    )
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED)
    Server.objects.filter(pk=server_a.pk).update(is_suspended=True, status="suspended")
    assert_accepted(
        staff_client.post(url(server_a, "unsuspend")), kind=JobKind.UNSUSPEND, server=server_a
    )


def test_staff_delete_queues_a_job_and_keeps_the_row(staff_client, server_a, no_pve_calls):
    assert_accepted(staff_client.delete(url(server_a)), kind=JobKind.DELETE, server=server_a)
    assert Server.objects.filter(pk=server_a.pk).exists()


def test_staff_create_queues_a_job(
    staff_client, customer, plan, offline_node, offline_template, no_pve_calls
):
    payload = {
        "owner": customer.pk,
        "plan": plan.pk,
        "node": offline_node.pk,
        "template": offline_template.pk,
        "name": "delta",
        "hostname": "delta.example.com",
        "cpu_cores": 2,
        "memory_mib": 2048,
        "disk_gib": 20,
        "password": "initial-password-1",
    }
    response = staff_client.post("/api/v1/servers/", payload, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == JobKind.CREATE
    assert job.server.name == "delta"
    assert job.server.owner == customer
    assert response["Location"].endswith(f"/api/v1/jobs/{job.pk}/")


def test_staff_create_bad_input_is_400_per_field(
    staff_client, customer, plan, offline_node, offline_template
):
    payload = {
        "owner": 987654,
        "plan": plan.pk,
        "node": "x",
        "template": offline_template.pk,
        "name": "",
        "hostname": "not a hostname",
        "cpu_cores": 2,
        "memory_mib": 2048,
        "disk_gib": 10**40,
    }
    response = staff_client.post("/api/v1/servers/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"owner", "node", "name", "hostname", "disk_gib"}
    assert not Server.objects.filter(name="").exists()


def test_customer_cannot_create(client_a, customer, plan, offline_node, offline_template):
    response = client_a.post("/api/v1/servers/", {"owner": customer.pk}, format="json")
    assert response.status_code == 403


def test_huge_and_odd_ids_are_404(client_a, server_a):
    for path in (
        "/api/v1/servers/99999999999999999999999/",
        "/api/v1/servers/0/",
        "/api/v1/servers/99999999999999999999999/resize/",
    ):
        method = client_a.post if path.endswith("resize/") else client_a.get
        response = method(path, {"memory_mib": 4096}, format="json")
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


# --- tenant isolation: every route and method on another customer's server is 404 -------------

FOREIGN_SERVER_ROUTES = [
    ("get", "", None),
    ("delete", "", None),
    ("post", "resize", {"memory_mib": 4096}),
    ("post", "power", {"action": "start"}),
    ("post", "rebuild", {"template": None}),
    ("post", "reset-password", {"password": "a-long-new-password"}),
    ("post", "suspend", None),
    ("post", "unsuspend", None),
]


@pytest.mark.parametrize("method, action, payload", FOREIGN_SERVER_ROUTES)
def test_customer_gets_404_on_another_customers_server(
    client_a, server_b, offline_template, method, action, payload
):
    if payload and "template" in payload:
        payload = {"template": offline_template.pk}
    response = getattr(client_a, method)(url(server_b, action or None), payload, format="json")
    assert response.status_code == 404, (method, action, response.content)
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert not Job.objects.exists()
