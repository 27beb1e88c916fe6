"""rrddata for VMs and nodes: PVE 9's rows, steps and field names; a stopped VM's absent values."""

from __future__ import annotations

import itertools
import time

import pytest

from pvesim.handlers.rrd import RRD_SETUP

VM_FIELDS = {"time", "maxcpu", "cpu", "maxmem", "mem", "maxdisk", "disk", "netin", "netout"}
VM_FIELDS |= {"diskread", "diskwrite", "memhost", "pressurecpusome", "pressureiofull"}
NODE_FIELDS = {"time", "loadavg", "maxcpu", "cpu", "iowait", "memtotal", "memused", "memavailable"}
NODE_FIELDS |= {"swaptotal", "swapused", "roottotal", "rootused", "netin", "netout", "arcsize"}


@pytest.mark.parametrize(
    "timeframe, step_s, rows",
    [("hour", 60, 60), ("day", 60, 1440), ("week", 1800, 336), ("year", 21600, 1440)],
)
def test_vm_rrddata_has_pve9_rows_per_timeframe(pve_sim, pve_http, timeframe, step_s, rows):
    pve_sim.add_vm("pve1", 100, "web-1", 20, running=True, memory_mib=2048, cores=2)
    pve_sim.vm(100).started_at = time.time() - 400 * 86400  # running for the whole year
    data = pve_http.data("GET", "/nodes/pve1/qemu/100/rrddata", params={"timeframe": timeframe})
    assert (RRD_SETUP[timeframe]) == (step_s, rows)
    assert len(data) == rows
    times = [row["time"] for row in data]
    assert all(b - a == step_s for a, b in itertools.pairwise(times))
    assert times[-1] <= time.time() - step_s
    assert set(data[-1]) >= VM_FIELDS
    assert data[-1]["maxmem"] == 2048 * 1024**2 and data[-1]["maxcpu"] == 2
    assert 0 <= data[-1]["cpu"] <= 1 and 0 < data[-1]["mem"] <= data[-1]["maxmem"]


def test_series_are_deterministic_and_max_is_not_below_average(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web-1", 20, running=True)
    pve_sim.vm(100).started_at = time.time() - 30 * 86400
    path = "/nodes/pve1/qemu/100/rrddata"
    first = pve_http.data("GET", path, params={"timeframe": "week"})
    again = pve_http.data("GET", path, params={"timeframe": "week", "cf": "AVERAGE"})
    peak = pve_http.data("GET", path, params={"timeframe": "week", "cf": "MAX"})
    if first[0]["time"] == again[0]["time"]:  # not across a step boundary
        assert first == again
    assert len({row["netin"] for row in first}) > 10  # a series, not a constant
    assert all(p["netin"] >= a["netin"] for p, a in zip(peak, first, strict=True))


def test_stopped_vm_rows_hold_only_what_pvestatd_writes(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web-1", 20, running=False)
    data = pve_http.data("GET", "/nodes/pve1/qemu/100/rrddata", params={"timeframe": "hour"})
    assert {frozenset(row) for row in data} == {
        frozenset({"time", "maxcpu", "maxmem", "maxdisk", "disk"})
    }


def test_vm_started_recently_has_values_only_since_its_start(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web-1", 20, running=True)
    pve_sim.vm(100).started_at = time.time() - 20 * 60
    data = pve_http.data("GET", "/nodes/pve1/qemu/100/rrddata", params={"timeframe": "hour"})
    with_cpu = [row for row in data if "cpu" in row]
    assert 18 <= len(with_cpu) <= 21
    assert "cpu" not in data[0]


def test_node_rrddata_fields_and_decade(pve_sim, pve_http):
    data = pve_http.data("GET", "/nodes/pve2/rrddata", params={"timeframe": "hour"})
    assert len(data) == 60 and set(data[-1]) >= NODE_FIELDS
    decade = pve_http.data("GET", "/nodes/pve2/rrddata", params={"timeframe": "decade"})
    assert len(decade) == 570


def test_rrddata_refuses_what_pve_refuses(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web-1", 20)
    missing = pve_http.request("GET", "/nodes/pve1/qemu/100/rrddata")
    assert missing.status_code == 400 and "timeframe" in missing.json()["errors"]
    decade = pve_http.request("GET", "/nodes/pve1/qemu/100/rrddata", params={"timeframe": "decade"})
    assert decade.status_code == 400  # the VM call's enum has no decade
    unknown = pve_http.request("GET", "/nodes/pve1/qemu/999/rrddata", params={"timeframe": "day"})
    assert unknown.status_code == 500 and "No such file" in unknown.reason
