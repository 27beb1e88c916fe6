"""Sampling on the simulator: one /cluster/resources call per node, deltas in bytes per hour,
right across a VM restart."""

from __future__ import annotations

import pytest

from tests.fixtures.data import sim_node
from traffic.models import TrafficCounter, TrafficHour
from traffic.services import traffic_nodes_to_sample, traffic_sample_and_enforce

pytestmark = pytest.mark.django_db


def _sample(node):
    return traffic_sample_and_enforce(node_id=node.pk)


def _hours(server) -> tuple[int, int]:
    rows = TrafficHour.objects.filter(server=server)
    return sum(r.in_bytes for r in rows), sum(r.out_bytes for r in rows)


def _restart(pve_http, server, node="pve1"):
    base = f"/nodes/{node}/qemu/{server.vmid}/status"
    pve_http.wait(pve_http.data("POST", f"{base}/stop"))
    pve_http.wait(pve_http.data("POST", f"{base}/start"))


def test_one_call_per_node_reads_every_server_there(quiet_sim, server_factory, node):
    other = sim_node(quiet_sim, name="Sim 2", pve_node="pve2")
    servers = [server_factory(), server_factory(), server_factory(node=other)]
    assert sorted(traffic_nodes_to_sample()) == sorted([node.pk, other.pk])
    for s in servers:
        quiet_sim.add_traffic(s.vmid, netin=1_000, netout=2_000)
    quiet_sim.reset_calls()

    for n in (node, other):
        _sample(n)

    assert quiet_sim.calls["GET /cluster/resources"] == 2
    assert sum(quiet_sim.calls.values()) == 2  # no per-VM status calls
    assert TrafficCounter.objects.count() == 3


def test_deltas_are_stored_in_bytes_per_hour(quiet_sim, server, node):
    _sample(node)  # the baseline
    assert _hours(server) == (0, 0)
    quiet_sim.add_traffic(server.vmid, netin=1_500, netout=17)
    _sample(node)
    assert _hours(server) == (1_500, 17)  # a few bytes never read as zero
    quiet_sim.add_traffic(server.vmid, netin=500, netout=3)
    _sample(node)
    _sample(node)  # nothing moved: nothing added (a redelivered beat counts nothing twice)
    assert _hours(server) == (2_000, 20)
    assert TrafficHour.objects.filter(server=server).count() == 1


def test_deltas_are_right_across_a_restart(quiet_sim, pve_http, server, node):
    _sample(node)
    quiet_sim.add_traffic(server.vmid, netin=10_000, netout=20_000)
    _sample(node)
    _restart(pve_http, server)
    quiet_sim.add_traffic(server.vmid, netin=300, netout=400)  # lower than before: a reset
    _sample(node)
    assert _hours(server) == (10_300, 20_400)


def test_a_restart_that_moved_more_than_before_is_counted_from_zero(
    quiet_sim, pve_http, server, node
):
    quiet_sim.vm(server.vmid).started_at -= 3600  # up for an hour at the first reading
    quiet_sim.add_traffic(server.vmid, netin=1_000, netout=1_000)
    _sample(node)
    _restart(pve_http, server)
    quiet_sim.add_traffic(server.vmid, netin=5_000, netout=8_000)  # higher than the last reading
    _sample(node)
    assert _hours(server) == (5_000, 8_000)  # not 4_000 / 7_000


def test_a_node_that_does_not_answer_counts_nothing_and_later_catches_up(quiet_sim, server, node):
    _sample(node)
    quiet_sim.add_traffic(server.vmid, netin=700, netout=900)
    quiet_sim.knobs.fail_next_calls("596", 1, endpoint="GET /cluster/resources")
    sample = _sample(node)
    assert sample.error and _hours(server) == (0, 0)
    _sample(node)
    assert _hours(server) == (700, 900)


def test_a_stopped_vm_moves_nothing(quiet_sim, pve_http, server, node):
    _sample(node)
    quiet_sim.add_traffic(server.vmid, netin=100, netout=100)
    pve_http.wait(pve_http.data("POST", f"/nodes/pve1/qemu/{server.vmid}/status/stop"))
    _sample(node)
    _sample(node)
    assert _hours(server) == (0, 0)  # what moved between the last reading and the stop is unknown
