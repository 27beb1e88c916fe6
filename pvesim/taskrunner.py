"""Worker tasks: UPIDs in PVE's exact format, logs, background execution, injected outcomes."""

from __future__ import annotations

import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from pvesim.locks import LockTimeout
from pvesim.state import Task

if TYPE_CHECKING:
    from pvesim.server import PveSimulator

UPID_RE = re.compile(
    r"^UPID:(?P<node>[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):(?P<pid>[0-9A-Fa-f]{8}):"
    r"(?P<pstart>[0-9A-Fa-f]{8,9}):(?P<starttime>[0-9A-Fa-f]{8}):(?P<type>[^:\s/]+):"
    r"(?P<id>[^:\s/]*):(?P<user>[^:\s/]+):$"
)
USER_HZ = 100


def encode_upid(
    node: str, pid: int, pstart: int, starttime: int, task_type: str, task_id: str, user: str
) -> str:
    """PVE::UPID::encode: sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", ...)."""
    return f"UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{task_type}:{task_id}:{user}:"


class TaskError(Exception):
    """Ends the running task with ``TASK ERROR: <message>``."""


class TaskInterrupted(Exception):
    pass


class TaskContext:
    def __init__(self, sim: PveSimulator, task: Task, stop: threading.Event):
        self.sim = sim
        self.task = task
        self._stop = stop
        self._started = threading.Event()
        self._failure = sim.knobs.take_task_failure(task.type)
        self._warnings = sim.knobs.take_task_warnings(task.type)
        self.warning_count = 0
        self.committed = False

    @property
    def duration(self) -> float:
        return self.sim.knobs.task_duration(self.task.type)

    def log(self, line: str) -> None:
        with self.sim.state.lock:
            self.task.log.extend(str(line).split("\n"))

    def warn(self, message: str) -> None:
        self.warning_count += 1
        self.log(f"WARN: {message}")

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and self._stop.wait(seconds):
            raise TaskInterrupted()
        if self._stop.is_set():
            raise TaskInterrupted()

    def progress(self, seconds: float, line: Callable[[float], str | None], steps: int = 4) -> None:
        """Spend ``seconds`` working, logging ``line(fraction)`` at each step, as PVE tasks do."""
        steps = max(1, steps)
        for i in range(1, steps + 1):
            self.sleep(seconds / steps)
            text = line(i / steps)
            if text:
                self.log(text)

    def started(self) -> None:
        """The point where PVE's fork_worker has returned the UPID to the API caller."""
        self._started.set()

    def commit(self) -> None:
        """Called right before a task applies its effect: injected outcomes happen here.

        A task that ends early (nothing to do) gets them at its end instead."""
        self.committed = True
        if self._failure is not None:
            raise TaskError(self._failure)
        for warning in self._warnings:
            self.warn(warning)
        self._warnings = []


class TaskRunner:
    def __init__(self, sim: PveSimulator):
        self.sim = sim
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(
        self,
        *,
        node: str,
        task_type: str,
        task_id: str,
        work: Callable[[TaskContext], None],
        signals_start: bool = False,
    ) -> str:
        sim = self.sim
        with sim.state.lock:
            sim.state.next_pid += sim.rng.randint(1, 97)
            pid = sim.state.next_pid
            boot = sim.state.nodes[node].boot_time
            now = time.time()
            pstart = int((now - boot) * USER_HZ) + 4200
            starttime = int(now)
            upid = encode_upid(node, pid, pstart, starttime, task_type, task_id, sim.auth_id)
            task = Task(
                upid=upid,
                node=node,
                pid=pid,
                pstart=pstart,
                starttime=starttime,
                type=task_type,
                id=task_id,
                user=sim.auth_id,
            )
            sim.state.tasks[upid] = task
        ctx = TaskContext(sim, task, self._stop)
        if not signals_start:
            ctx.started()
        thread = threading.Thread(
            target=self._run, args=(ctx, work), name=f"pvesim-{task_type}-{pid}", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()
        ctx._started.wait(timeout=60)
        return upid

    def _run(self, ctx: TaskContext, work: Callable[[TaskContext], None]) -> None:
        error: str | None = None
        try:
            work(ctx)
            if not ctx.committed:
                ctx.commit()
        except (TaskError, LockTimeout) as exc:
            error = str(exc)
        except TaskInterrupted:
            error = "interrupted by signal"
        except Exception as exc:  # a simulator bug must still end the task, visibly
            traceback.print_exc(file=sys.stderr)
            error = f"simulator internal error: {exc}"
        self._finish(ctx, error)

    def _finish(self, ctx: TaskContext, error: str | None) -> None:
        task = ctx.task
        with self.sim.state.lock:
            if error is not None:
                text = " ".join(error.strip().split("\n"))
                task.log.append(f"TASK ERROR: {text}")
                task.exitstatus = text
            elif ctx.warning_count:
                task.log.append(f"TASK WARNINGS: {ctx.warning_count}")
                task.exitstatus = f"WARNINGS: {ctx.warning_count}"
            else:
                task.log.append("TASK OK")
                task.exitstatus = "OK"
            task.endtime = int(time.time())
            task.status = "stopped"
        ctx.started()
        self.sim.persist()

    def wait(self, upid: str, timeout: float) -> bool:
        """True when the task stopped within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.sim.state.lock:
                task = self.sim.state.tasks.get(upid)
                if task is None or task.status == "stopped":
                    return True
            time.sleep(0.02)
        return False

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
