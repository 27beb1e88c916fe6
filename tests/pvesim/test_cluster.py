"""One cluster of nodes: GET /cluster/status, cluster-wide VMIDs, and /cluster/nextid racing."""

from __future__ import annotations

import pytest

from proxmox.errors import PveAlreadyExistsError, PveTaskAlreadyExistsError
from proxmox.waiting import wait_for_task
from pvesim import PveSimulator, schema


def test_cluster_status_lists_the_cluster_and_its_nodes(pve_http, pve_sim):
    items = pve_http.data("GET", "/cluster/status")
    assert schema.validate_response("GET", "/cluster/status", items) == []
    cluster, *nodes = items
    assert cluster == {
        "type": "cluster",
        "id": "cluster",
        "name": "pvesim",
        "nodes": 2,
        "version": 2,
        "quorate": 1,
    }
    assert [(n["type"], n["name"], n["nodeid"], n["online"], n["local"]) for n in nodes] == [
        ("node", "pve1", 1, 1, 1),
        ("node", "pve2", 2, 1, 0),
    ]
    assert all(n["id"] == f"node/{n['name']}" and n["ip"] for n in nodes)


def test_a_node_down_is_offline_and_the_two_node_cluster_loses_quorum(pve_http, pve_sim):
    pve_sim.knobs.set_node_down("pve2")
    cluster, _pve1, pve2 = pve_http.data("GET", "/cluster/status")
    assert pve2["online"] == 0 and "level" not in pve2
    assert cluster["quorate"] == 0


def test_a_single_node_is_standalone():
    with PveSimulator(nodes=("solo",)) as sim:
        from tests.fixtures.simulator import SimHttp

        (node,) = SimHttp(sim).data("GET", "/cluster/status")
    assert (node["type"], node["name"], node["nodeid"], node["local"]) == ("node", "solo", 0, 1)


def test_client_cluster_status(pve_client):
    names = [i["name"] for i in pve_client.cluster_status() if i["type"] == "node"]
    assert names == ["pve1", "pve2"]


# --- VMIDs are cluster-wide ---------------------------------------------------------------------


def test_nextid_does_not_reserve(pve_sim, pve_http):
    pve_sim.add_vm("pve2", 100, "web", 1)
    assert pve_http.data("GET", "/cluster/nextid") == "101"
    assert pve_http.data("GET", "/cluster/nextid") == "101"  # a second caller: the same id


def test_clone_onto_an_id_held_on_the_same_node_is_refused_before_the_fork(pve_sim, pve_http):
    pve_sim.add_template("pve1", 9000, "debian-12", 1)
    pve_sim.add_vm("pve1", 112, "other", 1)
    response = pve_http.request("POST", "/nodes/pve1/qemu/9000/clone", data={"newid": 112})
    assert (response.status_code, response.reason) == (
        500,
        "unable to create VM 112: config file already exists",
    )


def test_clone_onto_an_id_held_on_another_node_fails_in_the_task(pve_sim, pve_http):
    pve_sim.add_template("pve1", 9000, "debian-12", 1)
    other = pve_sim.add_vm("pve2", 112, "other", 1)
    before = dict(other.config)
    upid = pve_http.data("POST", "/nodes/pve1/qemu/9000/clone", data={"newid": 112})
    assert pve_http.wait(upid)["exitstatus"] == (
        "close (rename) atomic file '/etc/pve/nodes/pve1/qemu-server/112.conf' failed: File exists"
    )
    assert pve_sim.vm(112).node == "pve2" and pve_sim.vm(112).config == before


def test_create_onto_an_id_held_on_another_node_is_refused(pve_sim, pve_http):
    pve_sim.add_vm("pve2", 112, "other", 1)
    response = pve_http.request("POST", "/nodes/pve1/qemu", data={"vmid": 112, "cores": 1})
    assert (response.status_code, response.reason) == (
        500,
        "unable to create VM 112 - VM 112 already exists on node 'pve2'",
    )


# --- the nextid race knob -----------------------------------------------------------------------


@pytest.mark.parametrize("set_via_http", [False, True])
def test_nextid_race_gives_the_id_to_another_client(pve_sim, pve_http, set_via_http):
    if set_via_http:
        answer = pve_http.session.post(pve_sim.url + "/_sim/knobs", json={"nextid_races": 1})
        assert answer.json()["data"]["nextid_races"] == 1
    else:
        pve_sim.knobs.nextid_races = 1
    vmid = int(pve_http.data("GET", "/cluster/nextid"))
    taken = pve_sim.vm(vmid)
    assert taken is not None and taken.node == "pve1"
    assert pve_sim.knobs.nextid_races == 0
    assert int(pve_http.data("GET", "/cluster/nextid")) == vmid + 1  # no more races


def test_a_raced_clone_on_the_first_node_fails_at_once(pve_sim, pve_client):
    pve_sim.add_template("pve1", 9000, "debian-12", 1)
    pve_sim.knobs.nextid_races = 1
    vmid = pve_client.next_vmid()
    with pytest.raises(PveAlreadyExistsError) as exc:
        pve_client.vm_clone("pve1", 9000, newid=vmid)
    assert exc.value.vmid_taken == vmid


def test_a_raced_clone_on_another_node_fails_in_its_task(pve_sim, pve_client):
    pve_sim.add_template("pve2", 9000, "debian-12", 1)
    pve_sim.knobs.nextid_races = 1
    vmid = pve_client.next_vmid()
    upid = pve_client.vm_clone("pve2", 9000, newid=vmid)
    with pytest.raises(PveTaskAlreadyExistsError) as exc:
        wait_for_task(pve_client, upid, timeout_s=30)
    assert exc.value.vmid_taken == vmid
    assert pve_sim.vm(vmid).node == "pve1"  # the winner's VM is untouched
    retry = pve_client.next_vmid()
    wait_for_task(pve_client, pve_client.vm_clone("pve2", 9000, newid=retry), timeout_s=30)
    assert pve_sim.vm(retry).node == "pve2"
