"""A failed job's sentence for customers: plain words, never PVE's text, nodes or UPIDs."""

import pytest

from panel.jobs.customer_errors import customer_error
from proxmox.errors import (
    PveError,
    PveLockError,
    PvePermissionError,
    PveTaskFailed,
    PveTaskLockError,
    PveTransientError,
)

UPID = "UPID:pve2:0000A1B2:0001C3D4:6553F1A0:resize:112:panel@pve!panel:"
LVM = "lvextend: Insufficient free space: 1280 extents needed, but only 3 available"


class _StepError(Exception):
    customer_message = "the virtual machine on the host is not this server's."


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (PveTaskFailed(UPID, f"command '{LVM}' failed: exit code 5"), "enough free storage"),
        (PveTaskFailed(UPID, "exit code 5", [LVM]), "enough free storage"),
        (
            PveTaskLockError(
                UPID, "can't lock file '/var/lock/qemu-server/lock-112.conf' - got timeout"
            ),
            "busy",
        ),
        (PveLockError("VM is locked (backup)", status=500), "busy"),
        (PveTransientError("Connection timed out", status=596), "did not answer"),
        (
            PvePermissionError("Permission check failed (/vms/112, VM.Config.Disk)", status=403),
            "could not act",
        ),
        (PveError("unable to parse value of 'scsi0' on node pve2", status=500), "refused"),
        (RuntimeError("boom in pve2"), "contact support"),
    ],
)
def test_customers_read_a_plain_sentence_without_pve_text(exc, expected):
    text = customer_error(kind_label="Resize", exc=exc, error=str(exc))
    assert text.startswith("The resize did not complete")
    assert expected in text
    for leak in (
        "pve2",
        "UPID",
        "panel@pve",
        "lvextend",
        "extents",
        "lock-112",
        "/vms/",
        "exit code",
    ):
        assert leak not in text


def test_an_exception_may_carry_its_own_sentence():
    text = customer_error(kind_label="Rebuild", exc=_StepError("VM 112 on pve2 lacks the marker"))
    assert (
        text
        == "The rebuild did not complete: the virtual machine on the host is not this server's."
    )


def test_without_an_exception_the_error_text_still_decides():
    text = customer_error(kind_label="Resize", error=f"Grow the disk: PVE task failed: {LVM}")
    assert "enough free storage" in text and "lvextend" not in text
