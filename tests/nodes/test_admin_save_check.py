"""Saving a node in admin checks its connection (read-only, against the simulator): a node whose
fingerprint, token or PVE node name is wrong is saved disabled, with the reason shown."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from nodes.models import Node
from tests.nodes.test_admin import admin_post_data

pytestmark = pytest.mark.django_db

OTHER_FINGERPRINT = ":".join(["5A"] * 32)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def _add(client, pve_sim, **overrides):
    values = {
        "name": "sim",
        "api_url": pve_sim.url,
        "pve_node": "pve1",
        "token_id": pve_sim.token_id,
        "token_secret": pve_sim.token_secret,
        "tls_fingerprint_sha256": pve_sim.fingerprint_sha256,
    }
    data = admin_post_data(**{**values, **overrides})
    response = client.post(reverse("admin:nodes_node_add"), data, follow=True)
    assert response.status_code == 200
    messages = [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]
    return response, Node.objects.get(name="sim"), messages


def test_a_node_that_answers_is_added_enabled(staff_client, pve_sim):
    _response, node, messages = _add(staff_client, pve_sim)
    assert node.is_enabled
    assert (node.last_check_error, node.pve_version) == ("", "9.1.3")
    assert [level for level, _ in messages] == ["success"]


@pytest.mark.parametrize(
    "wrong, reason",
    [
        ({"tls_fingerprint_sha256": OTHER_FINGERPRINT}, "does not match the pinned fingerprint"),
        ({"token_secret": "not-the-secret"}, "authentication failed"),
        ({"pve_node": "pve9"}, "no PVE node named 'pve9'"),
    ],
)
def test_a_node_that_fails_the_check_is_saved_disabled_with_the_reason(
    staff_client, pve_sim, wrong, reason
):
    response, node, messages = _add(staff_client, pve_sim, **wrong)

    assert not node.is_enabled
    assert reason in node.last_check_error
    ((level, text),) = messages
    assert level == "error"
    assert "saved but DISABLED" in text and reason in text
    assert "successfully" not in text
    # Back on the node's form, the reason shown in it too.
    assert response.request["PATH_INFO"] == reverse("admin:nodes_node_change", args=[node.pk])
    assert reason in response.content.decode().replace("&#x27;", "'")


def test_fixing_the_node_clears_the_reason(staff_client, pve_sim):
    _response, node, _ = _add(staff_client, pve_sim, pve_node="pve9")
    data = admin_post_data(
        name="sim",
        api_url=pve_sim.url,
        pve_node="pve1",
        token_id=pve_sim.token_id,
        token_secret="",
        tls_fingerprint_sha256=pve_sim.fingerprint_sha256,
    )
    staff_client.post(reverse("admin:nodes_node_change", args=[node.pk]), data)
    node.refresh_from_db()
    assert (node.is_enabled, node.last_check_error) == (True, "")
