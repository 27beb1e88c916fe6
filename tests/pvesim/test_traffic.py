"""The NIC byte counters (netin/netout): where PVE reports them, growing while the VM runs, from
zero at every start (a new QEMU process, a new tap device), carried across a reset."""

from __future__ import annotations

import pytest

from pvesim.traffic import nic_rates_bps


def _counters(pve_http, vmid: int, node: str = "pve1") -> dict:
    status = pve_http.data("GET", f"/nodes/{node}/qemu/{vmid}/status/current")
    (resource,) = [
        r
        for r in pve_http.data("GET", "/cluster/resources", params={"type": "vm"})
        if r["vmid"] == vmid
    ]
    assert (status["netin"], status["netout"]) == (resource["netin"], resource["netout"])
    assert isinstance(status["netin"], int) and isinstance(status["netout"], int)
    return status


@pytest.fixture
def quiet_vm(pve_sim):
    """A running VM whose NIC moves only the bytes a test adds."""
    pve_sim.knobs.net_rate_scale = 0
    return pve_sim.add_vm("pve1", 100, "web", 5, running=True)


def test_added_bytes_show_in_status_and_cluster_resources(pve_sim, pve_http, quiet_vm):
    assert _counters(pve_http, 100)["netin"] == 0
    pve_sim.add_traffic(100, netin=5_000, netout=7_000)
    status = _counters(pve_http, 100)
    assert (status["netin"], status["netout"]) == (5_000, 7_000)


def test_counters_restart_from_zero_when_the_vm_starts_again(pve_sim, pve_http, quiet_vm):
    pve_sim.add_traffic(100, netin=5_000, netout=7_000)
    pve_http.wait(pve_http.data("POST", "/nodes/pve1/qemu/100/status/stop"))
    stopped = _counters(pve_http, 100)
    assert (stopped["netin"], stopped["netout"]) == (0, 0)
    pve_http.wait(pve_http.data("POST", "/nodes/pve1/qemu/100/status/start"))
    pve_sim.add_traffic(100, netin=10)
    assert _counters(pve_http, 100)["netin"] == 10


def test_a_reboot_is_a_new_process_and_a_reset_is_not(pve_sim, pve_http, quiet_vm):
    pve_sim.add_traffic(100, netin=5_000)
    pve_http.wait(pve_http.data("POST", "/nodes/pve1/qemu/100/status/reset"))
    assert _counters(pve_http, 100)["netin"] == 5_000
    pve_http.wait(pve_http.data("POST", "/nodes/pve1/qemu/100/status/reboot"))
    assert _counters(pve_http, 100)["netin"] == 0


def test_a_stopped_vm_moves_no_traffic(pve_sim):
    pve_sim.add_vm("pve1", 100, "web", 5, running=False)
    with pytest.raises(ValueError):
        pve_sim.add_traffic(100, netin=1)


def test_running_vms_grow_at_plausible_seeded_rates(pve_sim):
    netin, netout = nic_rates_bps(pve_sim.seed, 100)
    assert 2_000 <= netin <= 40_000 and 0.5 * netin <= netout <= 3 * netin
    assert nic_rates_bps(pve_sim.seed, 100) == (netin, netout)  # the same every run
    assert nic_rates_bps(pve_sim.seed, 101) != (netin, netout)
    vm = pve_sim.add_vm("pve1", 100, "web", 5, running=True)
    assert (vm.netin_rate_bps, vm.netout_rate_bps) == (netin, netout)
