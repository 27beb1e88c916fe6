"""The server job kinds are known in every process, not only in the worker that imports the steps.

A job can be failed by any process: the web process, a shell, a management command, the sweeper
in beat. Each must run the kind's failure hook, or the server stays "resizing" forever.
"""

import subprocess
import sys
import textwrap

import pytest

from panel.jobs import job_create, job_definition
from panel.models import Job, JobKind, JobState
from servers.models import Server, ServerStatus
from tests.fixtures.worker import ROOT, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

BUSY = (
    ServerStatus.PROVISIONING,
    ServerStatus.RESIZING,
    ServerStatus.REBUILDING,
    ServerStatus.DELETING,
)

# A fresh interpreter that sets Django up and imports nothing but the job engine.
FAIL_THE_JOB = textwrap.dedent(
    """
    import sys

    import django

    django.setup()

    from panel.jobs import job_fail, job_start

    job = job_start(job_id=sys.argv[1])
    job_fail(job=job, error="The operator gave up on it.")
    """
)


def test_a_job_failed_in_a_fresh_process_leaves_its_server_not_busy(offline_server, customer):
    # A resize was recorded (the status says so) and never ran: no worker imported the steps.
    job = job_create(
        definition=job_definition(kind=JobKind.RESIZE),
        server=offline_server,
        requested_by=customer,
        params={"cpu_cores": 4},
    )
    Server.objects.filter(pk=offline_server.pk).update(status=ServerStatus.RESIZING)

    done = subprocess.run(
        [sys.executable, "-c", FAIL_THE_JOB, str(job.pk)],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    assert Job.objects.get(pk=job.pk).state == JobState.FAILED
    offline_server.refresh_from_db()
    assert offline_server.status not in BUSY
    # PVE cannot be reached for this node: the failure hook says so with the job's reason.
    assert offline_server.status == ServerStatus.ERROR
    assert "The operator gave up on it." in offline_server.status_reason
