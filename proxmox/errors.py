"""The PVE error hierarchy. Every error carries PVE's own message.

PVE reports most failures as HTTP 500 with the text in the reason phrase, so the class is chosen
from the status *and* the text (see ``classify_http_error``); callers branch on the class, never
on strings. ``wait_for_task`` raises the same lock class for a task that died on a lock, so one
``retry_on_lock`` covers both the synchronous and the in-task form of a lock error.
"""

from __future__ import annotations

import re

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
    """500 `... already exists` (e.g. clone onto a VMID whose config file exists)."""


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


class PveTlsError(PveError):
    """The server's certificate failed verification or did not match the pinned fingerprint.

    Deliberately not transient: retrying cannot help and it may mean someone is in the middle.
    """


class PveTimeout(PveError):
    """Our own deadline (waiting for a task or for a lock to go away) passed."""


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


def is_lock_message(text: str) -> bool:
    return bool(_FLOCK_RE.search(text) or _CONFIG_LOCK_RE.search(text))


def task_failure(upid: str, exitstatus: str, log_tail=(), *, node=None) -> PveTaskFailed:
    cls = PveTaskLockError if is_lock_message(exitstatus) else PveTaskFailed
    return cls(upid, exitstatus, log_tail, node=node)


def classify_http_error(
    status: int, message: str, *, errors=None, method=None, path=None
) -> PveError:
    """Pick the error class for a failed HTTP answer from its status and PVE's text."""
    kwargs = {"status": status, "method": method, "path": path, "errors": errors}
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
