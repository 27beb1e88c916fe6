"""`make bench`: the panel against two anchor clients, side by side on one simulator, one table.

    .venv/bin/python bench/run.py [--out docs/benchmarks.md] [--quick]

Starts what it needs on loopback (the PVE simulator in this process, a real Celery worker as a
subprocess, SQLite + filesystem broker unless DATABASE_URL / CELERY_BROKER_URL are set) and
measures, in the same run:

1. the create pipeline (clone -> configure -> resize, and the whole create with start and
   read-back) for the panel and the two baselines of ``bench/baselines.py``, with a short
   (1.5 s) and a long (12 s, past PVE's 10 s flock wait) lock held on the new VM right after its
   clone: wall time, overhead beyond PVE's own task and lock time, PVE calls per endpoint;
2. completion lag (PVE's task end -> the job's step done) and status calls per task for tasks
   of 1 s, 10 s and 120 s (run at the same time to keep the run short).

Every figure is a count or a difference/ratio of two things timed in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RUN_ID = f"bench-{os.getpid()}"
SQLITE_FILE = ROOT / "var" / f"{RUN_ID}.sqlite3"
(ROOT / "var").mkdir(exist_ok=True)

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
os.environ.setdefault("DATABASE_URL", f"sqlite:///{SQLITE_FILE}")
os.environ["CELERY_TASK_DEFAULT_QUEUE"] = RUN_ID
# The worker's processes share what they learn about PVE's task times through this cache.
os.environ.setdefault("CACHE_URL", f"filecache://{ROOT / 'var' / f'{RUN_ID}-cache'}")
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
os.environ.setdefault("PROXMOX_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bench.baselines import Seed002, Tight  # noqa: E402
from config.celery import worker_command  # noqa: E402
from nodes.models import Node, Template  # noqa: E402
from panel.models import FINISHED_JOB_STATES, Job, JobState  # noqa: E402
from proxmox.client import PveClient  # noqa: E402
from pvesim import PveSimulator  # noqa: E402
from servers import services  # noqa: E402
from servers.models import Plan, Server  # noqa: E402

TEMPLATE = 9000
# PVE-like task times (seconds): a full clone of a small template, a thin-LVM grow, a start.
DURATIONS = {"qmclone": 3.0, "resize": 1.0, "qmstart": 1.0, "qmconfig": 0.1, "qmstop": 1.0}
HOLDS_S = (1.5, 12.0)
BUILD_STEPS = ("clone", "configure", "resize_disk")


class Recorder:
    """Hooks on the simulator: when each task ended, every API call with its time, and a lock
    held on a clone's new VM for ``hold_s`` from the moment its clone ends (as another PVE
    process, e.g. a storage or HA hook, holds it on a busy node)."""

    def __init__(self, sim: PveSimulator):
        self.sim = sim
        self.hold_s = 0.0
        self.task_end: dict[str, float] = {}
        self.calls: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        count_call = sim.count_call

        def counting(key: str, path: str | None = None) -> None:
            with self._lock:
                self.calls.append((time.time(), key, path or ""))
            count_call(key, path)

        sim.count_call = counting
        runner = sim.runner
        start, finish = runner.start, runner._finish

        def starting(*, node, task_type, task_id, work, signals_start=False):
            if task_type == "qmclone":
                work = self._holding_after(node, work)
            return start(
                node=node,
                task_type=task_type,
                task_id=task_id,
                work=work,
                signals_start=signals_start,
            )

        def finishing(ctx, error):
            finish(ctx, error)
            self.task_end[ctx.task.upid] = time.time()

        runner.start, runner._finish = starting, finishing

    def _holding_after(self, node: str, work):
        def held(ctx):
            before = set(self.sim.state.nodes[node].vms)
            work(ctx)
            new = set(self.sim.state.nodes[node].vms) - before
            if self.hold_s and new:
                self.sim.knobs.lock_vm(new.pop(), self.hold_s)

        return held

    def calls_between(self, start: float, end: float) -> Counter:
        with self._lock:
            return Counter(key for t, key, _ in self.calls if start <= t <= end)


# --- setup ----------------------------------------------------------------------------------


def start_worker(concurrency: int) -> subprocess.Popen:
    log_path = ROOT / "var" / f"{RUN_ID}-worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            worker_command(concurrency=concurrency, queue=RUN_ID, name=RUN_ID, quiet=True),
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while b" ready." not in log_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the worker did not start; see {log_path}")
        time.sleep(0.1)
    return proc


def wait_finished(job: Job, timeout_s: float = 300) -> Job:
    deadline = time.monotonic() + timeout_s
    while True:
        job = Job.objects.get(pk=job.pk)
        if job.state in FINISHED_JOB_STATES:
            if job.state != JobState.SUCCEEDED:
                sys.exit(f"job {job.pk} ({job.kind}) failed: {job.error}")
            return job
        if time.monotonic() > deadline:
            sys.exit(f"job {job.pk} did not finish: {job.state} {job.current_step}")
        time.sleep(0.02)


def setup(sim: PveSimulator):
    call_command("migrate", verbosity=0)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    node = Node.objects.create(
        name=f"bench {RUN_ID}",
        api_url=sim.url,
        pve_node="pve1",
        token_id=sim.token_id,
        token_secret=sim.token_secret,
        tls_fingerprint_sha256=sim.fingerprint_sha256,
        max_concurrent_heavy_tasks=4,
    )
    template = Template.objects.create(node=node, vmid=TEMPLATE, name="debian-12", disk_gib=10)
    plan, _ = Plan.objects.get_or_create(
        name="bench", defaults={"max_cpu_cores": 16, "max_memory_mib": 65536, "max_disk_gib": 500}
    )
    user, _ = get_user_model().objects.get_or_create(username=f"bench-{RUN_ID}")
    return node, template, plan, user


def ts(value: str | datetime) -> float:
    return (datetime.fromisoformat(value) if isinstance(value, str) else value).timestamp()


# --- 1. the create pipeline -------------------------------------------------------------------


class Run:
    """One create by one client: build (clone -> configure -> resize) and whole create."""

    def __init__(self, client: str, hold_s: float, build_s: float, create_s: float, floor_s: float):
        self.client, self.hold_s = client, hold_s
        self.build_s, self.create_s, self.floor_s = build_s, create_s, floor_s
        self.build_calls: Counter = Counter()
        self.create_calls: Counter = Counter()

    @property
    def overhead_s(self) -> float:
        return self.build_s - self.floor_s


def pve_floor(hold_s: float) -> float:
    """PVE's own time for clone -> configure -> resize: the clone, the lock held after it, the
    resize (the config write itself is instant on PVE)."""
    return DURATIONS["qmclone"] + hold_s + DURATIONS["resize"]


def run_baseline(cls, rec: Recorder, sim: PveSimulator, hold_s: float, vmid: int) -> Run:
    client = PveClient(
        sim.url,
        token_id=sim.token_id,
        token_secret=sim.token_secret,
        fingerprint_sha256=sim.fingerprint_sha256,
    )
    anchor = cls(client, "pve1")
    rec.hold_s = hold_s
    started = time.time()
    client.next_vmid()
    anchor.build(TEMPLATE, vmid)
    built = time.time()
    anchor.finish(vmid)
    ended = time.time()
    run = Run(anchor.name, hold_s, built - started, ended - started, pve_floor(hold_s))
    run.build_calls = rec.calls_between(started, built)
    run.create_calls = rec.calls_between(started, ended)
    client.close()
    return run


def run_panel(rec: Recorder, ctx, hold_s: float, n: int, label: str = "panel") -> Run:
    node, template, plan, user = ctx
    rec.hold_s = hold_s
    job = services.server_create(
        owner=user,
        plan=plan,
        node=node,
        template=template,
        name=f"bench-{n}",
        hostname=f"bench-{n}.example.com",
        cpu_cores=2,
        memory_mib=2048,
        disk_gib=20,
        password="bench-password",
        requested_by=user,
    )
    job = wait_finished(job)
    started = ts(job.created_at)
    steps = {s["name"]: s for s in job.steps}
    built = ts(steps["resize_disk"]["finished_at"])
    ended = ts(job.finished_at)
    run = Run(label, hold_s, built - started, ended - started, pve_floor(hold_s))
    run.build_calls = rec.calls_between(started, built)
    run.create_calls = rec.calls_between(started, ended)
    return run


# --- 2. completion lag ------------------------------------------------------------------------


def lag_runs(rec: Recorder, sim: PveSimulator, ctx, lengths: dict[str, float]) -> list[dict]:
    """One server per task length, all at once: a resize job whose disk grow takes that long.
    Returns per task: its length, the lag from PVE's task end to the step done, status calls."""
    node, template, plan, user = ctx
    servers = []
    for n, _ in enumerate(lengths):
        rec.hold_s = 0
        job = services.server_create(
            owner=user,
            plan=plan,
            node=node,
            template=template,
            name=f"lag-{n}",
            hostname=f"lag-{n}.example.com",
            cpu_cores=1,
            memory_mib=1024,
            disk_gib=20,
            password="bench-password",
            requested_by=user,
        )
        servers.append(wait_finished(job).server_id)
    # Every task length is a power action (stop) of its own duration: one knob per run would
    # mix them, so each server's task type gets its length through the per-type table.
    results = []
    kinds = list(lengths.items())
    jobs = []
    for (label, seconds), server_id in zip(kinds, servers, strict=True):
        server = Server.objects.get(pk=server_id)
        sim.knobs.set_task_duration("resize", seconds)
        job = services.server_resize(server=server, user=user, disk_gib=server.disk_gib + 1)
        # The resize task reads its duration when it starts: wait until it did before the next
        # length is set.
        deadline = time.monotonic() + 60
        while not _step_upid(job, "resize_disk"):
            if time.monotonic() > deadline:
                sys.exit("the resize did not start")
            time.sleep(0.05)
        jobs.append((label, seconds, job))
    for label, seconds, job in jobs:
        job = wait_finished(job, timeout_s=seconds + 120)
        step = next(s for s in job.steps if s["name"] == "resize_disk")
        upid = step["upid"]
        lag = ts(step["finished_at"]) - rec.task_end[upid]
        polls = sum(1 for _, key, path in list(rec.calls) if upid in path and "status" in key)
        results.append({"label": label, "seconds": seconds, "lag_s": lag, "polls": polls})
    sim.knobs.set_task_duration("resize", DURATIONS["resize"])
    return results


def _step_upid(job: Job, name: str) -> str | None:
    job = Job.objects.get(pk=job.pk)
    step = next((s for s in job.steps if s["name"] == name), None)
    return step.get("upid") if step else None


# --- the table --------------------------------------------------------------------------------


def fmt_calls(c: Counter) -> str:
    """``GET tasks/{upid}/status 9, ...``: the endpoint below the node, per count."""

    def short(key: str) -> str:
        method, path = key.split(" ", 1)
        path = path.removeprefix("/nodes/{node}/").removeprefix("qemu/{vmid}/")
        return f"{method} {path}"

    return ", ".join(f"{short(k)} {v}" for k, v in c.most_common())


def machine() -> str:
    cores = os.cpu_count()
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return f"{cores} cores, {mem_kib / 1024 / 1024:.1f} GiB RAM, {platform.python_version()}"


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def render(runs: list[Run], lags: list[dict], backend: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`bench/run.py`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"commit {commit()}, {machine()}, {backend}. Nothing here is typed in by hand.",
        "",
        "## 1. Create pipeline: clone -> configure -> resize, then start and read-back",
        "",
        "Same simulator, same run. PVE task times: "
        + ", ".join(f"{k} {v:g} s" for k, v in DURATIONS.items())
        + "; a lock held on the new VM from the clone's end for the hold below; PVE's flock "
        "wait 10 s. PVE's own time = clone + hold + resize. Overhead = wall - PVE's own time "
        "(clone -> configure -> resize). Calls counted at the simulator.",
        "",
        "| lock hold | client | build wall s | PVE own s | overhead s | calls build "
        "| calls whole create | whole create s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.hold_s:g} s | {r.client} | {r.build_s:.2f} | {r.floor_s:.2f} | "
            f"{r.overhead_s:+.2f} | {sum(r.build_calls.values())} | "
            f"{sum(r.create_calls.values())} | {r.create_s:.2f} |"
        )
    lines += ["", "Calls per endpoint (whole create):", ""]
    for r in runs:
        lines.append(f"- {r.hold_s:g} s, {r.client}: {fmt_calls(r.create_calls)}")
    lines += [
        "",
        "## 2. Completion lag and call economy",
        "",
        "A disk resize whose PVE task runs the given time, all lengths at once. Lag = the job's "
        "step marked done minus PVE's task end; status calls = `GET .../tasks/{upid}/status` "
        "for that task.",
        "",
        "| task | lag s | status calls | task seconds per call |",
        "|---|---|---|---|",
    ]
    for r in lags:
        lines.append(
            f"| {r['label']} | {r['lag_s']:.2f} | {r['polls']} | "
            f"{r['seconds'] / max(r['polls'], 1):.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--quick", action="store_true", help="120 s task -> 20 s (a smoke run)")
    args = parser.parse_args()

    sim = PveSimulator(nodes=("pve1",)).start()
    for kind, seconds in DURATIONS.items():
        sim.knobs.set_task_duration(kind, seconds)
    sim.knobs.lock_window_wait_s = 10.0  # a writer waits for a held flock as PVE does
    sim.add_template("pve1", TEMPLATE, "debian-12", disk_gib=10)
    rec = Recorder(sim)
    ctx = setup(sim)
    worker = start_worker(concurrency=4)
    backend = f"{connection.vendor} + {os.environ.get('CELERY_BROKER_URL', 'filesystem broker')}"
    try:
        runs: list[Run] = []
        vmid = 500
        # The panel's first create on a node has no task times to go by: shown on its own.
        runs.append(run_panel(rec, ctx, HOLDS_S[0], 99, label="panel, first create (cold)"))
        for n, hold in enumerate(HOLDS_S):
            for cls in (Seed002, Tight):
                runs.append(run_baseline(cls, rec, sim, hold, vmid))
                vmid += 1
            runs.append(run_panel(rec, ctx, hold, n))
            print(*(f"{r.client} {r.hold_s}: {r.build_s:.2f}" for r in runs[-3:]), flush=True)
        long = 20.0 if args.quick else 120.0
        lags = lag_runs(rec, sim, ctx, {"1 s": 1.0, "10 s": 10.0, f"{long:g} s": long})
        text = render(runs, lags, backend)
        print(text)
        Path(args.out).write_text(text)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        sim.stop()
        if SQLITE_FILE.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
