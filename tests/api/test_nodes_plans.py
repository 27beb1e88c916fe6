import pytest

from nodes.models import Node

pytestmark = pytest.mark.django_db

SECRET = "0b2e5d4e-6c2f-4c27-9a3b-000000000000"


def test_nodes_are_staff_only(client_a, anon_client, offline_node):
    assert anon_client.get("/api/v1/nodes/").status_code == 401
    assert client_a.get("/api/v1/nodes/").status_code == 403
    assert client_a.get(f"/api/v1/nodes/{offline_node.pk}/").status_code == 403


def test_node_secret_is_never_returned(staff_client, offline_node):
    listed = staff_client.get("/api/v1/nodes/")
    detail = staff_client.get(f"/api/v1/nodes/{offline_node.pk}/")
    for response in (listed, detail):
        assert response.status_code == 200
        assert SECRET not in response.content.decode()
        assert '"token_secret"' not in response.content.decode()
    assert detail.json()["has_token_secret"] is True


def test_staff_registers_a_node_with_normalised_values(staff_client):
    response = staff_client.post(
        "/api/v1/nodes/",
        {
            "name": "Paris 1",
            "api_url": "https://pve2.example.com",
            "pve_node": "pve2",
            "token_id": "panel@pve!panel",
            "token_secret": "new-secret-value",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert "new-secret-value" not in response.content.decode()
    node = Node.objects.get(name="Paris 1")
    assert node.api_url == "https://pve2.example.com:8006"
    assert node.token_secret == "new-secret-value"


def test_node_validation_is_400_per_field(staff_client):
    response = staff_client.post(
        "/api/v1/nodes/",
        {
            "name": "Bad",
            "api_url": "http://pve.example.com",
            "pve_node": "pve2",
            "token_id": "root",
            "verify_tls": False,
            "max_vms": 10**12,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "max_vms" in response.json()["errors"]
    response = staff_client.post(
        "/api/v1/nodes/",
        {
            "name": "Bad",
            "api_url": "http://pve.example.com",
            "pve_node": "pve2",
            "token_id": "root",
            "verify_tls": False,
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"api_url", "token_id", "token_secret"} <= set(errors)
    assert not Node.objects.filter(name="Bad").exists()


def test_patch_without_secret_keeps_it(staff_client, offline_node):
    response = staff_client.patch(
        f"/api/v1/nodes/{offline_node.pk}/", {"max_vms": 7}, format="json"
    )
    assert response.status_code == 200, response.content
    offline_node.refresh_from_db()
    assert offline_node.max_vms == 7
    assert offline_node.token_secret == SECRET


def test_node_with_servers_cannot_be_deleted(staff_client, server_a):
    response = staff_client.delete(f"/api/v1/nodes/{server_a.node_id}/")
    assert response.status_code == 409
    assert response.json()["code"] == "protected"
    assert Node.objects.filter(pk=server_a.node_id).exists()


def test_plans_are_readable_by_customers(client_a, plan):
    from servers.models import Plan

    Plan.objects.create(
        name="Retired", max_cpu_cores=1, max_memory_mib=512, max_disk_gib=10, is_active=False
    )
    body = client_a.get("/api/v1/plans/").json()
    assert [p["name"] for p in body["results"]] == ["Standard"]
    assert client_a.get(f"/api/v1/plans/{plan.pk}/").json()["max_disk_gib"] == 200
    assert client_a.post("/api/v1/plans/", {"name": "x"}, format="json").status_code == 405


def test_templates_are_readable(client_a, offline_template):
    body = client_a.get("/api/v1/templates/").json()
    assert [t["id"] for t in body["results"]] == [offline_template.pk]
