"""Hostile or sloppy input never produces a 500: each gets a 400 with field messages or a 404."""

import pytest

pytestmark = pytest.mark.django_db

HUGE = 10**30


@pytest.mark.parametrize(
    "changes",
    [
        {"owner": HUGE},
        {"plan": -1},
        {"node": True},
        {"template": {"id": 1}},
        {"template": [1]},
        {"name": "x\x00y"},
        {"hostname": "a" * 300},
        {"vmid": HUGE},
        {"vmid": 5},
        {"cpu_cores": None},
        {"ssh_keys": 12},
    ],
)
def test_create_with_bad_values_is_400(
    staff_client, customer, plan, offline_node, offline_template, changes
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
    }
    payload.update(changes)
    response = staff_client.post("/api/v1/servers/", payload, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == set(changes)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/templates/?node={HUGE}",
        "/api/v1/templates/?node=abc",
        "/api/v1/jobs/?server=-5",
        f"/api/v1/servers/?node={HUGE}",
        "/api/v1/servers/?ordering=password",
        "/api/v1/servers/?page=abc",
        f"/api/v1/servers/?page={HUGE}",
        f"/api/v1/plans/{HUGE}/",
        f"/api/v1/templates/{HUGE}/",
        f"/api/v1/nodes/{HUGE}/",
        "/api/v1/nodes/-1/",
        "/api/v1/no-such-thing/",
    ],
)
def test_odd_queries_and_ids_never_500(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code in (200, 400, 404), (path, response.status_code)
    assert response["Content-Type"] == "application/json"
    if response.status_code != 200:
        assert {"detail", "code"} <= set(response.json())


def test_revoking_an_odd_token_key_is_404(staff_client):
    for key in ("%00", "x" * 500, "..."):
        response = staff_client.delete(f"/api/v1/tokens/{key}/")
        assert response.status_code == 404, key


def test_missing_slash_is_a_json_404_that_says_so(staff_client):
    response = staff_client.get("/api/v1/servers")
    assert response.status_code == 404
    assert response.json()["detail"].endswith("/api/v1/servers/")


def test_form_encoded_and_unsupported_media_types(client_a, server_a):
    form = client_a.post(f"/api/v1/servers/{server_a.pk}/power/", {"action": "explode"})
    assert form.status_code == 400
    assert "action" in form.json()["errors"]
    xml = client_a.post(
        f"/api/v1/servers/{server_a.pk}/power/", "<a/>", content_type="application/xml"
    )
    assert xml.status_code == 415
    assert xml.json()["code"] == "unsupported_media_type"
