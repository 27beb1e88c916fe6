"""Benchmark: N jobs ordered at once on a running `make run` (the embedded default: SQLite and the
filesystem broker, shared by the web process and the worker).

    make run                       # in one terminal (or rundemo on other ports)
    .venv/bin/python bench/concurrent_jobs.py --jobs 20

Orders N servers from N threads at the same moment through the service layer (as the web process
would, each thread its own database connection), then waits for every job to end and prints how
many succeeded, the longest time a job sat "Queued", and the wall time until the last one ended.
Before the embedded default used WAL, a busy timeout and IMMEDIATE transactions, two writers at
once met `database is locked` and jobs sat "Queued" for minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from nodes.models import Node, Template  # noqa: E402
from panel.models import FINISHED_JOB_STATES, Job, JobState  # noqa: E402
from servers import services  # noqa: E402
from servers.models import Plan  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    owner = get_user_model().objects.get(username="demo")
    plan = Plan.objects.filter(is_active=True).first()
    nodes = list(Node.objects.filter(is_enabled=True))
    if not (plan and nodes):
        sys.exit("No plan or enabled node: start `make run` first (it sets up the demo).")
    stamp = int(time.time())
    job_ids: list = []
    errors: list[str] = []
    barrier = threading.Barrier(args.jobs)

    def order(number: int) -> None:
        node = nodes[number % len(nodes)]
        template = Template.objects.filter(node=node, is_active=True).first()
        barrier.wait()
        try:
            job = services.server_create(
                owner=owner,
                plan=plan,
                node=node,
                template=template,
                name=f"bench {stamp}-{number}",
                hostname=f"b{stamp}-{number}.example.com",
                cpu_cores=1,
                memory_mib=512,
                disk_gib=max(template.disk_gib, 1),
                requested_by=owner,
            )
            job_ids.append(job.pk)
        except Exception as exc:  # the benchmark reports every refusal, whatever it is
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=order, args=(n,)) for n in range(args.jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered_s = time.monotonic() - started
    print(f"ordered {len(job_ids)} of {args.jobs} in {ordered_s:.1f} s; refused: {len(errors)}")
    for error in errors:
        print("  ", error)

    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        jobs = list(Job.objects.filter(pk__in=job_ids))
        if all(job.state in FINISHED_JOB_STATES for job in jobs):
            break
        time.sleep(1)
    jobs = list(Job.objects.filter(pk__in=job_ids))
    wall_s = time.monotonic() - started
    states = {state: sum(job.state == state for job in jobs) for state in JobState.values}
    queued_s = [(job.started_at - job.created_at).total_seconds() for job in jobs if job.started_at]
    print(f"states: {states}")
    if queued_s:
        mean_s = sum(queued_s) / len(queued_s)
        print(f"longest time queued: {max(queued_s):.1f} s; mean {mean_s:.1f} s")
    print(f"wall time until the last job ended: {wall_s:.1f} s")
    for job in jobs:
        if job.state != JobState.SUCCEEDED:
            print(f"  {job.pk} {job.state}: {job.error[:200]}")
    return 0 if states[JobState.SUCCEEDED] == args.jobs else 1


if __name__ == "__main__":
    sys.exit(main())
