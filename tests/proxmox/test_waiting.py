"""wait_for_task / retry_on_lock / wait_until_unlocked against PVE-shaped HTTP, on a fake clock."""

import random

import pytest
import requests

from proxmox.errors import (
    PveAuthError,
    PveError,
    PveLockError,
    PveNotFoundError,
    PvePermissionError,
    PveTaskFailed,
    PveTaskLockError,
    PveTaskTimeout,
    PveTimeout,
    PveValidationError,
)
from proxmox.waiting import TaskTimes, retry_on_lock, wait_for_task, wait_until_unlocked
from tests.proxmox.pve_http import API, FakeClock, pve_error

# The task runs on pve2 although the client talks to pve1's API: the UPID decides.
UPID = "UPID:pve2:0000C346:165A0CE4:68D7279C:resize:101:panel@pve!panel:"
STATUS_URL = API + f"/nodes/pve2/tasks/{UPID}/status"
LOG_URL = API + f"/nodes/pve2/tasks/{UPID}/log"


@pytest.fixture
def clock():
    return FakeClock()


def running():
    return {"json": {"data": {"upid": UPID, "node": "pve2", "status": "running"}}}


def stopped(exitstatus):
    data = {"upid": UPID, "node": "pve2", "status": "stopped", "exitstatus": exitstatus}
    return {"json": {"data": data}}


def log(*lines):
    return {
        "json": {"data": [{"n": i, "t": t} for i, t in enumerate(lines, 1)], "total": len(lines)}
    }


# --- wait_for_task --------------------------------------------------------------------------


def test_waits_until_stopped_ok_and_polls_the_upid_node(pve, client, clock):
    for _ in range(3):
        pve.get(STATUS_URL, **running())
    pve.get(STATUS_URL, **stopped("OK"))
    pve.get(LOG_URL, **log("resizing disk", "TASK OK"))
    seen = []
    result = wait_for_task(
        client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep, on_poll=seen.append
    )
    assert result.exitstatus == "OK"
    assert result.warnings == 0
    assert result.node == "pve2"
    assert result.log_tail == ["resizing disk", "TASK OK"]
    assert [s["status"] for s in seen] == ["running"] * 3 + ["stopped"]
    assert clock.sleeps == pytest.approx([0.2, 0.3, 0.45])  # adaptive: grows x1.5


def test_poll_interval_is_capped(pve, client, clock):
    for _ in range(20):
        pve.get(STATUS_URL, **running())
    pve.get(STATUS_URL, **stopped("OK"))
    pve.get(LOG_URL, **log("TASK OK"))
    wait_for_task(client, UPID, timeout_s=3600, clock=clock, sleep=clock.sleep)
    assert max(clock.sleeps) == 5.0
    assert clock.sleeps == sorted(clock.sleeps)


def test_known_task_times_put_the_first_poll_at_the_shortest_recent_run(pve, client, clock):
    """A node's resizes took 4 s and 3 s: the next one is first polled at 3 s, not at once, and
    then at a tenth of that; what it took (last seen running) is remembered for the next."""
    times = TaskTimes()
    times.record("pve2", "resize", 4.0)
    times.record("pve2", "resize", 3.0)
    pve.get(STATUS_URL, **running())
    pve.get(STATUS_URL, **stopped("OK"))
    pve.get(LOG_URL, **log("TASK OK"))
    result = wait_for_task(
        client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep, task_times=times
    )
    assert result.exitstatus == "OK"
    assert clock.sleeps == pytest.approx([3.0, 0.3])
    assert times.expected_s("pve2", "resize") == pytest.approx(3.0)
    assert times.expected_s("pve2", "qmclone") is None  # per type: no guess for another


def test_a_long_expected_wait_sleeps_in_slices_no_longer_than_a_poll_interval(pve, client, clock):
    """A node's vzdumps took 120 s: the first poll still comes at 120 s, but the caller's sleep
    (which keeps the job's heartbeat) is called at least every 5 s, so the sweeper never takes
    a quiet wait for a dead worker; no status call is made meanwhile."""
    times = TaskTimes()
    times.record("pve2", "resize", 120.0)
    pve.get(STATUS_URL, **stopped("OK"))
    pve.get(LOG_URL, **log("TASK OK"))
    wait_for_task(client, UPID, timeout_s=600, clock=clock, sleep=clock.sleep, task_times=times)
    assert sum(clock.sleeps) == pytest.approx(120.0)
    assert max(clock.sleeps) <= 5.0
    assert len([c for c in pve.calls if c.request.url.startswith(STATUS_URL)]) == 1


def test_warnings_are_success_with_a_count(pve, client, clock):
    pve.get(STATUS_URL, **stopped("WARNINGS: 2"))
    pve.get(LOG_URL, **log("WARN: a", "WARN: b", "TASK WARNINGS: 2"))
    result = wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert result.warnings == 2
    assert result.log_tail[-1] == "TASK WARNINGS: 2"


def test_failure_raises_with_exitstatus_and_log_tail(pve, client, clock):
    pve.get(STATUS_URL, **running())
    pve.get(STATUS_URL, **stopped("shrinking disks is not supported"))
    pve.get(LOG_URL, **log("TASK ERROR: shrinking disks is not supported"))
    with pytest.raises(PveTaskFailed) as exc:
        wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert exc.value.exitstatus == "shrinking disks is not supported"
    assert exc.value.upid == UPID
    assert exc.value.log_tail == ["TASK ERROR: shrinking disks is not supported"]
    assert not isinstance(exc.value, PveLockError)


@pytest.mark.parametrize(
    "exitstatus",
    [
        "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout",
        "VM is locked (clone)",
    ],
)
def test_task_that_died_on_a_lock_is_a_lock_error(pve, client, clock, exitstatus):
    pve.get(STATUS_URL, **stopped(exitstatus))
    pve.get(LOG_URL, **log(f"TASK ERROR: {exitstatus}"))
    with pytest.raises(PveTaskLockError) as exc:
        wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert isinstance(exc.value, PveLockError)
    assert isinstance(exc.value, PveTaskFailed)


def test_deadline_raises_timeout_without_sleeping_past_it(pve, client, clock):
    pve.get(STATUS_URL, **running())  # repeats forever
    with pytest.raises(PveTimeout):
        wait_for_task(client, UPID, timeout_s=10, clock=clock, sleep=clock.sleep)
    assert clock.elapsed == pytest.approx(10)


def test_transient_errors_while_polling_do_not_fail_the_wait(pve, client, clock):
    pve.add(pve_error("GET", f"/nodes/pve2/tasks/{UPID}/status", 596, "Broken pipe"))
    pve.get(STATUS_URL, **stopped("OK"))
    pve.get(LOG_URL, **log("TASK OK"))
    result = wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert result.exitstatus == "OK"


def test_a_new_task_briefly_unknown_is_polled_again(pve, client, clock):
    path = f"/nodes/pve2/tasks/{UPID}/status"
    errors = {"upid": "no such task"}
    pve.add(pve_error("GET", path, 400, "Parameter verification failed.", errors=errors))
    pve.get(STATUS_URL, **stopped("OK"))
    pve.get(LOG_URL, **log("TASK OK"))
    assert wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep).exitstatus == (
        "OK"
    )


def test_an_unknown_task_after_the_grace_period_is_an_error(pve, client, clock):
    path = f"/nodes/pve2/tasks/{UPID}/status"
    errors = {"upid": "no such task"}
    pve.add(pve_error("GET", path, 400, "Parameter verification failed.", errors=errors))
    with pytest.raises(PveValidationError):
        wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert clock.elapsed > 5


def test_none_means_pve_finished_synchronously(client, clock):
    result = wait_for_task(client, None, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert result.synchronous and result.exitstatus == "OK"


# --- retry_on_lock --------------------------------------------------------------------------

LOCK_TEXT = "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout"


def test_lock_errors_are_retried_until_success(pve, client, clock):
    for _ in range(3):
        pve.add(pve_error("PUT", "/nodes/pve1/qemu/101/config", 500, LOCK_TEXT))
    pve.put(API + "/nodes/pve1/qemu/101/config", json={"data": None})
    retries = []
    retry_on_lock(
        lambda: client.vm_config_update("pve1", 101, cores=4, memory=4096),
        deadline_s=120,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(1),
        on_retry=lambda attempt, exc, delay: retries.append(attempt),
    )
    assert len(pve.calls) == 4
    assert retries == [1, 2, 3]
    assert len(clock.sleeps) == 3


def test_backoff_is_exponential_with_full_jitter_and_capped(clock):
    attempts = []

    def always_locked():
        attempts.append(clock())
        raise PveLockError("VM is locked (backup)")

    rng = random.Random(7)
    with pytest.raises(PveLockError):
        retry_on_lock(
            always_locked,
            deadline_s=300,
            base_delay_s=0.5,
            max_delay_s=8,
            clock=clock,
            sleep=clock.sleep,
            rng=rng,
        )
    replay = random.Random(7)
    expected = [replay.uniform(0, min(8, 0.5 * 2**i)) for i in range(len(clock.sleeps))]
    assert clock.sleeps == pytest.approx(expected)
    assert all(s <= 8 for s in clock.sleeps)


def test_gives_up_at_the_deadline_with_the_last_lock_error(clock):
    calls = []

    def locked():
        calls.append(clock())
        raise PveLockError(f"VM is locked (backup) #{len(calls)}")

    with pytest.raises(PveLockError) as exc:
        retry_on_lock(locked, deadline_s=30, clock=clock, sleep=clock.sleep, rng=random.Random(3))
    assert exc.value.message == f"VM is locked (backup) #{len(calls)}"
    assert clock.elapsed <= 30
    assert len(calls) > 3


@pytest.mark.parametrize(
    "error",
    [
        PveError("VM 101 not running", status=500),
        PveNotFoundError("Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist"),
        PveTaskFailed("UPID:x", "shrinking disks is not supported"),
    ],
)
def test_other_errors_are_not_retried(clock, error):
    calls = []

    def fails():
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        retry_on_lock(fails, deadline_s=60, clock=clock, sleep=clock.sleep)
    assert calls == [1]
    assert clock.sleeps == []


def test_dispatch_and_wait_retried_together_on_an_in_task_lock(pve, client, clock):
    resize_url = API + "/nodes/pve1/qemu/101/resize"
    pve.put(resize_url, json={"data": UPID})
    pve.get(STATUS_URL, **stopped("VM is locked (clone)"))
    pve.get(LOG_URL, **log("TASK ERROR: VM is locked (clone)"))
    pve.get(STATUS_URL, **stopped("OK"))
    pve.get(LOG_URL, **log("TASK OK"))

    def resize():
        upid = client.vm_resize("pve1", 101, disk="scsi0", size=40)
        return wait_for_task(client, upid, timeout_s=60, clock=clock, sleep=clock.sleep)

    result = retry_on_lock(resize, deadline_s=60, clock=clock, sleep=clock.sleep)
    assert result.exitstatus == "OK"
    assert [c.request.method for c in pve.calls].count("PUT") == 2


# --- wait_until_unlocked --------------------------------------------------------------------


def test_wait_until_unlocked_returns_the_unlocked_config(pve, client, clock):
    url = API + "/nodes/pve1/qemu/101/config"
    pve.get(url, json={"data": {"lock": "clone", "cores": 1}})
    pve.get(url, json={"data": {"lock": "clone", "cores": 1}})
    pve.get(url, json={"data": {"cores": 1, "digest": "abc"}})
    config = wait_until_unlocked(client, "pve1", 101, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert config == {"cores": 1, "digest": "abc"}
    assert len(clock.sleeps) == 2


def test_wait_until_unlocked_times_out(pve, client, clock):
    pve.get(API + "/nodes/pve1/qemu/101/config", json={"data": {"lock": "backup"}})
    with pytest.raises(PveTimeout, match="backup"):
        wait_until_unlocked(client, "pve1", 101, timeout_s=20, clock=clock, sleep=clock.sleep)
    assert clock.elapsed == pytest.approx(20)


# --- a failed poll is a reason to poll again ------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (500, "Internal Server Error"),
        (500, "unable to read task status file"),
        (502, "Bad Gateway"),
        (596, "Connection timed out"),
    ],
)
def test_any_failed_poll_is_polled_again(pve, client, clock, status, text):
    pve.get(STATUS_URL, **running())
    pve.add(pve_error("GET", f"/nodes/pve2/tasks/{UPID}/status", status, text))
    pve.get(STATUS_URL, **stopped("OK"))
    pve.get(LOG_URL, **log("TASK OK"))
    result = wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert result.exitstatus == "OK"
    assert len(clock.sleeps) == 2  # the usual interval, nothing special after the error


def test_a_reset_or_timeout_while_polling_is_polled_again(pve, client, clock):
    pve.get(STATUS_URL, body=requests.exceptions.ConnectionError("Connection reset by peer"))
    pve.get(STATUS_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    pve.get(STATUS_URL, **stopped("OK"))
    pve.get(LOG_URL, **log("TASK OK"))
    assert wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep).exitstatus == (
        "OK"
    )


def test_polls_failing_until_the_deadline_say_the_state_is_unknown(pve, client, clock):
    pve.get(STATUS_URL, **running())
    pve.add(pve_error("GET", f"/nodes/pve2/tasks/{UPID}/status", 500, "Internal Server Error"))
    with pytest.raises(PveTaskTimeout) as exc:
        wait_for_task(client, UPID, timeout_s=30, clock=clock, sleep=clock.sleep)
    assert "state is unknown" in str(exc.value)
    assert exc.value.upid == UPID and exc.value.node == "pve2"
    assert exc.value.last_status["status"] == "running"
    assert "Internal Server Error" in exc.value.last_error
    assert isinstance(exc.value, PveTimeout)
    assert clock.elapsed == pytest.approx(30)


@pytest.mark.parametrize(
    ("status", "text", "error"),
    [
        (401, "Authentication failed!", PveAuthError),
        (403, "Permission check failed (/nodes/pve2, Sys.Audit)", PvePermissionError),
        (404, "Not Found", PveNotFoundError),
    ],
)
def test_auth_permission_and_404_on_a_poll_are_final(pve, client, clock, status, text, error):
    pve.add(pve_error("GET", f"/nodes/pve2/tasks/{UPID}/status", status, text))
    with pytest.raises(error):
        wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "text": "Internal Server Error"},
        {"status": 403, "text": "Permission check failed (/nodes/pve2, Sys.Audit)"},
        {"status": 400, "text": "Parameter verification failed."},
    ],
)
def test_a_failed_log_read_never_fails_the_wait(pve, client, clock, failure):
    pve.get(STATUS_URL, **stopped("OK"))
    pve.add(pve_error("GET", f"/nodes/pve2/tasks/{UPID}/log", failure["status"], failure["text"]))
    result = wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert (result.exitstatus, result.log_tail) == ("OK", [])


def test_a_failed_log_read_keeps_the_task_failure(pve, client, clock):
    pve.get(STATUS_URL, **stopped("shrinking disks is not supported"))
    pve.get(LOG_URL, body=requests.exceptions.ConnectionError("reset"))
    with pytest.raises(PveTaskFailed) as exc:
        wait_for_task(client, UPID, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert exc.value.exitstatus == "shrinking disks is not supported"
