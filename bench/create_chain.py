"""Benchmark: the panel's overhead on top of PVE's own task time, for creates and resizes.

    .venv/bin/python bench/create_chain.py [--creates 5] [--resizes 5] [--time-scale 1.0]

Runs the whole path a customer's order takes: the service records a Job, the chain goes through
the broker to a real Celery worker (a subprocess), the worker drives the PVE simulator over
HTTPS and follows every UPID to its end. Jobs run one after another so each measures the engine,
not a queue. For each job it prints the wall time (Job created -> finished), the time the
simulator's own tasks took (their configured durations: clone, resize, start...), and the
difference: the panel's overhead (broker hops, task polling, config read-backs, DB writes).

Uses the test settings profile on a throwaway SQLite database under var/ and its own broker
queue; set DATABASE_URL / CELERY_BROKER_URL to run it on PostgreSQL / Redis instead (it migrates
that database, so point it at a scratch one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RUN_ID = f"bench-{os.getpid()}"
SQLITE_FILE = ROOT / "var" / f"{RUN_ID}.sqlite3"

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
os.environ.setdefault("DATABASE_URL", f"sqlite:///{SQLITE_FILE}")
os.environ["CELERY_TASK_DEFAULT_QUEUE"] = RUN_ID
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
os.environ.setdefault("PROXMOX_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from config.celery import worker_command  # noqa: E402
from nodes.models import Node, Template  # noqa: E402
from panel.models import FINISHED_JOB_STATES, Job, JobState  # noqa: E402
from proxmox.upid import parse_upid  # noqa: E402
from pvesim import PveSimulator  # noqa: E402
from servers import services  # noqa: E402
from servers.models import Plan  # noqa: E402


def start_worker() -> tuple[subprocess.Popen, Path]:
    log_path = ROOT / "var" / f"{RUN_ID}-worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            worker_command(concurrency=2, queue=RUN_ID, name=RUN_ID, quiet=True),
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while b" ready." not in log_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the worker did not start; see {log_path}")
        time.sleep(0.1)
    return proc, log_path


def wait_finished(job: Job) -> Job:
    deadline = time.monotonic() + 600
    while True:
        job = Job.objects.get(pk=job.pk)
        if job.state in FINISHED_JOB_STATES:
            return job
        if time.monotonic() > deadline:
            sys.exit(f"job {job.pk} did not finish: {job.state} {job.current_step}")
        time.sleep(0.02)


def pve_seconds(sim: PveSimulator, job: Job) -> float:
    """What the simulator's own tasks of this job took (their configured durations)."""
    return sum(
        sim.knobs.task_duration(parse_upid(step["upid"]).type)
        for step in job.steps
        if step.get("upid")
    )


def row(kind: str, jobs: list[Job], sim: PveSimulator) -> list[str]:
    totals = [(j.finished_at - j.created_at).total_seconds() for j in jobs]
    pves = [pve_seconds(sim, j) for j in jobs]
    overheads = [t - p for t, p in zip(totals, pves, strict=True)]
    queued = [(j.started_at - j.created_at).total_seconds() for j in jobs]
    return [
        kind,
        str(len(jobs)),
        f"{statistics.mean(totals):.2f}",
        f"{statistics.mean(pves):.2f}",
        f"{statistics.mean(overheads):.2f}",
        f"{max(overheads):.2f}",
        f"{statistics.mean(queued):.3f}",
    ]


def print_table(rows: list[list[str]]) -> None:
    header = ["job", "n", "total s", "PVE tasks s", "overhead s", "max overhead s", "to start s"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def print_steps(job: Job) -> None:
    """When each step began and ended, relative to the job's creation (seconds)."""
    from datetime import datetime

    started = (job.started_at - job.created_at).total_seconds()
    print(f"\n{job.kind} {job.pk}: started +{started:.3f}")
    for step in job.steps:
        began = datetime.fromisoformat(step["started_at"]) - job.created_at
        ended = datetime.fromisoformat(step["finished_at"]) - job.created_at
        kind = parse_upid(step["upid"]).type if step.get("upid") else "-"
        print(
            f"  {step['name']:<12} +{began.total_seconds():.3f} -> +{ended.total_seconds():.3f}"
            f"  {step['state']:<8} {kind}"
        )
    print(f"  finished     +{(job.finished_at - job.created_at).total_seconds():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--creates", type=int, default=5)
    parser.add_argument("--resizes", type=int, default=5)
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiply the simulator's task durations"
    )
    parser.add_argument(
        "--steps",
        action="store_true",
        help="also print the step timeline of the last job of each kind",
    )
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    sim = PveSimulator(nodes=("pve1",)).start()
    sim.knobs.time_scale = args.time_scale
    sim.add_template("pve1", 9000, "debian-12", disk_gib=10)
    node = Node.objects.create(
        name=f"bench {RUN_ID}",
        api_url=sim.url,
        pve_node="pve1",
        token_id=sim.token_id,
        token_secret=sim.token_secret,
        tls_fingerprint_sha256=sim.fingerprint_sha256,
        max_concurrent_heavy_tasks=4,
    )
    template = Template.objects.create(node=node, vmid=9000, name="debian-12", disk_gib=10)
    plan, _ = Plan.objects.get_or_create(
        name="bench", defaults={"max_cpu_cores": 16, "max_memory_mib": 65536, "max_disk_gib": 500}
    )
    user, _ = get_user_model().objects.get_or_create(username=f"bench-{RUN_ID}")
    worker, log_path = start_worker()
    try:
        creates, resizes = [], []
        for n in range(args.creates):
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
            if job.state != JobState.SUCCEEDED:
                sys.exit(f"create failed: {job.error}")
            creates.append(job)
        for n in range(args.resizes):
            server = creates[n % len(creates)].server
            server.refresh_from_db()
            job = wait_finished(
                services.server_resize(
                    server=server,
                    user=user,
                    cpu_cores=server.cpu_cores + 1,
                    memory_mib=server.memory_mib + 1024,
                    disk_gib=server.disk_gib + 10,
                )
            )
            if job.state != JobState.SUCCEEDED:
                sys.exit(f"resize failed: {job.error}")
            resizes.append(job)
        rows = []
        if creates:
            rows.append(row("create (clone+configure+resize+start)", creates, sim))
        if resizes:
            rows.append(row("resize (cores+memory+disk)", resizes, sim))
        print(
            f"broker {os.environ.get('CELERY_BROKER_URL', 'filesystem://')}, "
            f"database {connection.vendor}, simulator time scale {args.time_scale}"
        )
        print_table(rows)
        if args.steps:
            for job in creates[-1:] + resizes[-1:]:
                print_steps(job)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
        sim.stop()
        connection.close()
        if str(os.environ["DATABASE_URL"]).endswith(SQLITE_FILE.name):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
        log_path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
