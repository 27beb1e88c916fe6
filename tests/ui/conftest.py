"""Rows for the view tests, made directly: these tests need no PVE and no worker (a job that is
created stays queued, because pytest-django's transaction never commits, so nothing is sent)."""

import pytest
from django.utils import timezone

from panel.models import Job, JobKind, JobState
from servers.models import Server, ServerStatus


def make_server(owner, plan, node, *, name, vmid, **fields):
    values = {
        "hostname": f"{name}.example.com",
        "cpu_cores": 2,
        "memory_mib": 4096,
        "disk_gib": 40,
        "status": ServerStatus.RUNNING,
    }
    values.update(fields)
    return Server.objects.create(owner=owner, plan=plan, node=node, name=name, vmid=vmid, **values)


@pytest.fixture
def alice_server(customer, plan, offline_node, offline_template):
    return make_server(
        customer, plan, offline_node, name="web-1", vmid=101, template=offline_template
    )


@pytest.fixture
def bob_server(other_customer, plan, offline_node):
    return make_server(other_customer, plan, offline_node, name="bobs-db", vmid=201)


def make_job(server, *, state=JobState.RUNNING, kind=JobKind.RESIZE, **fields):
    values = {
        "server": server,
        "owner": server.owner,
        "requested_by": server.owner,
        "target_name": server.name,
        "kind": kind,
        "state": state,
        "steps": [
            {"name": "resize_disk", "label": "Grow the disk", "state": "running"},
            {"name": "finish", "label": "Read back what PVE holds", "state": "pending"},
        ],
        "progress": 25,
        "started_at": timezone.now(),
        "task_log": "\n".join(f"line {n}" for n in range(1, 31)),
    }
    values.update(fields)
    return Job.objects.create(**values)


@pytest.fixture
def alice_client(client, customer):
    client.force_login(customer)
    return client


HTMX = {"HTTP_HX_REQUEST": "true"}
