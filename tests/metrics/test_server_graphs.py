"""A server's usage graphs: through the cache (pages never call PVE), one PVE call per lifetime,
a node that does not answer says so, another customer's server is a 404, a table without JS."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from metrics import services
from metrics.graphs import TIMEFRAMES

VM_RRD = "GET /nodes/{node}/qemu/{vmid}/rrddata"
HTMX = {"HTTP_HX_REQUEST": "true"}
DEADLINE_S = 60.0


def graphs_url(server, timeframe: str | None = None) -> str:
    url = reverse("metrics:server-graphs", args=[server.pk])
    return f"{url}?timeframe={timeframe}" if timeframe else url


def refresh(server, timeframe: str = "hour") -> None:
    """What the worker's task does, in this process."""
    services.graph_refresh(kind="vm", node_id=server.node_id, vmid=server.vmid, timeframe=timeframe)


@pytest.fixture
def alice(client, customer):
    client.force_login(customer)
    return client


@pytest.mark.django_db
def test_first_view_says_loading_and_queues_one_refresh(alice, server, pve_sim):
    first = alice.get(graphs_url(server), **HTMX)
    second = alice.get(graphs_url(server), **HTMX)
    assert first.status_code == second.status_code == 200
    assert "Loading graphs" in first.content.decode()
    assert 'hx-trigger="load delay:2s"' in first.content.decode()  # it polls
    subject = services.GraphSubject(kind="vm", node_id=server.node_id, vmid=server.vmid)
    assert cache.get(services._lock_key(subject, "hour")) == 1  # one refresh on its way
    assert pve_sim.calls[VM_RRD] == 0  # the page itself never calls PVE


@pytest.mark.django_db
@pytest.mark.parametrize("timeframe", list(TIMEFRAMES))
def test_refresh_asks_pve_with_valid_parameters_and_the_page_draws_it(
    alice, server, pve_sim, timeframe
):
    # The simulator validates every request against PVE's schema (a 400 would leave the graph
    # unavailable), so a drawn graph means timeframe and cf were valid.
    refresh(server, timeframe)
    assert pve_sim.calls[VM_RRD] == 1
    body = alice.get(graphs_url(server, timeframe), **HTMX).content.decode()
    assert 'data-state="ready"' in body
    for chart in ("cpu", "memory", "disk", "network"):
        assert f'data-testid="graph-{chart}"' in body
    assert 'id="graph-data"' in body and "uPlot" not in body  # data only; the script is static


@pytest.mark.django_db
def test_table_without_javascript_shows_values_with_units(alice, server, pve_sim):
    pve_sim.vm(server.vmid).started_at = time.time() - 7200
    refresh(server)
    page = alice.get(graphs_url(server))  # a plain request: the page of its own
    body = page.content.decode()
    assert page.status_code == 200
    assert '<details class="graph-table" open>' in body
    assert " %</td>" in body and " MiB</td>" in body and "B/s</td>" in body
    assert "2,048 MiB" in body  # the server's memory (maxmem) as PVE holds it


@pytest.mark.django_db
def test_stopped_server_shows_gaps_not_zeros(alice, server_factory, pve_sim):
    stopped = server_factory(running=False)
    refresh(stopped)
    body = alice.get(graphs_url(stopped)).content.decode()
    assert "—</td>" in body and " %</td>" not in body


@pytest.mark.django_db
def test_a_node_that_does_not_answer_makes_graphs_unavailable_not_a_500(
    client, customer, offline_server
):
    client.force_login(customer)
    refresh(offline_server)
    response = client.get(graphs_url(offline_server), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Graphs are unavailable right now." in body
    assert "PVE:" not in body  # customers read the sentence, not the transport error


@pytest.mark.django_db
def test_a_stale_graph_is_served_while_one_refresh_is_queued(alice, server, pve_sim):
    refresh(server)
    subject = services.GraphSubject(kind="vm", node_id=server.node_id, vmid=server.vmid)
    key = subject.cache_key("hour")
    entry = cache.get(key)
    cache.set(key, {**entry, "fetched_at": entry["fetched_at"] - 61})
    body = alice.get(graphs_url(server), **HTMX).content.decode()
    assert 'data-state="ready"' in body
    assert cache.get(services._lock_key(subject, "hour")) == 1


@pytest.mark.django_db
def test_another_customers_server_is_a_404(client, other_customer, server):
    client.force_login(other_customer)
    assert client.get(graphs_url(server), **HTMX).status_code == 404
    assert client.get(graphs_url(server)).status_code == 404


@pytest.mark.django_db
def test_an_unknown_timeframe_is_a_400(alice, server):
    assert alice.get(graphs_url(server, "decade")).status_code == 400


@pytest.mark.django_db
def test_a_loading_graph_that_never_arrives_gives_up_polling(alice, server):
    body = alice.get(graphs_url(server) + "?poll=30", **HTMX).content.decode()
    assert "Graphs are unavailable right now." in body and "delay:2s" not in body


@pytest.mark.django_db
def test_the_server_page_loads_its_graphs_lazily(alice, server, pve_sim):
    body = alice.get(reverse("servers:detail", args=[server.pk])).content.decode()
    assert f'hx-get="{graphs_url(server)}" hx-trigger="load"' in body
    assert "vendor/uplot/uPlot.iife.min.js" in body
    assert pve_sim.calls[VM_RRD] == 0


@pytest.mark.django_db(transaction=True)
def test_many_page_views_cost_one_pve_call_per_lifetime(
    client, customer, server_factory, pve_sim, celery_worker_process
):
    server = server_factory()
    client.force_login(customer)
    deadline = time.monotonic() + DEADLINE_S
    while 'data-state="ready"' not in client.get(graphs_url(server), **HTMX).content.decode():
        assert time.monotonic() < deadline, celery_worker_process.log_tail()
        time.sleep(0.1)
    for _ in range(25):
        assert 'data-state="ready"' in client.get(graphs_url(server), **HTMX).content.decode()
    # Counted for this VM: a refresh an earlier test queued may reach the worker meanwhile.
    path = f"GET /nodes/{server.node.pve_node}/qemu/{server.vmid}/rrddata"
    assert pve_sim.calls_by_path[path] == 1


@pytest.mark.django_db
def test_a_server_without_a_vm_yet_has_no_graphs_and_asks_nothing(alice, server, pve_sim):
    type(server).objects.filter(pk=server.pk).update(vmid=None)
    body = alice.get(graphs_url(server), **HTMX).content.decode()
    assert "No usage to show yet" in body
    assert not cache.get(services._lock_key(services.GraphSubject("vm", server.node_id), "hour"))
