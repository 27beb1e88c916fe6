"""The simulator's HTTP surface: TLS pinning, token auth, PVE's error shapes, faults, admin API."""

from __future__ import annotations

import pytest
import requests

from proxmox.client import PveClient
from proxmox.errors import PveAuthError, PveTlsError, PveTransientError
from pvesim import PveSimulator


def test_fingerprint_is_pve_format_and_pins_the_served_certificate(pve_sim, pve_client):
    assert len(pve_sim.fingerprint_sha256.split(":")) == 32
    assert pve_sim.fingerprint_sha256 == pve_sim.fingerprint_sha256.upper()
    assert pve_client.version()["release"] == "9.1"


def test_a_client_pinned_to_another_fingerprint_is_refused(pve_sim):
    wrong = ":".join(["AB"] * 32)
    client = PveClient(
        pve_sim.url,
        token_id=pve_sim.token_id,
        token_secret=pve_sim.token_secret,
        fingerprint_sha256=wrong,
    )
    with pytest.raises(PveTlsError):
        client.version()
    assert pve_sim.calls["GET /version"] == 0  # refused during the handshake, nothing sent


def test_unverified_tls_is_refused_by_default(pve_sim):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(pve_sim.url + "/api2/json/version", timeout=10)


def test_missing_token_is_401_no_ticket_with_empty_body(pve_http):
    response = pve_http.request("GET", "/version", auth=False)
    assert (response.status_code, response.reason, response.content) == (401, "No ticket", b"")


@pytest.mark.parametrize(
    "header",
    [
        "PVEAPIToken=panel@pve!panel=wrong-secret",
        "PVEAPIToken=other@pve!panel={secret}",
        "PVEAPIToken=panel@pve!panel",
        "Bearer {secret}",
    ],
)
def test_bad_token_is_401_authentication_failed(pve_sim, pve_http, header):
    header = header.format(secret=pve_sim.token_secret)
    response = pve_http.request("GET", "/nodes", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.content == b""
    assert response.reason in ("Authentication failed!", "No ticket")


def test_token_header_also_accepts_a_space_and_url_encoding(pve_sim, pve_http):
    header = f"PVEAPIToken {pve_sim.token_id.replace('!', '%21')}={pve_sim.token_secret}"
    assert pve_http.request("GET", "/version", headers={"Authorization": header}).ok


def test_bad_token_reaches_the_client_as_auth_error(pve_sim):
    client = PveClient(
        pve_sim.url,
        token_id=pve_sim.token_id,
        token_secret="nope",
        fingerprint_sha256=pve_sim.fingerprint_sha256,
    )
    with pytest.raises(PveAuthError):
        client.nodes()


def test_unknown_path_is_501_with_pve_text(pve_http):
    response = pve_http.request("GET", "/foo")
    assert response.status_code == 501
    assert response.reason == "Method 'GET /foo' not implemented"
    assert response.json() == {"data": None, "message": "Method 'GET /foo' not implemented\n"}


def test_known_path_with_unimplemented_method_is_501(pve_http):
    response = pve_http.request("DELETE", "/version")
    assert (response.status_code, response.reason) == (
        501,
        "Method 'DELETE /version' not implemented",
    )


def test_unknown_parameter_is_refused_like_pve(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    response = pve_http.request(
        "PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2, "colour": "red"}
    )
    assert response.status_code == 400
    assert response.reason == "Parameter verification failed."
    assert response.json() == {
        "data": None,
        "message": "Parameter verification failed.\n",
        "errors": {
            "colour": "property is not defined in schema and the schema does not allow "
            "additional properties"
        },
    }
    assert pve_sim.vm(100).config["cores"] == 1  # nothing applied


def test_parameter_formats_are_checked(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    response = pve_http.request(
        "PUT", "/nodes/pve1/qemu/100/resize", data={"disk": "scsi0", "size": "12GB"}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"size": "value does not match the regex pattern"}
    response = pve_http.request("GET", "/cluster/nextid", params={"vmid": 99})
    assert response.json()["errors"] == {
        "vmid": "invalid format - value does not look like a valid VM ID"
    }


def test_path_parameter_conflict_is_refused(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    response = pve_http.request("GET", "/nodes/pve1/qemu/100/config", params={"vmid": 101})
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "vmid": "duplicate parameter (already defined in URI) with conflicting values!"
    }


def test_missing_vm_is_500_config_file_does_not_exist(pve_http):
    response = pve_http.request("GET", "/nodes/pve1/qemu/4242/config")
    assert response.status_code == 500
    assert response.reason == "Configuration file 'nodes/pve1/qemu-server/4242.conf' does not exist"
    assert response.json()["message"].endswith("does not exist\n")


def test_vm_on_another_node_is_not_found_through_this_node(pve_sim, pve_http):
    pve_sim.add_vm("pve2", 100, "web", 10)
    response = pve_http.request("GET", "/nodes/pve1/qemu/100/status/current")
    assert response.reason == "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist"


def test_response_headers_are_pve_like_and_errors_close_the_connection(pve_http):
    ok = pve_http.request("GET", "/version")
    assert ok.headers["Server"] == "pve-api-daemon/3.0"
    assert ok.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert ok.headers["Cache-Control"] == "max-age=0"
    failed = pve_http.request("GET", "/nodes/pve1/qemu/4242/config")
    assert failed.headers["Connection"] == "close"


def test_json_bodies_are_accepted_too(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    response = pve_http.session.put(
        pve_sim.url + "/api2/json/nodes/pve1/qemu/100/config",
        json={"cores": 3, "onboot": True},
        timeout=10,
    )
    assert response.status_code == 200
    assert pve_sim.vm(100).config["cores"] == 3
    assert pve_sim.vm(100).config["onboot"] == 1


def test_calls_are_counted_by_method_and_template(pve_sim, pve_client):
    pve_sim.add_vm("pve1", 100, "web", 10)
    pve_client.vm_status("pve1", 100)
    pve_client.vm_status("pve1", 100)
    pve_client.version()
    assert pve_sim.calls["GET /nodes/{node}/qemu/{vmid}/status/current"] == 2
    assert pve_sim.calls["GET /version"] == 1
    pve_sim.reset_calls()
    assert sum(pve_sim.calls.values()) == 0


@pytest.mark.parametrize(
    ("kind", "status", "reason"),
    [
        ("500", 500, "Internal Server Error"),
        ("502", 502, "Bad Gateway"),
        ("596", 596, "Connection timed out"),
    ],
)
def test_injected_http_faults_hit_the_next_matching_call_only(
    pve_sim, pve_http, kind, status, reason
):
    pve_sim.knobs.fail_next_calls(kind, endpoint="GET /version")
    assert pve_http.request("GET", "/nodes").status_code == 200  # other endpoints unaffected
    failed = pve_http.request("GET", "/version")
    assert (failed.status_code, failed.reason) == (status, reason)
    assert pve_http.request("GET", "/version").status_code == 200


def test_connection_reset_fault_reaches_the_client_as_transient(pve_sim, pve_client):
    pve_sim.knobs.fail_next_calls("reset")
    with pytest.raises(PveTransientError):
        pve_client.version()
    assert pve_client.version()["version"]


def test_reset_after_applies_the_write_but_loses_the_answer(pve_sim, pve_client):
    pve_sim.add_vm("pve1", 100, "web", 10)
    pve_sim.knobs.fail_next_calls("reset_after", endpoint="PUT /nodes/{node}/qemu/{vmid}/config")
    with pytest.raises(PveTransientError) as excinfo:
        pve_client.vm_config_update("pve1", 100, cores=4)
    assert excinfo.value.maybe_executed is True
    assert pve_sim.vm(100).config["cores"] == 4


def test_random_faults_are_seeded_and_replayable():
    outcomes = []
    for _ in range(2):
        with PveSimulator(seed=7) as sim:
            sim.knobs.update({"http_fault_rate": 0.5, "http_fault_kinds": ["502"]})
            http = requests.Session()
            from proxmox.tls import FingerprintAdapter

            http.mount(sim.url + "/", FingerprintAdapter(sim.fingerprint_sha256))
            http.headers["Authorization"] = sim.auth_header
            outcomes.append(
                [
                    http.get(sim.url + "/api2/json/version", timeout=10).status_code
                    for _ in range(12)
                ]
            )
    assert outcomes[0] == outcomes[1]
    assert {200, 502} == set(outcomes[0])


def test_node_down_answers_596_and_shows_offline(pve_sim, pve_http):
    pve_sim.knobs.set_node_down("pve2")
    response = pve_http.request("GET", "/nodes/pve2/qemu")
    assert (response.status_code, response.reason) == (596, "Connection timed out")
    nodes = {n["node"]: n["status"] for n in pve_http.data("GET", "/nodes")}
    assert nodes == {"pve1": "online", "pve2": "offline"}
    assert pve_http.request("GET", "/nodes/pve1/qemu").status_code == 200


def test_unknown_node_fails_like_pveproxy(pve_http):
    response = pve_http.request("GET", "/nodes/nosuch/qemu")
    assert response.status_code == 500
    assert response.reason.startswith("hostname lookup 'nosuch' failed")


def test_admin_endpoint_sets_knobs_and_reads_calls_and_state(pve_sim, pve_http):
    response = pve_http.request(
        "POST",
        "/_sim/knobs",
        data=None,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    response = pve_http.session.post(
        pve_sim.url + "/_sim/knobs",
        json={
            "task_durations": {"qmclone": 2.5},
            "fail_next_tasks": [{"type": "resize", "message": "boom"}],
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert pve_sim.knobs.task_durations["qmclone"] == 2.5
    assert response.json()["data"]["task_failures"] == {"resize": ["boom"]}
    pve_http.request("GET", "/version")
    assert pve_http.data("GET", "/_sim/calls") == {"GET /version": 1}
    pve_http.session.post(
        pve_sim.url + "/_sim/vms",
        json={"node": "pve1", "vmid": 120, "name": "x", "disk_gib": 5},
        timeout=10,
    )
    state = pve_http.data("GET", "/_sim/state")
    assert "120" in state["nodes"]["pve1"]["vms"]
    assert pve_http.request("GET", "/_sim/knobs", auth=False).status_code == 401
    bad = pve_http.session.post(pve_sim.url + "/_sim/knobs", json={"nope": 1}, timeout=10)
    assert bad.status_code == 400


def test_denied_privilege_gives_pve_403_before_parameter_checks(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    pve_sim.knobs.update({"denied_privileges": ["VM.Allocate"]})
    response = pve_http.request("DELETE", "/nodes/pve1/qemu/100", params={"bogus": 1})
    assert (response.status_code, response.reason) == (
        403,
        "Permission check failed (/vms/100, VM.Allocate)",
    )
    assert response.json()["message"] == "Permission check failed (/vms/100, VM.Allocate)\n"
    create = pve_http.request("POST", "/nodes/pve1/qemu", data={"vmid": 150})
    assert create.reason == "Permission check failed (/vms/150, VM.Allocate)"
    assert pve_http.request("GET", "/nodes/pve1/qemu/100/config").status_code == 200


def test_any_of_several_privileges_is_enough(pve_sim, pve_http):
    pve_sim.add_vm("pve1", 100, "web", 10)
    pve_sim.knobs.update({"denied_privileges": ["VM.Config.Disk"]})
    assert pve_http.request("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2}).ok
    resize = pve_http.request(
        "PUT", "/nodes/pve1/qemu/100/resize", data={"disk": "scsi0", "size": "20G"}
    )
    assert resize.reason == "Permission check failed (/vms/100, VM.Config.Disk)"


def test_client_maps_403_to_permission_error(pve_sim, pve_client):
    from proxmox.errors import PvePermissionError

    pve_sim.add_vm("pve1", 100, "web", 10)
    pve_sim.knobs.update({"denied_privileges": ["VM.PowerMgmt"]})
    with pytest.raises(PvePermissionError):
        pve_client.vm_power("pve1", 100, "start")


@pytest.mark.parametrize(
    ("method", "path", "data", "errors"),
    [
        (
            "POST",
            "/nodes/pve1/qemu/100/clone",
            {"name": "x"},
            {"newid": "property is missing and it is not optional"},
        ),
        (
            "POST",
            "/nodes/pve1/qemu/100/clone",
            {"newid": 101, "name": "not a dns name!"},
            {"name": "invalid format - value does not look like a valid DNS name"},
        ),
        (
            "PUT",
            "/nodes/pve1/qemu/100/resize",
            {"disk": "scsi99", "size": "20G"},
            {"disk"},  # the enum check lists all 59 drive names
        ),
        (
            "POST",
            "/nodes/pve1/vzdump",
            {"vmid": "100", "compress": "xz"},
            {
                "compress": "value 'xz' does not have a value in the enumeration "
                "'0, 1, gzip, lzo, zstd'"
            },
        ),
        ("PUT", "/nodes/pve1/qemu/100/config", {"cores": "two"}, {"cores"}),
    ],
)
def test_requests_are_validated_against_the_schema(pve_sim, pve_http, method, path, data, errors):
    pve_sim.add_vm("pve1", 100, "web", 10)
    response = pve_http.request(method, path, data=data)
    assert response.status_code == 400, response.text
    assert response.reason == "Parameter verification failed."
    body = response.json()
    if isinstance(errors, dict):
        assert body["errors"] == errors
    else:
        assert set(body["errors"]) == errors
    assert not pve_sim.state.tasks  # nothing started


def test_request_log_hook_sees_every_request(pve_sim, pve_http):
    lines = []
    pve_sim.request_log = lines.append
    try:
        pve_http.request("GET", "/version")
    finally:
        pve_sim.request_log = None
    assert any('"GET /api2/json/version HTTP/1.1" 200' in line for line in lines)
