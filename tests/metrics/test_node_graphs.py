"""Staff's node graphs in admin: from the cache like the customers' (never PVE in the request),
PVE's text when the node does not answer, and no way in for customers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from metrics import services

NODE_RRD = "GET /nodes/{node}/rrddata"
pytestmark = pytest.mark.django_db


def node_graphs_url(node, timeframe: str | None = None) -> str:
    url = reverse("metrics:node-graphs", args=[node.pk])
    return f"{url}?timeframe={timeframe}" if timeframe else url


def refresh(node, timeframe: str = "hour") -> None:
    services.graph_refresh(kind="node", node_id=node.pk, vmid=None, timeframe=timeframe)


def test_staff_read_the_node_graphs_with_units(admin_client, node, pve_sim):
    assert "Loading graphs" in admin_client.get(node_graphs_url(node)).content.decode()
    assert pve_sim.calls[NODE_RRD] == 0
    refresh(node, "day")
    assert pve_sim.calls[NODE_RRD] == 1
    body = admin_client.get(node_graphs_url(node, "day")).content.decode()
    for chart in ("cpu", "load", "memory", "network"):
        assert f'data-testid="graph-{chart}"' in body
    assert " %</td>" in body and " MiB</td>" in body and "B/s</td>" in body


def test_the_node_change_page_links_to_its_graphs(admin_client, node):
    body = admin_client.get(reverse("admin:nodes_node_change", args=[node.pk])).content.decode()
    assert node_graphs_url(node) in body


def test_staff_see_pves_text_when_the_node_does_not_answer(admin_client, offline_node):
    refresh(offline_node)
    response = admin_client.get(node_graphs_url(offline_node), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Graphs are unavailable right now." in body and 'data-testid="graphs-reason"' in body


def test_customers_are_sent_to_the_admin_sign_in(client, customer, node):
    client.force_login(customer)
    response = client.get(node_graphs_url(node))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
