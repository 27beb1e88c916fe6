"""State that survives a restart (the demo), the demo seed, and the pvesim command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from proxmox.tls import FingerprintAdapter
from pvesim import PveSimulator
from pvesim.seed import seed_demo

ROOT = Path(__file__).resolve().parents[2]


def _session(sim_url: str, fingerprint: str, auth: str) -> requests.Session:
    session = requests.Session()
    session.mount(sim_url + "/", FingerprintAdapter(fingerprint))
    session.headers["Authorization"] = auth
    return session


def _start_long_clone(sim: PveSimulator) -> str:
    sim.add_template("pve1", 9000, "debian-12", 10)
    sim.knobs.set_task_duration("qmclone", 60)
    http = _session(sim.url, sim.fingerprint_sha256, sim.auth_header)
    response = http.post(
        sim.api_url + "/nodes/pve1/qemu/9000/clone", data={"newid": 100, "full": 1}, timeout=10
    )
    return response.json()["data"]


def _task_status(sim: PveSimulator, upid: str) -> dict:
    http = _session(sim.url, sim.fingerprint_sha256, sim.auth_header)
    return http.get(sim.api_url + f"/nodes/pve1/tasks/{upid}/status", timeout=10).json()["data"]


def test_state_file_keeps_vms_tasks_and_certificate_across_a_clean_restart(tmp_path):
    state_file = tmp_path / "state.json"
    with PveSimulator(state_file=state_file) as sim:
        upid = _start_long_clone(sim)
        fingerprint, secret = sim.fingerprint_sha256, sim.token_secret
    # stop() interrupts running tasks as a daemon shutdown does; the clone cleans up after itself
    with PveSimulator(state_file=state_file) as again:
        assert again.fingerprint_sha256 == fingerprint
        assert again.token_secret == secret
        assert again.vm(9000).is_template
        assert again.vm(100) is None
        status = _task_status(again, upid)
        assert (status["status"], status["exitstatus"]) == ("stopped", "interrupted by signal")


def test_a_crash_leaves_unexpected_status_and_stale_locks(tmp_path):
    state_file = tmp_path / "state.json"
    crashed = tmp_path / "crashed.json"
    with PveSimulator(state_file=state_file) as sim:
        upid = _start_long_clone(sim)
        shutil.copy(state_file, crashed)  # the file as it was while the clone ran
        shutil.copy(str(state_file) + ".tls.pem", str(crashed) + ".tls.pem")
    with PveSimulator(state_file=crashed) as again:
        status = _task_status(again, upid)
        assert (status["status"], status["exitstatus"]) == ("stopped", "unexpected status")
        assert again.vm(100).config["lock"] == "clone"  # PVE leaves the lock behind too


def test_demo_seed_has_two_templates_per_node_and_two_vms():
    sim = PveSimulator(nodes=("pve1", "pve2", "pve3"))
    seed_demo(sim)
    templates = [vm for vm in sim.state.all_vms() if vm.is_template]
    assert len(templates) == 6
    assert {vm.config["name"] for vm in templates} == {"debian-12", "ubuntu-24.04"}
    assert {vm.node for vm in templates} == {"pve1", "pve2", "pve3"}
    ordinary = [vm for vm in sim.state.all_vms() if not vm.is_template]
    assert len(ordinary) == 2
    seed_demo(sim)  # idempotent: a restarted demo keeps its cluster
    assert len(sim.state.all_vms()) == 8


def test_pvesim_command_serves_and_writes_its_info_file(tmp_path):
    info_file = tmp_path / "info.json"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pvesim",
            "--port",
            "0",
            "--nodes",
            "2",
            "--demo",
            "--info-file",
            str(info_file),
            "--state",
            str(tmp_path / "state.json"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not info_file.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "pvesim did not start"
            time.sleep(0.1)
        info = json.loads(info_file.read_text())
        assert info["nodes"] == ["pve1", "pve2"]
        auth = f"PVEAPIToken={info['token_id']}={info['token_secret']}"
        http = _session(info["url"], info["fingerprint_sha256"], auth)
        resources = http.get(
            info["url"] + "/api2/json/cluster/resources", params={"type": "vm"}, timeout=10
        ).json()["data"]
        assert sum(1 for r in resources if r["template"]) == 4
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "fingerprint:" in output and info["fingerprint_sha256"] in output
