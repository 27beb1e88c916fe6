"""The nodes admin's actions run real reads against the simulator and report through messages."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from nodes.models import Node, Template
from nodes.services import node_register

pytestmark = pytest.mark.django_db

OTHER_FINGERPRINT = ":".join(["5A"] * 32)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def sim_node(pve_sim, name="sim pve1", pve_node="pve1", **overrides) -> Node:
    values = {
        "api_url": pve_sim.url,
        "token_id": pve_sim.token_id,
        "token_secret": pve_sim.token_secret,
        "fingerprint_sha256": pve_sim.fingerprint_sha256,
    }
    values.update(overrides)
    return node_register(name=name, pve_node=pve_node, **values)


def run_action(client, action: str, nodes):
    response = client.post(
        reverse("admin:nodes_node_changelist"),
        {"action": action, "_selected_action": [n.pk for n in nodes]},
        follow=True,
    )
    assert response.status_code == 200
    return response, [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_test_connection_reports_each_nodes_version(staff_client, pve_sim):
    nodes = [sim_node(pve_sim), sim_node(pve_sim, name="sim pve2", pve_node="pve2")]

    response, messages = run_action(staff_client, "test_connection", nodes)

    assert sorted(messages) == [
        ("success", "Node sim pve1: connected, PVE version 9.1.3."),
        ("success", "Node sim pve2: connected, PVE version 9.1.3."),
    ]
    assert b"9.1.3" in response.content  # the list's version column, and the message
    assert set(Node.objects.values_list("pve_version", flat=True)) == {"9.1.3"}


def test_test_connection_with_a_wrong_fingerprint_is_an_error_message_not_a_500(
    staff_client, pve_sim
):
    good = sim_node(pve_sim)
    bad = sim_node(pve_sim, name="mitm", fingerprint_sha256=OTHER_FINGERPRINT)

    _, messages = run_action(staff_client, "test_connection", [good, bad])

    errors = [text for level, text in messages if level == "error"]
    assert len(errors) == 1
    assert errors[0].startswith("Node mitm (")
    assert "does not match the pinned fingerprint" in errors[0]
    assert ("success", "Node sim pve1: connected, PVE version 9.1.3.") in messages


def test_test_connection_with_a_wrong_token_is_a_clear_error(staff_client, pve_sim):
    node = sim_node(pve_sim, token_secret="not-the-secret")

    _, messages = run_action(staff_client, "test_connection", [node])

    [(level, text)] = messages
    assert level == "error"
    assert "authentication failed for API token panel@pve!panel" in text
    assert "not-the-secret" not in text


def test_sync_templates_action_creates_template_rows(staff_client, pve_sim):
    pve_sim.add_template("pve1", 9000, "debian-12", 3)
    pve_sim.add_template("pve1", 9001, "ubuntu-24.04", 4)
    node = sim_node(pve_sim)

    _, messages = run_action(staff_client, "sync_templates", [node])

    assert messages == [
        ("success", "Node sim pve1: templates 2 new, 0 updated, 0 no longer on PVE.")
    ]
    assert sorted(Template.objects.filter(node=node).values_list("vmid", "disk_gib")) == [
        (9000, 3),
        (9001, 4),
    ]


def test_sync_templates_action_reports_an_unreachable_node(staff_client, pve_sim):
    node = sim_node(pve_sim, fingerprint_sha256=OTHER_FINGERPRINT)

    _, messages = run_action(staff_client, "sync_templates", [node])

    [(level, text)] = messages
    assert level == "error"
    assert "does not match the pinned fingerprint" in text
    assert not Template.objects.exists()


def test_customers_cannot_reach_the_nodes_admin(client, customer):
    client.force_login(customer)

    response = client.get(reverse("admin:nodes_node_changelist"))

    assert response.status_code == 302
    assert "/login/" in response["Location"]
