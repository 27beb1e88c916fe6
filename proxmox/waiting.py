"""Following PVE's asynchronous work to its end: tasks, locks, retries.

Success is never assumed: a task is done when ``GET /nodes/{node}/tasks/{upid}/status`` says
``stopped``, and it succeeded only if ``exitstatus`` is ``OK`` or ``WARNINGS: n``. Clock, sleep
and randomness are parameters so tests run instantly and deterministically.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from proxmox.errors import (
    PveAuthError,
    PveError,
    PveLockError,
    PveNotFoundError,
    PvePermissionError,
    PveTaskTimeout,
    PveTimeout,
    PveTlsError,
    PveTransientError,
    PveValidationError,
    task_failure,
)
from proxmox.upid import parse_upid

logger = logging.getLogger("proxmox.waiting")

T = TypeVar("T")
_WARNINGS_RE = re.compile(r"WARNINGS: (\d+)")

# Poll fast at first (most config tasks end in well under a second), then back off so a long
# vzdump or clone costs a request every few seconds, not several per second.
FIRST_POLL_INTERVAL_S = 0.2
POLL_BACKOFF = 1.5
MAX_POLL_INTERVAL_S = 5.0
# A task that was just created can briefly be unknown to the status API on a cluster (bpg's
# provider retries HTTP 400 for the same reason); tolerate "no such task" this long.
NEW_TASK_GRACE_S = 5.0


# How many recent run times of a node's task type are remembered for timing the first poll.
TASK_TIMES_KEPT = 5


class TaskTimes:
    """How long a node's recent tasks of each type ran, as this process saw them.

    ``wait_for_task`` sleeps until the shortest of them before its first status call instead of
    polling from the start: a node's clones of a template, its disk grows and starts take about
    the same time each time, so most tasks are seen ended with one or two calls, a fraction of a
    second after they end. The shortest, not the last: the first poll never comes later than the
    quickest recent task needed, so a short task after a long one is not seen late. What is
    recorded is the last moment the task was seen running (or, seen ended at the first call,
    most of the time until then): an estimate from below, so the next first poll comes just
    before the end.
    """

    def __init__(self, kept: int = TASK_TIMES_KEPT):
        self._seen: dict[tuple[str, str], deque] = {}
        self._kept = kept
        self._lock = threading.Lock()

    def expected_s(self, node: str, task_type: str) -> float | None:
        with self._lock:
            seen = self._seen.get((node, task_type))
            return min(seen) if seen else None

    def record(self, node: str, task_type: str, seconds: float) -> None:
        with self._lock:
            self._seen.setdefault((node, task_type), deque(maxlen=self._kept)).append(seconds)


# After the expected end, poll at this fraction of it (then back off as usual): a 3 s clone is
# checked every 0.3 s around its end, a 0.5 s config task every 50 ms.
POLL_FRACTION_AFTER_EXPECTED = 0.1
# A first poll seen ``stopped`` only says the task took less than that: remember this much of it.
STOPPED_AT_FIRST_POLL_FRACTION = 0.8


@dataclass(frozen=True)
class TaskResult:
    upid: str | None
    node: str | None
    exitstatus: str
    warnings: int = 0
    log_tail: list[str] = field(default_factory=list)
    status: dict = field(default_factory=dict)

    @property
    def synchronous(self) -> bool:
        """True when PVE finished the work inside the HTTP call and gave no task."""
        return self.upid is None


class _Poller:
    """Adaptive interval bounded by a deadline."""

    def __init__(self, timeout_s: float, clock: Callable[[], float], sleep, first, maximum):
        self.clock = clock
        self.sleep = sleep
        self.started = clock()
        self.deadline = self.started + timeout_s
        self.interval = first
        self.maximum = maximum

    def elapsed(self) -> float:
        return self.clock() - self.started

    def wait_or_expire(self) -> bool:
        """Sleep until the next poll; False if the deadline has passed."""
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            return False
        self.sleep(min(self.interval, remaining))
        self.interval = min(self.interval * POLL_BACKOFF, self.maximum)
        return True


def _task_outcome(exitstatus: str) -> int | None:
    """Number of warnings if the task succeeded, None if it failed."""
    if exitstatus == "OK":
        return 0
    m = _WARNINGS_RE.fullmatch(exitstatus)
    return int(m[1]) if m else None


def _log_tail(client, node: str, upid: str, lines: int) -> list[str]:
    # The log only explains the outcome; the status already decided it. Never fail on it.
    try:
        return client.task_log_tail(node, upid, lines=lines)
    except PveError as exc:
        logger.warning("could not read the log of task %s: %s", upid, exc)
        return []


def _poll_error_is_final(exc: PveError, elapsed_s: float) -> bool:
    """Errors on a status poll that polling again cannot cure: our credentials or certificate,
    and PVE saying it has no such task (after a new task's grace period). Anything else (5xx
    with or without text, 596, resets, timeouts) says nothing about the task, which runs on."""
    if isinstance(exc, PveAuthError | PvePermissionError | PveTlsError):
        return True
    if isinstance(exc, PveValidationError):
        return exc.errors.get("upid") != "no such task" or elapsed_s > NEW_TASK_GRACE_S
    return isinstance(exc, PveNotFoundError) and exc.status == 404


def wait_for_task(
    client,
    upid: str | None,
    *,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = time.sleep,
    on_poll: Callable[[dict], Any] | None = None,
    first_interval_s: float = FIRST_POLL_INTERVAL_S,
    max_interval_s: float = MAX_POLL_INTERVAL_S,
    log_lines: int = 50,
    task_times: TaskTimes | None = None,
) -> TaskResult:
    """Poll the task until PVE says it stopped; return its result or raise.

    With ``task_times``, the first status call waits for the shortest recent run of this
    node's tasks of this type (see ``TaskTimes``), and this task's run time is recorded there.

    ``upid=None`` is what PVE returns when a call finished synchronously (POST config with
    ``background_delay``, resize on PVE 7, a storage delete with ``delay``): that is success
    without a task. Raises ``PveTaskFailed`` (``PveTaskLockError`` when it died on a lock) with
    the log's tail, or ``PveTaskTimeout`` (a ``PveTimeout``) when ``timeout_s`` passes first:
    the task's state is then unknown; it keeps running on PVE and the UPID stays valid for a
    later wait. A failed poll is a reason to poll again: every error on the status call is
    retried at the usual interval until the deadline, except those polling cannot cure (401,
    403, TLS, 404, and ``no such task`` after a short grace). A failed log read never fails
    the wait (the tail is then empty).
    """
    if upid is None:
        return TaskResult(upid=None, node=None, exitstatus="OK")
    parsed = parse_upid(upid)
    node = parsed.node  # the node that runs the task, whichever node we asked
    expected = task_times.expected_s(node, parsed.type) if task_times is not None else None
    if expected:
        first_interval_s = min(
            max(first_interval_s, expected * POLL_FRACTION_AFTER_EXPECTED), max_interval_s
        )
    poller = _Poller(timeout_s, clock, sleep, first_interval_s, max_interval_s)
    if expected:
        # In slices no longer than a poll interval: the caller's sleep keeps its job's heartbeat
        # fresh, and a long task's quiet wait must not look like a dead worker to the sweeper.
        remaining = min(expected, timeout_s)
        while remaining > 0:
            slice_s = min(remaining, max_interval_s)
            sleep(slice_s)
            remaining -= slice_s
    last_error: PveError | None = None
    last_status: dict | None = None
    seen_running_s: float | None = None
    while True:
        try:
            status = client.task_status(node, upid)
            last_error = None
        except PveError as exc:
            if _poll_error_is_final(exc, poller.elapsed()):
                raise
            # The task runs on regardless of our connection; keep polling until the deadline.
            logger.warning("polling task %s: %s", upid, exc)
            status, last_error = None, exc
        if status is not None:
            last_status = status
            if on_poll is not None:
                on_poll(status)
            if status.get("status") != "stopped":
                seen_running_s = poller.elapsed()
            else:
                if task_times is not None:
                    ran_s = seen_running_s
                    if ran_s is None:
                        ran_s = poller.elapsed() * STOPPED_AT_FIRST_POLL_FRACTION
                    task_times.record(node, parsed.type, ran_s)
                exitstatus = str(status.get("exitstatus", "unexpected status"))
                tail = _log_tail(client, node, upid, log_lines)
                warnings = _task_outcome(exitstatus)
                if warnings is None:
                    raise task_failure(upid, exitstatus, tail, node=node)
                return TaskResult(upid, node, exitstatus, warnings, tail, status)
        if not poller.wait_or_expire():
            seen = f"last seen {last_status.get('status')}" if last_status else "never read"
            raise PveTaskTimeout(
                f"task {upid} did not finish within {timeout_s:g} s; its state is unknown "
                f"({seen}" + (f"; last error: {last_error}" if last_error else "") + ")",
                upid=upid,
                node=node,
                last_status=last_status,
                last_error=last_error,
            ) from last_error


def retry_on_lock(
    fn: Callable[[], T],
    *,
    deadline_s: float,
    base_delay_s: float = 0.5,
    max_delay_s: float = 8.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = time.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[int, PveLockError, float], Any] | None = None,
) -> T:
    """Call ``fn`` until it does not raise ``PveLockError``, for at most ``deadline_s``.

    Exponential backoff with full jitter (delay drawn from [0, min(max, base * 2**n)]) so that
    workers retrying against the same VM do not fall into step. Any other error propagates at
    once. When the next wait would pass the deadline, the last lock error is re-raised.
    ``fn`` must be safe to repeat (absolute sizes, full config values).
    """
    rng = rng or random.Random()  # jitter, not cryptography
    started = clock()
    attempt = 0
    while True:
        try:
            return fn()
        except PveLockError as exc:
            attempt += 1
            delay = rng.uniform(0, min(max_delay_s, base_delay_s * 2 ** (attempt - 1)))
            if clock() + delay - started > deadline_s:
                logger.warning("giving up after %d lock errors: %s", attempt, exc)
                raise
            logger.info("lock error (attempt %d), retrying in %.2f s: %s", attempt, delay, exc)
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)


def wait_until_unlocked(
    client,
    node: str,
    vmid: int,
    *,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = time.sleep,
    first_interval_s: float = FIRST_POLL_INTERVAL_S,
    max_interval_s: float = MAX_POLL_INTERVAL_S,
) -> dict:
    """Poll the VM config until it has no ``lock`` (clone, backup, create...); return it."""
    poller = _Poller(timeout_s, clock, sleep, first_interval_s, max_interval_s)
    lock = None
    while True:
        try:
            config = client.vm_config(node, vmid)
            lock = config.get("lock")
            if not lock:
                return config
        except PveTransientError as exc:
            logger.warning("reading config of VM %s: %s", vmid, exc)
        if not poller.wait_or_expire():
            raise PveTimeout(f"VM {vmid} still locked ({lock}) after {timeout_s:g} s")
