"""Customers read where their server is, never the PVE node's name; staff see the node."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def named_node(offline_node):
    offline_node.name = "pve-fra-07"
    offline_node.location = "Frankfurt, DE"
    offline_node.save()
    return offline_node


@pytest.mark.parametrize("page", ["servers:list", "servers:detail"])
def test_a_customer_sees_the_location_not_the_node_name(
    alice_client, alice_server, named_node, page
):
    args = [alice_server.pk] if page == "servers:detail" else []
    body = alice_client.get(reverse(page, args=args)).content.decode()
    assert "Frankfurt, DE" in body
    assert "pve-fra-07" not in body


@pytest.mark.parametrize("page", ["servers:list", "servers:detail"])
def test_a_node_without_a_location_shows_none(alice_client, alice_server, named_node, page):
    named_node.location = ""
    named_node.save()
    args = [alice_server.pk] if page == "servers:detail" else []
    body = alice_client.get(reverse(page, args=args)).content.decode()
    assert "pve-fra-07" not in body


def test_staff_see_the_node_and_the_owner(client, staff_user, alice_server, named_node):
    client.force_login(staff_user)
    response = client.get(reverse("servers:list"))
    body = response.content.decode()
    assert "pve-fra-07" in body
    assert '<td class="col-owner" data-label="Owner">alice</td>' in body
    assert "All servers" in body.split("<caption")[1].split("</caption>")[0]
    assert "Your servers" not in body


def test_a_customers_caption_says_your_servers(alice_client, alice_server):
    body = alice_client.get(reverse("servers:list")).content.decode()
    assert "Your servers" in body.split("<caption")[1].split("</caption>")[0]
    assert "col-owner" not in body


def test_customers_read_a_plain_sentence_for_a_server_in_error(
    alice_client, client, staff_user, alice_server
):
    """``status_reason`` holds PVE's text and node names: staff's, never a customer's."""
    reason = "Rebuild failed: Clone the template: VM 101 does not exist on pve-fra-1."
    type(alice_server).objects.filter(pk=alice_server.pk).update(
        status="error", status_reason=reason
    )
    page = alice_client.get(reverse("servers:detail", args=[alice_server.pk])).content.decode()
    assert "Something went wrong with this server" in page
    assert "pve-fra-1" not in page and "does not exist" not in page
    client.force_login(staff_user)
    page = client.get(reverse("servers:detail", args=[alice_server.pk])).content.decode()
    assert "VM 101 does not exist on pve-fra-1." in page
