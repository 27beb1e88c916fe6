"""The PVE error hierarchy. Every error carries PVE's own message.

PVE reports most failures as HTTP 500 with the text in the reason phrase, so the class is chosen
from the status *and* the text (see ``classify_http_error``); callers branch on the class, never
on strings. ``wait_for_task`` raises the same lock class for a task that died on a lock, so one
``retry_on_lock`` covers both the synchronous and the in-task form of a lock error.
"""

from __future__ import annotations

import re
from http import HTTPStatus

# `can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout` (flock, 10 s in PVE)
# and `VM is locked (backup)` (the config's `lock:` property; no VMID in the text).
_FLOCK_RE = re.compile(r"can't lock file '(?P<file>[^']*)' - got timeout")
_CONFIG_LOCK_RE = re.compile(r"\b(?:VM|CT) is locked \((?P<reason>[^)]*)\)")
_NOT_FOUND_RE = re.compile(
    r"does not exist|no such (?:resource|task|vm|storage|volume)|No such file or directory",
    re.IGNORECASE,
)
_ALREADY_EXISTS_RE = re.compile(r"already exists", re.IGNORECASE)
# pve-common fork_worker: the worker could not even be started; nothing ran, so safe to repeat.
_NO_WORKER_RE = re.compile(r"got no worker upid")
# 502/503/504 from a proxy; 595-599 are AnyEvent::HTTP's pseudo statuses that pveproxy passes
# on when it cannot reach the target node (596 is the common one).
TRANSIENT_STATUSES = frozenset({502, 503, 504, 595, 596, 597, 598, 599})
# AnyEvent::HTTP's 595 is "errors during connection establishment": pveproxy never reached the
# node that would have run the call, so nothing was done. Every other transient status can come
# after the request was delivered (pveproxy gives up on a node after 30 s while that node's
# pvedaemon goes on; a front proxy answers 502/504 after forwarding).
NOT_DELIVERED_STATUSES = frozenset({595})
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
# clone: the newid's config exists on the node doing the clone (HTTP 500 before the fork, or the
# task's own check), or on another node (pmxcfs refuses the rename, inside the task);
# create/restore: check_vmid_unused (cluster-wide, HTTP 500 before the fork).
_VMID_TAKEN_RE = re.compile(
    r"unable to create VM (?P<a>\d+): config file already exists"
    r"|close \(rename\) atomic file '[^']*/qemu-server/(?P<b>\d+)\.conf' failed: File exists"
    r"|VM (?P<c>\d+) already exists on node"
)


class PveError(Exception):
    """Base class: ``message`` is PVE's text (first line of the reason phrase or the body)."""

    def __init__(self, message, *, status=None, method=None, path=None, errors=None):
        self.message = str(message).rstrip("\n")
        self.status = status
        self.method = method
        self.path = path
        self.errors = dict(errors or {})
        super().__init__(self.message)

    def __reduce__(self):
        # Subclasses take different constructor arguments; rebuild from state so errors survive
        # pickling (multiprocessing, Celery's pickle paths) unchanged.
        return (_restore_error, (type(self), self.args, self.__dict__.copy()))

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(str(self.status))
        if self.method and self.path:
            parts.append(f"{self.method} {self.path}:")
        parts.append(self.message)
        if self.errors:
            parts.append("(" + "; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) + ")")
        return " ".join(parts)


def _restore_error(cls, args, state):
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class PveAuthError(PveError):
    """401: bad or expired token (`Authentication failed!`, `No ticket`)."""


class PvePermissionError(PveError):
    """403: `Permission check failed (/vms/100, VM.Allocate)`."""


class PveNotFoundError(PveError):
    """The VM/config/volume does not exist (500 with that text), 404, or 501 unknown method."""


class PveValidationError(PveError):
    """400 `Parameter verification failed.`; ``errors`` maps parameter -> PVE's message."""


class PveAlreadyExistsError(PveError):
    """500 `... already exists` (e.g. clone onto a VMID whose config file exists).

    ``vmid_taken`` is the VMID when the text says a VM id is already used (see
    ``vmid_taken_in``): allocate another id and try again; never touch the VM that holds it.
    """

    @property
    def vmid_taken(self) -> int | None:
        return vmid_taken_in(self.message)


class PveLockError(PveError):
    """A per-VM flock timed out or the VM carries a config lock. Worth retrying later."""

    @property
    def lock_reason(self) -> str | None:
        """`backup`, `clone`, ... for `VM is locked (<reason>)`; None for a flock timeout."""
        m = _CONFIG_LOCK_RE.search(self.message)
        return m["reason"] if m else None

    @property
    def lock_file(self) -> str | None:
        m = _FLOCK_RE.search(self.message)
        return m["file"] if m else None


class PveTransientError(PveError):
    """Connection reset/refused, our HTTP timeouts, 502/503/504/596: worth trying again later.

    ``maybe_executed`` is True for a write whose answer was lost after it was sent (read
    timeout, reset mid-answer): PVE may have done it, so look before repeating it.
    """

    maybe_executed = False


class PveOutcomeUnknown(PveTransientError):
    """A write (POST/PUT/DELETE) whose outcome we cannot know from the answer.

    Raised for a write answered by a 5xx that does not carry PVE's own error text (a bare
    ``500 Internal Server Error``, a proxy's ``502 Bad Gateway``/``503``/``504``, pveproxy's
    ``596``-``599``), and for a write whose connection broke after the request was sent (reset,
    dropped, read timeout). PVE may have carried the write out (started the task, changed the
    config) or not. A 5xx *with* PVE's text (``can't lock file ...``, ``VM is locked``...) is a
    definite failure and never this class; a connect failure (nothing sent) and 595 are plain
    ``PveTransientError``.

    What a caller must do: read PVE back before anything else, never repeat the write blind.
    For a config write read ``GET .../config?current=1`` and ``GET .../pending`` and compare
    with what was sent; for a resize read the disk size; for a call that starts a task look for
    the task (``PveClient.vm_tasks(node, vmid, typefilter=..., since=...)``, ``source=all``)
    and follow its UPID, or look for its effect (the new VM for a clone). Applied: the step is
    done. Not applied: it may be retried within the usual bounds.
    """

    maybe_executed = True


class PveTlsError(PveError):
    """The server's certificate failed verification or did not match the pinned fingerprint.

    Deliberately not transient: retrying cannot help and it may mean someone is in the middle.
    """


class PveTimeout(PveError):
    """Our own deadline (waiting for a task or for a lock to go away) passed."""


class PveTaskTimeout(PveTimeout):
    """``wait_for_task``'s deadline passed: the task's state is unknown, not failed.

    PVE's task goes on regardless of our wait. ``last_status`` is the last status PVE gave
    (None if no poll succeeded), ``last_error`` the error of the last poll if it failed. Wait
    again on the same UPID (it stays valid) before recording anything.
    """

    def __init__(self, message, *, upid, node, last_status=None, last_error=None):
        super().__init__(message)
        self.upid = upid
        self.node = node
        self.last_status = dict(last_status) if last_status else None
        self.last_error = str(last_error) if last_error else None


class PveTaskFailed(PveError):
    """A task stopped with an exitstatus other than `OK` / `WARNINGS: n`."""

    def __init__(self, upid, exitstatus, log_tail=(), *, node=None):
        self.upid = upid
        self.exitstatus = exitstatus
        self.log_tail = list(log_tail)
        super().__init__(exitstatus)
        self.node = node

    def __str__(self) -> str:
        return f"task {self.upid} failed: {self.exitstatus}"


class PveTaskLockError(PveTaskFailed, PveLockError):
    """A task that failed on a lock (`TASK ERROR: can't lock file ...`, `VM is locked (...)`)."""


class PveTaskAlreadyExistsError(PveTaskFailed, PveAlreadyExistsError):
    """A clone task that failed because its new VMID was taken meanwhile.

    `unable to create VM <id>: config file already exists` (taken on the cloning node) or
    `close (rename) atomic file '/etc/pve/nodes/<node>/qemu-server/<id>.conf' failed: File
    exists` (taken on another node of the cluster). ``vmid_taken`` gives the id.
    """


def is_lock_message(text: str) -> bool:
    return bool(_FLOCK_RE.search(text) or _CONFIG_LOCK_RE.search(text))


def vmid_taken_in(text: str) -> int | None:
    """The VMID if ``text`` is one of PVE's "this VMID is already used" errors, else None."""
    m = _VMID_TAKEN_RE.search(text or "")
    if not m:
        return None
    return int(m["a"] or m["b"] or m["c"])


def task_failure(upid: str, exitstatus: str, log_tail=(), *, node=None) -> PveTaskFailed:
    if is_lock_message(exitstatus):
        cls = PveTaskLockError
    elif vmid_taken_in(exitstatus) is not None:
        cls = PveTaskAlreadyExistsError
    else:
        cls = PveTaskFailed
    return cls(upid, exitstatus, log_tail, node=node)


def has_pve_text(status: int, message: str) -> bool:
    """False for an empty text or the status's generic reason phrase (what a proxy or a dead
    worker sends); PVE's own errors put their message there instead."""
    text = (message or "").strip()
    if not text or text == f"HTTP {status}":
        return False
    try:
        generic = HTTPStatus(status).phrase
    except ValueError:
        return True
    return text.lower() != generic.lower()


def outcome_unknown(status: int, message: str, method: str | None) -> bool:
    """Whether a failed answer to ``method`` leaves open if PVE carried the write out."""
    if (method or "").upper() not in WRITE_METHODS or status < 500:
        return False
    if status in NOT_DELIVERED_STATUSES or _NO_WORKER_RE.search(message or ""):
        return False
    return status in TRANSIENT_STATUSES or not has_pve_text(status, message)


def classify_http_error(
    status: int, message: str, *, errors=None, method=None, path=None
) -> PveError:
    """Pick the error class for a failed HTTP answer from its status and PVE's text."""
    kwargs = {"status": status, "method": method, "path": path, "errors": errors}
    if outcome_unknown(status, message, method):
        return PveOutcomeUnknown(message, **kwargs)
    if status == 401:
        return PveAuthError(message, **kwargs)
    if status == 403:
        return PvePermissionError(message, **kwargs)
    if status == 400:
        return PveValidationError(message, **kwargs)
    if status in (404, 501):
        return PveNotFoundError(message, **kwargs)
    if status in TRANSIENT_STATUSES:
        return PveTransientError(message, **kwargs)
    if is_lock_message(message):
        return PveLockError(message, **kwargs)
    if _NO_WORKER_RE.search(message):
        return PveTransientError(message, **kwargs)
    if _ALREADY_EXISTS_RE.search(message):
        return PveAlreadyExistsError(message, **kwargs)
    if _NOT_FOUND_RE.search(message):
        return PveNotFoundError(message, **kwargs)
    return PveError(message, **kwargs)
