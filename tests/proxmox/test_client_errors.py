import pickle

import pytest

from proxmox.errors import (
    PveAlreadyExistsError,
    PveAuthError,
    PveError,
    PveLockError,
    PveNotFoundError,
    PvePermissionError,
    PveTaskFailed,
    PveTaskLockError,
    PveTransientError,
    PveValidationError,
    classify_http_error,
    task_failure,
)


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (401, "Authentication failed!", PveAuthError),
        (401, "No ticket", PveAuthError),
        (403, "Permission check failed (/vms/100, VM.Allocate)", PvePermissionError),
        (400, "Parameter verification failed.", PveValidationError),
        (501, "Method 'GET /foo' not implemented", PveNotFoundError),
        (
            500,
            "Configuration file 'nodes/pve1/qemu-server/117.conf' does not exist",
            PveNotFoundError,
        ),
        (500, "can't lock file '/var/lock/qemu-server/lock-203.conf' - got timeout", PveLockError),
        (500, "VM is locked (backup)", PveLockError),
        (500, "unable to restore VM 100 - VM is locked (backup)", PveLockError),
        (
            500,
            "unable to restore VM 100 - VM 100 already exists on node 'pve'",
            PveAlreadyExistsError,
        ),
        (596, "Broken pipe", PveTransientError),
        (502, "Bad Gateway", PveTransientError),
        (503, "Service Unavailable", PveTransientError),
        (500, "VM 101 not running", PveError),
    ],
)
def test_classification(status, message, expected):
    error = classify_http_error(status, message)
    assert type(error) is expected
    assert error.message == message


def test_lock_details():
    flock = PveLockError("can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout")
    assert flock.lock_file == "/var/lock/qemu-server/lock-101.conf"
    assert flock.lock_reason is None
    assert PveLockError("VM is locked (clone)").lock_reason == "clone"


def test_task_failure_picks_the_lock_class_for_lock_exit_statuses():
    failed = task_failure(
        "UPID:x",
        "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout",
        ["l"],
    )
    assert isinstance(failed, PveTaskLockError) and isinstance(failed, PveLockError)
    plain = task_failure("UPID:x", "shrinking disks is not supported", ["TASK ERROR: ..."])
    assert type(plain) is PveTaskFailed
    assert plain.log_tail == ["TASK ERROR: ..."]
    assert "shrinking disks is not supported" in str(plain)


@pytest.mark.parametrize(
    "error",
    [
        PveValidationError(
            "Parameter verification failed.", status=400, errors={"vmid": "VM 2004 already exists"}
        ),
        PveTaskFailed("UPID:x", "job errors", ["ERROR: x", "TASK ERROR: job errors"], node="pve1"),
        task_failure("UPID:x", "VM is locked (backup)", []),
    ],
)
def test_errors_survive_pickling(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.__dict__ == error.__dict__
    assert str(copy) == str(error)
