import pytest
from django.urls import reverse

from servers.models import ServerStatus
from tests.fixtures.data import offline_node_row
from tests.ui.conftest import make_server

pytestmark = pytest.mark.django_db


def test_new_customer_sees_the_empty_state(alice_client, bob_server):
    response = alice_client.get(reverse("servers:list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "No servers yet" in body
    assert "bobs-db" not in body
    assert "<table" not in body


def test_list_shows_name_hostname_location_specs_and_status(alice_client, alice_server, bob_server):
    body = alice_client.get(reverse("servers:list")).content.decode()
    detail = reverse("servers:detail", args=[alice_server.pk])
    assert f'<a href="{detail}">web-1</a>' in body
    assert "web-1.example.com" in body
    assert "Frankfurt 1" in body
    assert "2 vCPU · 4 GiB RAM · 40 GiB disk" in body
    assert '<span class="badge badge-running">Running</span>' in body
    assert "bobs-db" not in body


def test_list_filters_by_search_status_and_location(
    alice_client, customer, alice_server, plan, offline_node
):
    make_server(
        customer,
        plan,
        offline_node,
        name="mail",
        vmid=102,
        hostname="mx.example.org",
        status=ServerStatus.STOPPED,
    )

    def names(**params):
        response = alice_client.get(reverse("servers:list"), params)
        assert response.status_code == 200
        return [row.server.name for row in response.context["table"].rows]

    assert names() == ["mail", "web-1"]
    assert names(q="MX.EXAMPLE") == ["mail"]
    assert names(q="web") == ["web-1"]
    assert names(status="stopped") == ["mail"]
    assert names(node=offline_node.pk) == ["mail", "web-1"]
    assert names(ordering="-name") == ["web-1", "mail"]
    no_match = alice_client.get(reverse("servers:list"), {"q": "nothing-like-this"})
    assert "No servers match" in no_match.content.decode()


def test_location_choices_are_the_customers_own(alice_client, alice_server, bob_server):
    elsewhere = offline_node_row(name="Paris 9", pve_node="pve9")
    bob_server.node = elsewhere
    bob_server.save()
    body = alice_client.get(reverse("servers:list")).content.decode()
    assert "Frankfurt 1" in body
    assert "Paris 9" not in body


def test_columns_sort_and_keep_the_filters(
    alice_client, customer, alice_server, plan, offline_node
):
    make_server(customer, plan, offline_node, name="api", vmid=103)
    response = alice_client.get(reverse("servers:list"), {"q": "web", "ordering": "name"})
    body = response.content.decode()
    assert [row.server.name for row in response.context["table"].rows] == ["web-1"]
    assert '<th scope="col" class="col-name" aria-sort="ascending">' in body
    assert 'href="?q=web&amp;ordering=-name"' in body  # a second click sorts descending
    assert 'href="?q=web&amp;ordering=hostname"' in body
    assert '<input type="hidden" name="ordering" value="name">' in body
    response = alice_client.get(reverse("servers:list"), {"ordering": "-name"})
    assert [row.server.name for row in response.context["table"].rows] == ["web-1", "api"]
