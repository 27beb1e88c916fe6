"""Fault-injection and timing knobs, settable in-process or through ``POST /_sim/knobs``."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

# Seconds each task type runs before it applies its effect. Short, so tests stay fast; scale them
# all with ``time_scale`` (the demo uses a larger scale so progress is visible).
DEFAULT_TASK_DURATIONS: dict[str, float] = {
    "qmclone": 1.0,
    "qmconfig": 0.3,
    "resize": 0.5,
    "qmdestroy": 0.5,
    "qmstart": 0.5,
    "qmstop": 0.3,
    "qmshutdown": 0.5,
    "qmreboot": 0.6,
    "qmreset": 0.3,
    "qmsuspend": 0.3,
    "qmresume": 0.3,
    "qmcreate": 0.5,
    "qmrestore": 1.0,
    "vzdump": 1.0,
    "imgdel": 0.3,
}
FALLBACK_TASK_DURATION = 0.3

# What an injected HTTP fault looks like: status, reason phrase. "reset" closes the TCP connection
# with RST before anything is done; "reset_after" does the work and then resets (the reply is lost).
HTTP_FAULTS: dict[str, tuple[int, str]] = {
    "500": (500, "Internal Server Error"),
    "502": (502, "Bad Gateway"),
    "503": (503, "Service Unavailable"),
    "596": (596, "Connection timed out"),
}
RESET_FAULTS = ("reset", "reset_after")
# The work is done (task started, write applied), then the answer is a bare 500/502 with a
# generic reason phrase and an HTML body: no PVE error text, as from a front proxy or a worker
# that died after doing its job.
AFTER_FAULTS: dict[str, tuple[int, str]] = {
    "500_after": (500, "Internal Server Error"),
    "502_after": (502, "Bad Gateway"),
}
FAULT_KINDS = (*HTTP_FAULTS, *RESET_FAULTS, *AFTER_FAULTS)


@dataclass
class Knobs:
    task_durations: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TASK_DURATIONS))
    time_scale: float = 1.0
    latency_s: float = 0.0
    latency_jitter_s: float = 0.0
    # Extra latency for some endpoints ("METHOD /template" keys as in .calls).
    latency_by_endpoint: dict[str, float] = field(default_factory=dict)
    # PVE delays every 401 by 3 s; 0 keeps tests fast. Set 3 to be exact.
    auth_failure_delay_s: float = 0.0
    # How long a flock waiter waits for a real holder (PVE: 10 s; a clone waits 1 s).
    lock_timeout_s: float = 10.0
    clone_lock_timeout_s: float = 1.0
    # A VM's lock file held by "someone else" until a monotonic deadline: acquiring it fails
    # (after waiting lock_window_wait_s) with PVE's `can't lock file ... got timeout`.
    lock_windows: dict[int, float] = field(default_factory=dict)
    lock_window_wait_s: float = 0.0
    # Fail the next N tasks of a type: type -> queue of messages (exitstatus text).
    task_failures: dict[str, deque] = field(default_factory=dict)
    # Make the next N tasks of a type end with warnings: type -> queue of warning lists.
    task_warnings: dict[str, deque] = field(default_factory=dict)
    # Random HTTP faults on a fraction of /api2/json calls (seeded), optionally on some endpoints
    # only ("METHOD /template" keys as in .calls).
    http_fault_rate: float = 0.0
    http_fault_kinds: list[str] = field(default_factory=lambda: ["500", "502", "596", "reset"])
    http_fault_endpoints: list[str] | None = None
    # Deterministic faults: each entry fails the next matching call. {"kind", "endpoint"|None}
    call_faults: list[dict] = field(default_factory=list)
    # Nodes that do not answer: proxied calls to them get 596, /nodes shows them offline.
    nodes_down: set[str] = field(default_factory=set)
    # Privileges the token lacks (e.g. {"VM.Allocate"}): calls needing them get PVE's 403.
    denied_privileges: set[str] = field(default_factory=set)
    # Each of the next N answers of /cluster/nextid is followed at once by another client
    # creating a VM with that id (on the first node): the caller's clone/create then fails.
    nextid_races: int = 0
    # Multiplies every VM's NIC rates (``pvesim.traffic``) from its next start on: 0 leaves only
    # the bytes a test adds with ``sim.add_traffic``, so its counters are exact.
    net_rate_scale: float = 1.0
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # --- timing -----------------------------------------------------------------------------

    def task_duration(self, task_type: str) -> float:
        with self._lock:
            base = self.task_durations.get(task_type, FALLBACK_TASK_DURATION)
            return max(0.0, base * self.time_scale)

    def set_task_duration(self, task_type: str, seconds: float) -> None:
        with self._lock:
            self.task_durations[task_type] = float(seconds)

    # --- locks ------------------------------------------------------------------------------

    def lock_vm(self, vmid: int, seconds: float) -> None:
        """Hold VM ``vmid``'s lock file for ``seconds`` as another PVE process would."""
        with self._lock:
            self.lock_windows[int(vmid)] = time.monotonic() + float(seconds)

    def unlock_vm(self, vmid: int) -> None:
        with self._lock:
            self.lock_windows.pop(int(vmid), None)

    def lock_window_remaining(self, vmid: int) -> float:
        with self._lock:
            deadline = self.lock_windows.get(int(vmid))
            if deadline is None:
                return 0.0
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                del self.lock_windows[int(vmid)]
                return 0.0
            return remaining

    # --- task outcomes ----------------------------------------------------------------------

    def fail_next_tasks(self, task_type: str, count: int = 1, message: str = "") -> None:
        message = message or f"simulated {task_type} failure"
        with self._lock:
            self.task_failures.setdefault(task_type, deque()).extend([message] * int(count))

    def warn_next_tasks(self, task_type: str, count: int = 1, warnings: list[str] | None = None):
        warnings = list(warnings or ["simulated warning"])
        with self._lock:
            self.task_warnings.setdefault(task_type, deque()).extend([warnings] * int(count))

    def take_task_failure(self, task_type: str) -> str | None:
        with self._lock:
            queue = self.task_failures.get(task_type)
            return queue.popleft() if queue else None

    def take_task_warnings(self, task_type: str) -> list[str]:
        with self._lock:
            queue = self.task_warnings.get(task_type)
            return queue.popleft() if queue else []

    # --- HTTP faults ------------------------------------------------------------------------

    def fail_next_calls(self, kind: str, count: int = 1, endpoint: str | None = None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {FAULT_KINDS}")
        with self._lock:
            self.call_faults.extend({"kind": kind, "endpoint": endpoint} for _ in range(count))

    def take_call_fault(self, endpoint: str, rng) -> str | None:
        """The fault to inject into this call (``endpoint`` = "METHOD /template"), if any."""
        with self._lock:
            for i, fault in enumerate(self.call_faults):
                if fault["endpoint"] in (None, endpoint):
                    del self.call_faults[i]
                    return fault["kind"]
            if self.http_fault_rate <= 0 or not self.http_fault_kinds:
                return None
            if self.http_fault_endpoints is not None and endpoint not in self.http_fault_endpoints:
                return None
            if rng.random() < self.http_fault_rate:
                return rng.choice(self.http_fault_kinds)
            return None

    def take_nextid_race(self) -> bool:
        with self._lock:
            if self.nextid_races <= 0:
                return False
            self.nextid_races -= 1
            return True

    def set_node_down(self, node: str, down: bool = True) -> None:
        with self._lock:
            (self.nodes_down.add if down else self.nodes_down.discard)(node)

    # --- (de)serialisation for the admin endpoint -------------------------------------------

    SCALARS = (
        "time_scale",
        "latency_s",
        "latency_jitter_s",
        "auth_failure_delay_s",
        "lock_timeout_s",
        "clone_lock_timeout_s",
        "lock_window_wait_s",
        "http_fault_rate",
        "net_rate_scale",
    )

    def to_dict(self) -> dict:
        with self._lock:
            now = time.monotonic()
            return {
                **{name: getattr(self, name) for name in self.SCALARS},
                "task_durations": dict(self.task_durations),
                "latency_by_endpoint": dict(self.latency_by_endpoint),
                "lock_windows": {
                    str(vmid): round(deadline - now, 3)
                    for vmid, deadline in self.lock_windows.items()
                    if deadline > now
                },
                "task_failures": {k: list(v) for k, v in self.task_failures.items() if v},
                "task_warnings": {k: list(v) for k, v in self.task_warnings.items() if v},
                "http_fault_kinds": list(self.http_fault_kinds),
                "http_fault_endpoints": self.http_fault_endpoints,
                "call_faults": list(self.call_faults),
                "nodes_down": sorted(self.nodes_down),
                "denied_privileges": sorted(self.denied_privileges),
                "nextid_races": self.nextid_races,
            }

    def update(self, changes: dict) -> None:
        """Apply a JSON document: scalars by name, plus the structured keys below.

        ``task_durations`` (merged), ``lock_windows`` ({vmid: seconds}),
        ``fail_next_tasks`` ([{type, count, message}]), ``warn_next_tasks`` ([{type, count,
        warnings}]), ``fail_next_calls`` ([{kind, count, endpoint}]), ``http_fault_kinds``,
        ``http_fault_endpoints``, ``nodes_down`` (the full set), ``nextid_races`` (int).
        """
        with self._lock:
            unknown = set(changes) - {
                *self.SCALARS,
                "task_durations",
                "latency_by_endpoint",
                "lock_windows",
                "fail_next_tasks",
                "warn_next_tasks",
                "fail_next_calls",
                "http_fault_kinds",
                "http_fault_endpoints",
                "nodes_down",
                "denied_privileges",
                "nextid_races",
            }
            if unknown:
                raise ValueError(f"unknown knobs: {', '.join(sorted(unknown))}")
            for name in self.SCALARS:
                if name in changes:
                    setattr(self, name, float(changes[name]))
            for task_type, seconds in changes.get("task_durations", {}).items():
                self.set_task_duration(task_type, seconds)
            for endpoint, seconds in changes.get("latency_by_endpoint", {}).items():
                self.latency_by_endpoint[endpoint] = float(seconds)
            for vmid, seconds in changes.get("lock_windows", {}).items():
                self.lock_vm(int(vmid), float(seconds))
            for item in changes.get("fail_next_tasks", []):
                self.fail_next_tasks(item["type"], item.get("count", 1), item.get("message", ""))
            for item in changes.get("warn_next_tasks", []):
                self.warn_next_tasks(item["type"], item.get("count", 1), item.get("warnings"))
            for item in changes.get("fail_next_calls", []):
                self.fail_next_calls(item["kind"], item.get("count", 1), item.get("endpoint"))
            if "http_fault_kinds" in changes:
                kinds = list(changes["http_fault_kinds"])
                bad = [k for k in kinds if k not in FAULT_KINDS]
                if bad:
                    raise ValueError(f"unknown fault kinds: {bad}")
                self.http_fault_kinds = kinds
            if "http_fault_endpoints" in changes:
                endpoints = changes["http_fault_endpoints"]
                self.http_fault_endpoints = None if endpoints is None else list(endpoints)
            if "nodes_down" in changes:
                self.nodes_down = set(changes["nodes_down"])
            if "denied_privileges" in changes:
                self.denied_privileges = set(changes["denied_privileges"])
            if "nextid_races" in changes:
                self.nextid_races = int(changes["nextid_races"])

    def reset(self) -> None:
        fresh = Knobs()
        with self._lock:
            for name in (*self.SCALARS, "task_durations", "http_fault_kinds"):
                setattr(self, name, getattr(fresh, name))
            self.http_fault_endpoints = None
            self.latency_by_endpoint.clear()
            self.lock_windows.clear()
            self.task_failures.clear()
            self.task_warnings.clear()
            self.call_faults.clear()
            self.nodes_down.clear()
            self.denied_privileges.clear()
            self.nextid_races = 0
