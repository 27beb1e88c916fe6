"""What a customer reads when a job fails: a plain sentence, never PVE's text.

PVE's own message (``can't lock file ... got timeout``, ``lvextend: Insufficient free space``) and
the task log stay on the Job for staff. Customers must not see them: they name nodes, storages,
UPIDs and token ids, and they explain nothing to someone who rents a server. The sentence is chosen
once, when the job fails, from the exception (its class, and for PVE's 500s its text) and stored
on the Job, so every page and the API show the same words.

An exception may carry its own sentence as ``customer_message`` (a step that knows better, e.g.
"the VM on the host is not this server's").
"""

from __future__ import annotations

import re

from proxmox.errors import (
    PveAuthError,
    PveError,
    PveLockError,
    PvePermissionError,
    PveTaskFailed,
    PveTimeout,
    PveTlsError,
    PveTransientError,
)

_NO_SPACE_RE = re.compile(
    r"insufficient free space|no space left|not enough (?:free )?space|out of space|"
    r"storage .* is full|quota exceeded",
    re.IGNORECASE,
)

TRY_AGAIN = "Please try again in a few minutes; if it keeps failing, contact support."
STAFF_TOLD = "Our staff can see what happened; please contact support."


def customer_error(*, kind_label: str, exc: BaseException | None = None, error: str = "") -> str:
    """The sentence a customer reads for a failed job of ``kind_label`` ("Resize", ...)."""
    own = getattr(exc, "customer_message", "") if exc is not None else ""
    what = f"The {kind_label.lower()} did not complete"
    if own:
        return f"{what}: {own}"
    text = " ".join(
        part
        for part in (
            error,
            str(getattr(exc, "exitstatus", "") or ""),
            "\n".join(getattr(exc, "log_tail", []) or []),
        )
        if part
    )
    if _NO_SPACE_RE.search(text):
        return f"{what}: the host does not have enough free storage for it right now. {STAFF_TOLD}"
    if isinstance(exc, PveLockError):
        return f"{what}: the host was busy with another task on this server. {TRY_AGAIN}"
    if isinstance(exc, PveAuthError | PvePermissionError | PveTlsError):
        return f"{what}: the panel could not act on the host. {STAFF_TOLD}"
    if isinstance(exc, PveTransientError | PveTimeout):
        return f"{what}: the host did not answer in time. {TRY_AGAIN}"
    if isinstance(exc, PveTaskFailed | PveError):
        return f"{what}: the host refused it. {STAFF_TOLD}"
    return f"{what}. {STAFF_TOLD}"
