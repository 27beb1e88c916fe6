"""The Celery app, and the one command line that starts a worker for it (the demo, the tests'
worker fixture and the benchmark all start theirs with ``worker_command``)."""

import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("panel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def worker_command(
    *,
    concurrency: int,
    pool: str = "prefork",
    queue: str | None = None,
    name: str | None = None,
    beat_schedule: str | None = None,
    quiet: bool = False,
) -> list[str]:
    """``celery -A config worker`` with these options, for ``subprocess.Popen``.

    ``queue``/``name``: consume only that queue, under that node name (a test or benchmark run
    keeps to its own); ``beat_schedule``: also run beat (the job sweeper) with its schedule file;
    ``quiet``: no gossip, mingle or heartbeat between workers (a lone worker needs none, and they
    slow its start).
    """
    command = [sys.executable, "-m", "celery", "-A", "config", "worker"]
    command += [f"--pool={pool}", f"--concurrency={concurrency}", "--loglevel=INFO"]
    if queue is not None:
        command += ["-Q", queue]
    if name is not None:
        command += ["-n", f"{name}@%h"]
    if quiet:
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if beat_schedule is not None:
        command += ["--beat", "--schedule", beat_schedule]
    return command
