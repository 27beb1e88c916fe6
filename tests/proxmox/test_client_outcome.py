"""Ambiguous answers to writes, the pending/current config reads, cluster status, VM task search."""

import pickle
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from proxmox.errors import (
    PveAlreadyExistsError,
    PveError,
    PveLockError,
    PveOutcomeUnknown,
    PveTaskAlreadyExistsError,
    PveTaskFailed,
    PveTransientError,
    classify_http_error,
    task_failure,
    vmid_taken_in,
)
from tests.proxmox.pve_http import API, PveResponse, make_client, pve_error

UPID = "UPID:pve1:0000C346:165A0CE4:68D7279C:qmclone:9000:panel@pve!panel:"


@pytest.fixture
def pve():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def client():
    return make_client()


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def proxy_answer(method, path, status, reason):
    """What a front proxy or a dead worker sends: a generic reason phrase, an HTML body."""
    return PveResponse(
        method,
        API + path,
        reason=reason,
        status=status,
        body=f"<html><body><h1>{status} {reason}</h1></body></html>",
        content_type="text/html",
    )


# --- 5xx on a write ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (500, "Internal Server Error"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
        (504, "Gateway Timeout"),
    ],
)
def test_a_write_answered_by_a_bare_5xx_has_an_unknown_outcome(pve, client, status, reason):
    pve.add(proxy_answer("PUT", "/nodes/pve1/qemu/101/resize", status, reason))
    with pytest.raises(PveOutcomeUnknown) as exc:
        client.vm_resize("pve1", 101, disk="scsi0", size=11)
    assert isinstance(exc.value, PveTransientError)
    assert exc.value.maybe_executed is True
    assert exc.value.status == status


def test_a_bare_500_in_pve_json_on_a_write_is_unknown_too(pve, client):
    pve.add(pve_error("POST", "/nodes/pve1/qemu/101/config", 500, "Internal Server Error"))
    with pytest.raises(PveOutcomeUnknown):
        client.vm_config_update_async("pve1", 101, cores=2)


def test_pveproxy_596_on_a_write_is_unknown(pve, client):
    # pveproxy gives up on the node after 30 s; that node's pvedaemon carries on.
    pve.add(pve_error("PUT", "/nodes/pve2/qemu/101/config", 596, "Connection timed out"))
    with pytest.raises(PveOutcomeUnknown):
        client.vm_config_update("pve2", 101, cores=2)


def test_595_never_reached_the_node_so_it_is_plainly_transient(pve, client):
    pve.add(pve_error("PUT", "/nodes/pve2/qemu/101/config", 595, "Connection refused"))
    with pytest.raises(PveTransientError) as exc:
        client.vm_config_update("pve2", 101, cores=2)
    assert type(exc.value) is PveTransientError
    assert exc.value.maybe_executed is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout", PveLockError),
        ("VM is locked (backup)", PveLockError),
        ("unable to create VM 112: config file already exists", PveAlreadyExistsError),
        ("VM 101 not running", PveError),
    ],
)
def test_a_5xx_with_pve_text_on_a_write_is_a_definite_failure(pve, client, text, expected):
    pve.add(pve_error("POST", "/nodes/pve1/qemu/101/status/reboot", 500, text))
    with pytest.raises(PveError) as exc:
        client.vm_power("pve1", 101, "reboot")
    assert type(exc.value) is expected
    assert not isinstance(exc.value, PveOutcomeUnknown)


def test_no_worker_upid_stays_safe_to_repeat(pve, client):
    text = "got no worker upid - start worker failed"
    pve.add(pve_error("POST", "/nodes/pve1/qemu/101/status/start", 500, text))
    with pytest.raises(PveTransientError) as exc:
        client.vm_power("pve1", 101, "start")
    assert not isinstance(exc.value, PveOutcomeUnknown)


def test_a_bare_5xx_on_a_read_is_not_an_outcome_question(pve, client):
    pve.add(proxy_answer("GET", "/nodes/pve1/qemu/101/config", 502, "Bad Gateway"))
    with pytest.raises(PveTransientError) as exc:
        client.vm_config("pve1", 101)
    assert type(exc.value) is PveTransientError


@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError("Connection reset by peer"),
    ],
)
def test_a_write_whose_connection_broke_after_sending_is_unknown(pve, client, error):
    pve.post(API + "/nodes/pve1/qemu/9000/clone", body=error)
    with pytest.raises(PveOutcomeUnknown) as exc:
        client.vm_clone("pve1", 9000, newid=101)
    assert exc.value.maybe_executed is True


def test_a_write_that_never_connected_is_not_unknown(pve, client):
    pve.post(API + "/nodes/pve1/qemu/9000/clone", body=requests.exceptions.ConnectTimeout("x"))
    with pytest.raises(PveTransientError) as exc:
        client.vm_clone("pve1", 9000, newid=101)
    assert not isinstance(exc.value, PveOutcomeUnknown)


def test_outcome_unknown_survives_pickling():
    error = classify_http_error(502, "Bad Gateway", method="PUT", path="/nodes/pve1/qemu/1/resize")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is PveOutcomeUnknown
    assert copy.__dict__ == error.__dict__


# --- VMID taken ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "vmid"),
    [
        ("unable to create VM 112: config file already exists", 112),
        (
            "close (rename) atomic file '/etc/pve/nodes/pve2/qemu-server/113.conf' failed: "
            "File exists",
            113,
        ),
        ("unable to create VM 114 - VM 114 already exists on node 'pve1'", 114),
        ("unable to restore VM 100 - VM is locked (backup)", None),
        ("storage 'local-lvm' does not exist", None),
    ],
)
def test_vmid_taken_texts(text, vmid):
    assert vmid_taken_in(text) == vmid


def test_a_clone_task_that_lost_its_vmid_is_already_exists():
    text = (
        "close (rename) atomic file '/etc/pve/nodes/pve2/qemu-server/113.conf' failed: File exists"
    )
    failed = task_failure(UPID, text, [f"TASK ERROR: {text}"])
    assert isinstance(failed, PveTaskAlreadyExistsError)
    assert isinstance(failed, PveAlreadyExistsError) and isinstance(failed, PveTaskFailed)
    assert failed.vmid_taken == 113


def test_a_sync_clone_refusal_names_the_taken_vmid(pve, client):
    text = "unable to create VM 112: config file already exists"
    pve.add(pve_error("POST", "/nodes/pve1/qemu/9000/clone", 500, text))
    with pytest.raises(PveAlreadyExistsError) as exc:
        client.vm_clone("pve1", 9000, newid=112)
    assert exc.value.vmid_taken == 112


# --- reads the engine needs ------------------------------------------------------------------


def test_vm_config_current_asks_for_the_running_values(pve, client):
    pve.get(API + "/nodes/pve1/qemu/101/config", json={"data": {"cores": 1}})
    pve.get(API + "/nodes/pve1/qemu/101/config", json={"data": {"cores": 1}})
    client.vm_config("pve1", 101)
    client.vm_config("pve1", 101, current=True)
    assert query(pve.calls[0]) == {}
    assert query(pve.calls[1]) == {"current": "1"}


def test_vm_pending_returns_pve_items(pve, client):
    items = [
        {"key": "cores", "value": 1, "pending": 4},
        {"key": "name", "value": "web"},
        {"key": "numa", "value": 1, "delete": 1},
    ]
    pve.get(API + "/nodes/pve1/qemu/101/pending", json={"data": items})
    assert client.vm_pending("pve1", 101) == items


def test_cluster_status(pve, client):
    data = [
        {"type": "cluster", "id": "cluster", "name": "c1", "nodes": 2, "quorate": 1, "version": 2},
        {"type": "node", "id": "node/pve1", "name": "pve1", "nodeid": 1, "online": 1, "local": 1},
    ]
    pve.get(API + "/cluster/status", json={"data": data})
    assert client.cluster_status() == data


def test_vm_tasks_lists_running_ones_too(pve, client):
    pve.get(API + "/nodes/pve1/tasks", json={"data": [], "total": 0})
    client.vm_tasks("pve1", 9000, typefilter="qmclone", since=1758930844)
    assert query(pve.calls[0]) == {
        "vmid": "9000",
        "typefilter": "qmclone",
        "since": "1758930844",
        "source": "all",
        "limit": "50",
    }
