"""Nodes admin: pages work, and the token secret is encrypted at rest and never rendered back."""

import pytest
from django.db import connection
from django.urls import reverse

from nodes.models import Node, Template

pytestmark = pytest.mark.django_db

SECRET = "d3b07384-d113-4ec6-a1b2-7c6f2a9e8f10"
FINGERPRINT = ":".join(["AB"] * 32)


@pytest.fixture
def node():
    return Node.objects.create(
        name="Frankfurt 1",
        api_url="https://pve1.example.com:8006",
        pve_node="pve1",
        token_id="panel@pve!panel",
        token_secret=SECRET,
        tls_fingerprint_sha256=FINGERPRINT,
    )


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def admin_post_data(**overrides):
    data = {
        "name": "Berlin 2",
        "api_url": "https://pve2.example.com",
        "pve_node": "pve2",
        "token_id": "panel@pve!panel",
        "token_secret": SECRET,
        "verify_tls": "on",
        "tls_fingerprint_sha256": FINGERPRINT.lower(),
        "vm_storage": "local-lvm",
        "backup_storage": "local",
        "max_vms": 100,
        "max_cpu_cores": 64,
        "max_memory_mib": 262144,
        "max_disk_gib": 4096,
        "max_concurrent_heavy_tasks": 2,
        "is_enabled": "on",
    }
    data.update(overrides)
    return data


def raw_secret_column(node_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_secret FROM nodes_node WHERE id = %s", [node_id])
        return cursor.fetchone()[0]


def test_the_secret_is_stored_as_ciphertext(node):
    stored = raw_secret_column(node.pk)

    assert SECRET not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert Node.objects.get(pk=node.pk).token_secret == SECRET


def test_add_page_renders(staff_client):
    response = staff_client.get(reverse("admin:nodes_node_add"))

    assert response.status_code == 200
    assert b'type="password"' in response.content


def test_adding_a_node_through_admin_stores_canonical_values_and_an_encrypted_secret(
    staff_client,
):
    response = staff_client.post(reverse("admin:nodes_node_add"), admin_post_data())

    assert response.status_code == 302, response.context["adminform"].form.errors
    node = Node.objects.get(name="Berlin 2")
    assert node.api_url == "https://pve2.example.com:8006"
    assert node.tls_fingerprint_sha256 == FINGERPRINT
    assert node.token_secret == SECRET
    assert SECRET not in raw_secret_column(node.pk)


def test_a_form_error_is_shown_in_the_page_and_nothing_is_saved(staff_client):
    response = staff_client.post(
        reverse("admin:nodes_node_add"), admin_post_data(api_url="http://pve2.example.com")
    )

    assert response.status_code == 200
    assert b"The PVE API must be reached over https." in response.content
    assert not Node.objects.filter(name="Berlin 2").exists()


def test_change_page_never_renders_the_secret(staff_client, node):
    response = staff_client.get(reverse("admin:nodes_node_change", args=[node.pk]))

    assert response.status_code == 200
    assert SECRET.encode() not in response.content
    assert raw_secret_column(node.pk).encode() not in response.content
    assert b'name="token_secret"' in response.content
    assert b"Leave empty to keep it" in response.content
    assert "token_secret" not in response.context["adminform"].form.initial


def test_list_page_shows_nodes_but_not_the_secret(staff_client, node):
    response = staff_client.get(reverse("admin:nodes_node_changelist"))

    assert response.status_code == 200
    assert b"Frankfurt 1" in response.content
    assert SECRET.encode() not in response.content


def test_saving_the_change_page_with_an_empty_secret_keeps_it(staff_client, node):
    data = admin_post_data(name="Frankfurt 1", pve_node="pve1", token_secret="")

    response = staff_client.post(reverse("admin:nodes_node_change", args=[node.pk]), data)

    assert response.status_code == 302
    node.refresh_from_db()
    assert node.token_secret == SECRET
    assert node.api_url == "https://pve2.example.com:8006"


def test_history_does_not_record_the_secret(staff_client, node):
    data = admin_post_data(name="Frankfurt 1", pve_node="pve1", token_secret="rotated-secret")
    staff_client.post(reverse("admin:nodes_node_change", args=[node.pk]), data)

    response = staff_client.get(reverse("admin:nodes_node_history", args=[node.pk]))

    assert response.status_code == 200
    assert b"rotated-secret" not in response.content
    assert Node.objects.get(pk=node.pk).token_secret == "rotated-secret"


def test_template_admin_pages_render(staff_client, node):
    template = Template.objects.create(node=node, vmid=9000, name="debian-12", disk_gib=3)

    assert staff_client.get(reverse("admin:nodes_template_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:nodes_template_add")).status_code == 200
    change = staff_client.get(reverse("admin:nodes_template_change", args=[template.pk]))
    assert change.status_code == 200
    assert b"debian-12" in change.content


def test_user_admin_pages_render(staff_client, customer):
    assert staff_client.get(reverse("admin:panel_user_changelist")).status_code == 200
    change = staff_client.get(reverse("admin:panel_user_change", args=[customer.pk]))
    assert change.status_code == 200


def test_staff_can_add_a_customer_in_the_user_admin(staff_client, django_user_model):
    response = staff_client.post(
        reverse("admin:panel_user_add"),
        {
            "username": "carol",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    carol = django_user_model.objects.get(username="carol")
    assert carol.check_password("a-long-pass-phrase-42")
    assert not carol.is_staff
