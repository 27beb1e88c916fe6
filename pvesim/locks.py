"""PVE's lock files: the per-VM flock (shared or exclusive, with a timeout) and vzdump's node lock.

Config locks (``lock: backup`` in the config) are data and live in the VM's config; these are the
``flock()``s PVE takes around every config change, which is where
``can't lock file '/var/lock/qemu-server/lock-<vmid>.conf' - got timeout`` comes from.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class LockTimeout(Exception):
    def __init__(self, path: str):
        self.path = path
        super().__init__(f"can't lock file '{path}' - got timeout")


class FileLock:
    def __init__(self, path: str):
        self.path = path
        self._cond = threading.Condition()
        self._exclusive = False
        self._shared = 0

    def acquire(self, *, exclusive: bool, timeout: float) -> None:
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while self._exclusive or (exclusive and self._shared):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockTimeout(self.path)
                self._cond.wait(remaining)
            if exclusive:
                self._exclusive = True
            else:
                self._shared += 1

    def release(self, *, exclusive: bool) -> None:
        with self._cond:
            if exclusive:
                self._exclusive = False
            else:
                self._shared -= 1
            self._cond.notify_all()

    @property
    def held(self) -> bool:
        with self._cond:
            return self._exclusive or self._shared > 0


class LockManager:
    """Hands out FileLocks; a knob-driven "contention window" makes a VM's lock look held."""

    def __init__(self, window_remaining: Callable[[int], float], window_wait: Callable[[], float]):
        self._window_remaining = window_remaining
        self._window_wait = window_wait
        self._locks: dict[str, FileLock] = {}
        self._guard = threading.Lock()

    def _lock(self, path: str) -> FileLock:
        with self._guard:
            return self._locks.setdefault(path, FileLock(path))

    @staticmethod
    def vm_lock_path(vmid: int) -> str:
        return f"/var/lock/qemu-server/lock-{vmid}.conf"

    @contextmanager
    def vm(
        self,
        vmid: int,
        *,
        timeout: float,
        exclusive: bool = True,
        ready: Callable[[], None] | None = None,
    ) -> Iterator[None]:
        """Hold VM ``vmid``'s lock file. ``ready`` is called once the first, non-waiting attempt
        is decided: a task signals "forked" there, so who got the lock first is deterministic
        while a waiting worker does not hold up the API call (as PVE's fork_worker does not)."""
        path = self.vm_lock_path(vmid)
        signal = ready or (lambda: None)
        remaining = self._window_remaining(vmid)
        if remaining > 0:
            wait = min(remaining, self._window_wait())
            signal()
            if wait > 0:
                time.sleep(wait)
            if self._window_remaining(vmid) > 0:
                raise LockTimeout(path)
        lock = self._lock(path)
        try:
            lock.acquire(exclusive=exclusive, timeout=0)
        except LockTimeout:
            signal()
            lock.acquire(exclusive=exclusive, timeout=timeout)
        signal()
        try:
            yield
        finally:
            lock.release(exclusive=exclusive)

    def node_vzdump(self, node: str) -> FileLock:
        return self._lock(f"{node}:/var/run/vzdump.lock")
