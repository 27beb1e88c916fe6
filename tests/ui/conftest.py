"""Rows for the view tests, made directly: these tests need no PVE and no worker (a job that is
created stays queued, because pytest-django's transaction never commits, so nothing is sent)."""

import pytest
from django.utils import timezone

from nodes.models import Node, Template
from panel.models import Job, JobKind, JobState
from servers.models import Plan, Server, ServerStatus


@pytest.fixture
def ui_node(db):
    return Node.objects.create(
        name="Frankfurt 1",
        # What customers read as their servers' location (the same words as the name here;
        # tests/ui/test_location.py tells the two apart).
        location="Frankfurt 1",
        api_url="https://pve1.example.com:8006",
        pve_node="pve1",
        token_id="panel@pve!panel",
        token_secret="not-a-real-secret",
    )


@pytest.fixture
def ui_plan(db):
    return Plan.objects.create(
        name="Standard", max_cpu_cores=8, max_memory_mib=16384, max_disk_gib=200
    )


@pytest.fixture
def ui_template(ui_node):
    return Template.objects.create(
        node=ui_node, vmid=9000, name="Debian 12", os_family="debian", disk_gib=10
    )


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
def alice_server(customer, ui_plan, ui_node, ui_template):
    return make_server(customer, ui_plan, ui_node, name="web-1", vmid=101, template=ui_template)


@pytest.fixture
def bob_server(other_customer, ui_plan, ui_node):
    return make_server(other_customer, ui_plan, ui_node, name="bobs-db", vmid=201)


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
