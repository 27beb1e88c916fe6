import logging
import socket
from urllib.parse import unquote

import pytest
import requests
import responses

from proxmox.client import PveClient
from proxmox.errors import (
    PveAlreadyExistsError,
    PveAuthError,
    PveError,
    PveLockError,
    PveNotFoundError,
    PvePermissionError,
    PveTransientError,
    PveValidationError,
)
from tests.proxmox.pve_http import (
    API,
    BASE,
    TOKEN_ID,
    TOKEN_SECRET,
    form,
    make_client,
    pve_error,
    query,
)

UPID = "UPID:pve1:0000C346:165A0CE4:68D7279C:qmclone:9000:panel@pve!panel:"


# --- requests as PVE wants them -------------------------------------------------------------


def test_get_sends_token_header_and_returns_data(pve, client):
    pve.get(API + "/version", json={"data": {"version": "9.1.3", "release": "9.1", "repoid": "x"}})
    assert client.version()["release"] == "9.1"
    assert pve.calls[0].request.headers["Authorization"] == (
        f"PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"
    )


def test_base_url_with_or_without_api_prefix_is_the_same(pve):
    pve.get(API + "/nodes", json={"data": [{"node": "pve1", "status": "online"}]})
    for base in (BASE, BASE + "/", BASE + "/api2/json"):
        client = PveClient(base, token_id=TOKEN_ID, token_secret=TOKEN_SECRET)
        assert client.nodes()[0]["node"] == "pve1"


def test_clone_posts_a_form_with_pve_names_and_booleans_as_0_1(pve, client):
    pve.post(API + "/nodes/pve1/qemu/9000/clone", json={"data": UPID})
    assert client.vm_clone("pve1", 9000, newid=101, name="web1", storage="local-lvm") == UPID
    call = pve.calls[0]
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(call) == {"newid": "101", "name": "web1", "full": "1", "storage": "local-lvm"}


def test_delete_sends_parameters_in_the_query_string(pve, client):
    pve.delete(API + "/nodes/pve1/qemu/101", json={"data": UPID})
    client.vm_delete("pve1", 101, destroy_unreferenced_disks=False)
    call = pve.calls[0]
    assert not call.request.body
    assert query(call) == {"purge": "1", "destroy-unreferenced-disks": "0"}


def test_get_filters_go_in_the_query_and_none_is_not_sent(pve, client):
    pve.get(API + "/nodes/pve1/storage/local/content", json={"data": []})
    client.storage_content("pve1", "local", content="backup")
    assert query(pve.calls[0]) == {"content": "backup"}


def test_resize_sends_an_absolute_size_made_from_gib(pve, client):
    pve.put(API + "/nodes/pve1/qemu/101/resize", json={"data": UPID})
    assert client.vm_resize("pve1", 101, disk="scsi0", size=40) == UPID
    assert form(pve.calls[0]) == {"disk": "scsi0", "size": "40G"}


def test_resize_refuses_relative_sizes_and_unknown_disks(client):
    with pytest.raises(ValueError, match="absolute"):
        client.vm_resize("pve1", 101, disk="scsi0", size="+8G")
    with pytest.raises(ValueError, match="disk"):
        client.vm_resize("pve1", 101, disk="net0", size=40)


def test_config_update_is_a_sync_put_and_encodes_sshkeys_for_pve(pve, client):
    pve.put(API + "/nodes/pve1/qemu/101/config", json={"data": None})
    key = "ssh-ed25519 AAAAC3Nza+/= alice@laptop"
    assert client.vm_config_update("pve1", 101, cores=2, memory=4096, sshkeys=key) is None
    sent = form(pve.calls[0])
    assert sent["cores"] == "2"
    # PVE URI-decodes sshkeys once more after the form decoding.
    assert unquote(sent["sshkeys"]) == key
    assert " " not in sent["sshkeys"]


def test_config_update_async_returns_the_upid(pve, client):
    pve.post(API + "/nodes/pve1/qemu/101/config", json={"data": UPID})
    assert client.vm_config_update_async("pve1", 101, onboot=True) == UPID
    assert form(pve.calls[0]) == {"onboot": "1"}


def test_next_vmid_accepts_the_string_pve_really_sends(pve, client):
    pve.get(API + "/cluster/nextid", json={"data": "105"})
    assert client.next_vmid() == 105


def test_power_actions_post_to_status_and_unknown_action_is_refused(pve, client):
    pve.post(API + "/nodes/pve1/qemu/101/status/shutdown", json={"data": UPID})
    assert client.vm_power("pve1", 101, "shutdown", forceStop=True, timeout=60) == UPID
    assert form(pve.calls[0]) == {"forceStop": "1", "timeout": "60"}
    with pytest.raises(ValueError):
        client.vm_power("pve1", 101, "explode")


def test_task_paths_keep_the_upid_readable(pve, client):
    pve.get(API + f"/nodes/pve1/tasks/{UPID}/status", json={"data": {"status": "running"}})
    client.task_status("pve1", UPID)
    assert f"/tasks/{UPID}/status" in unquote(pve.calls[0].request.url)
    assert "%3A" not in pve.calls[0].request.url


def test_task_log_tail_reads_the_end_of_a_long_log(pve, client):
    log_url = API + f"/nodes/pve1/tasks/{UPID}/log"
    first = [{"n": i, "t": f"line {i}"} for i in range(1, 4)]
    last = [{"n": i, "t": f"line {i}"} for i in range(8, 11)]
    pve.get(log_url, json={"data": first, "total": 10})
    pve.get(log_url, json={"data": last, "total": 10})
    assert client.task_log_tail("pve1", UPID, lines=3) == ["line 8", "line 9", "line 10"]
    assert query(pve.calls[1]) == {"start": "7", "limit": "3"}


def test_an_empty_task_log_reads_as_no_lines(pve, client):
    """pve-common answers an empty log with the placeholder line "no content"."""
    log_url = API + f"/nodes/pve1/tasks/{UPID}/log"
    pve.get(log_url, json={"data": [{"n": 1, "t": "no content"}], "total": 1})
    pve.get(log_url, json={"data": [{"n": 1, "t": "starting"}], "total": 1})
    assert client.task_log_tail("pve1", UPID) == []
    assert client.task_log_tail("pve1", UPID) == ["starting"]


def test_storage_content_delete_keeps_the_volid_path(pve, client):
    volid = "local:backup/vzdump-qemu-101-2026_01_31-12_00_00.vma.zst"
    pve.delete(API + "/nodes/pve1/storage/local/content/" + volid, json={"data": UPID})
    assert client.storage_content_delete("pve1", "local", volid) == UPID


def test_repr_and_logs_never_show_the_secret(pve, client, caplog):
    pve.get(API + "/version", json={"data": {}})
    pve.add(pve_error("GET", "/nodes", 401, "Authentication failed!"))
    caplog.set_level(logging.DEBUG, logger="proxmox.client")
    client.version()
    with pytest.raises(PveAuthError):
        client.nodes()
    assert TOKEN_SECRET not in repr(client)
    assert caplog.records, "every call is logged"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET" in text and "/version" in text and "200" in text and "401" in text
    assert TOKEN_SECRET not in text


# --- error classification -------------------------------------------------------------------


def test_401_is_an_auth_error(pve, client):
    pve.add(pve_error("GET", "/version", 401, "Authentication failed!"))
    with pytest.raises(PveAuthError) as exc:
        client.version()
    assert exc.value.status == 401
    assert exc.value.message == "Authentication failed!"


def test_403_is_a_permission_error_with_pve_text(pve, client):
    text = "Permission check failed (/vms/101, VM.Allocate)"
    pve.add(pve_error("POST", "/nodes/pve1/qemu/9000/clone", 403, text))
    with pytest.raises(PvePermissionError) as exc:
        client.vm_clone("pve1", 9000, newid=101)
    assert exc.value.message == text


def test_400_is_a_validation_error_with_per_parameter_errors(pve, client):
    pve.add(
        pve_error(
            "GET",
            "/cluster/nextid",
            400,
            "Parameter verification failed.",
            errors={"vmid": "VM 2004 already exists"},
        )
    )
    with pytest.raises(PveValidationError) as exc:
        client.next_vmid(2004)
    assert exc.value.errors == {"vmid": "VM 2004 already exists"}
    assert "VM 2004 already exists" in str(exc.value)


def test_missing_config_is_not_found_even_as_a_500(pve, client):
    text = "Configuration file 'nodes/pve1/qemu-server/117.conf' does not exist"
    pve.add(pve_error("GET", "/nodes/pve1/qemu/117/config", 500, text))
    with pytest.raises(PveNotFoundError) as exc:
        client.vm_config("pve1", 117)
    assert exc.value.message == text


def test_501_unknown_method_is_not_found(pve, client):
    pve.add(
        pve_error(
            "GET",
            "/nodes/pve1/qemu/101/status/current",
            501,
            "Method 'GET /nodes/pve1/qemu/101/status/current' not implemented",
        )
    )
    with pytest.raises(PveNotFoundError):
        client.vm_status("pve1", 101)


@pytest.mark.parametrize("with_message", [True, False])
def test_flock_timeout_is_a_lock_error_from_reason_or_body(pve, client, with_message):
    text = "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout"
    pve.add(pve_error("PUT", "/nodes/pve1/qemu/101/config", 500, text, with_message=with_message))
    with pytest.raises(PveLockError) as exc:
        client.vm_config_update("pve1", 101, cores=4)
    assert exc.value.lock_file == "/var/lock/qemu-server/lock-101.conf"
    assert exc.value.message == text


def test_config_lock_is_a_lock_error_with_its_reason(pve, client):
    pve.add(pve_error("POST", "/nodes/pve1/qemu/101/config", 500, "VM is locked (backup)"))
    with pytest.raises(PveLockError) as exc:
        client.vm_config_update_async("pve1", 101, cores=4)
    assert exc.value.lock_reason == "backup"


def test_clone_onto_an_existing_vmid_is_already_exists(pve, client):
    text = "unable to create VM 101: config file already exists"
    pve.add(pve_error("POST", "/nodes/pve1/qemu/9000/clone", 500, text))
    with pytest.raises(PveAlreadyExistsError):
        client.vm_clone("pve1", 9000, newid=101)


def test_other_500_is_a_plain_pve_error_with_the_full_message(pve, client):
    text = "VM 101 not running"
    pve.add(pve_error("POST", "/nodes/pve1/qemu/101/status/reboot", 500, text))
    with pytest.raises(PveError) as exc:
        client.vm_power("pve1", 101, "reboot")
    assert type(exc.value) is PveError
    assert exc.value.status == 500
    assert exc.value.message == text
    assert exc.value.path == "/nodes/pve1/qemu/101/status/reboot"


@pytest.mark.parametrize(
    ("status", "reason"),
    [(596, "Broken pipe"), (502, "Bad Gateway"), (503, "Service Unavailable")],
)
def test_proxy_failures_are_transient(pve, client, status, reason):
    pve.add(pve_error("GET", "/nodes/pve1/status", status, reason))
    with pytest.raises(PveTransientError) as exc:
        client.node_status("pve1")
    assert exc.value.status == status


def test_no_worker_upid_is_transient(pve, client):
    pve.add(
        pve_error(
            "POST",
            "/nodes/pve1/qemu/101/status/start",
            500,
            "got no worker upid - start worker failed",
        )
    )
    with pytest.raises(PveTransientError):
        client.vm_power("pve1", 101, "start")


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError("Connection reset by peer"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
    ],
)
def test_connection_errors_and_timeouts_are_transient(pve, client, exc):
    pve.get(API + "/version", body=exc)
    with pytest.raises(PveTransientError) as raised:
        client.version()
    assert raised.value.__cause__ is exc


def test_timeouts_are_passed_to_requests(pve):
    client = make_client(connect_timeout=2.5, read_timeout=45.0)
    seen = {}

    def callback(request):
        seen["timeout"] = request.req_kwargs["timeout"]
        return (200, {}, '{"data": {}}')

    pve.add_callback(responses.GET, API + "/version", callback=callback)
    client.version()
    assert seen["timeout"] == (2.5, 45.0)


def test_non_json_success_body_is_an_error(pve, client):
    pve.get(API + "/version", body="<html>proxy login</html>", content_type="text/html")
    with pytest.raises(PveError, match="not JSON"):
        client.version()


def test_log_level_comes_from_proxmox_log_level():
    from proxmox.client import configure_logging_from_env

    parent = logging.getLogger("proxmox")
    before = parent.level
    try:
        configure_logging_from_env({"PROXMOX_LOG_LEVEL": "debug"})
        assert logging.getLogger("proxmox.client").getEffectiveLevel() == logging.DEBUG
        configure_logging_from_env({"PROXMOX_LOG_LEVEL": "WARNING"})
        assert logging.getLogger("proxmox.client").getEffectiveLevel() == logging.WARNING
    finally:
        parent.setLevel(before)


def test_a_lost_answer_to_a_write_is_flagged_as_maybe_executed(pve, client):
    pve.post(API + "/nodes/pve1/qemu/9000/clone", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(PveTransientError) as exc:
        client.vm_clone("pve1", 9000, newid=101)
    assert exc.value.maybe_executed is True


def test_a_write_that_never_connected_is_safe_to_repeat(pve, client):
    pve.post(API + "/nodes/pve1/qemu/9000/clone", body=requests.exceptions.ConnectTimeout("x"))
    with pytest.raises(PveTransientError) as exc:
        client.vm_clone("pve1", 9000, newid=101)
    assert exc.value.maybe_executed is False


def test_connection_refused_is_safe_to_repeat():
    # A loopback port nobody listens on: refused before anything is sent.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PveClient(f"https://127.0.0.1:{port}", token_id=TOKEN_ID, token_secret=TOKEN_SECRET)
    with pytest.raises(PveTransientError) as exc:
        client.vm_clone("pve1", 9000, newid=101)
    assert exc.value.maybe_executed is False


def test_reads_such_as_task_polls_log_at_debug_and_writes_at_info(pve, client, caplog):
    caplog.set_level(logging.DEBUG, logger="proxmox.client")
    pve.get(API + f"/nodes/pve1/tasks/{UPID}/status", json={"data": {"status": "running"}})
    pve.post(API + "/nodes/pve1/qemu/100/status/start", json={"data": UPID})

    client.task_status("pve1", UPID)
    client.request("POST", "/nodes/pve1/qemu/100/status/start")

    poll, write = caplog.records
    assert (poll.levelno, "GET" in poll.getMessage()) == (logging.DEBUG, True)
    assert (write.levelno, "POST" in write.getMessage()) == (logging.INFO, True)
