"""manage.py demo_setup against the simulator's --demo cluster. The demo servers are adopted
through ``server_adopt``: their specs arrive with the sync jobs the real worker runs."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from nodes.models import Node, Template
from panel.models import Job, JobState
from pvesim.seed import seed_demo
from servers.models import Plan, Server, ServerStatus
from servers.steps import has_marker
from tests.fixtures.worker import wait_for_job

pytestmark = pytest.mark.django_db


def run_demo_setup(pve_sim, **overrides) -> str:
    out = StringIO()
    options = {
        "sim_url": pve_sim.url,
        "fingerprint": pve_sim.fingerprint_sha256,
        "token_id": pve_sim.token_id,
        "token_secret": pve_sim.token_secret,
        "nodes": "pve1,pve2",
    }
    options.update(overrides)
    call_command("demo_setup", stdout=out, **options)
    return out.getvalue()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_demo_setup_registers_nodes_templates_plan_users_and_the_demo_servers(
    pve_sim, celery_worker_process
):
    seed_demo(pve_sim)

    output = run_demo_setup(pve_sim)
    for job in Job.objects.all():
        job = wait_for_job(job, worker=celery_worker_process)
        assert job.state == JobState.SUCCEEDED, (job.error, job.steps)

    assert "customer demo / demo" in output
    assert "staff admin / admin" in output
    nodes = Node.objects.order_by("pve_node")
    assert [(n.pve_node, n.pve_version) for n in nodes] == [("pve1", "9.1.3"), ("pve2", "9.1.3")]
    assert all(n.tls_fingerprint_sha256 == pve_sim.fingerprint_sha256 for n in nodes)
    assert all(n.token_secret == pve_sim.token_secret for n in nodes)
    assert sorted(Template.objects.values_list("node__pve_node", "name", "disk_gib")) == [
        ("pve1", "debian-12", 3),
        ("pve1", "ubuntu-24.04", 4),
        ("pve2", "debian-12", 3),
        ("pve2", "ubuntu-24.04", 4),
    ]
    assert Plan.objects.filter(name="Standard", is_active=True).exists()

    users = get_user_model().objects
    admin, demo = users.get(username="admin"), users.get(username="demo")
    assert admin.is_staff and admin.is_superuser and admin.check_password("admin")
    assert not demo.is_staff and demo.check_password("demo")

    servers = {s.vmid: s for s in Server.objects.filter(owner=demo)}
    assert set(servers) == {100, 101}
    web, db = servers[100], servers[101]
    assert (web.name, web.cpu_cores, web.memory_mib, web.disk_gib, web.status) == (
        "web-1",
        2,
        2048,
        20,
        ServerStatus.RUNNING,
    )
    assert (db.name, db.cpu_cores, db.memory_mib, db.disk_gib, db.status) == (
        "db-1",
        4,
        4096,
        40,
        ServerStatus.STOPPED,
    )
    assert web.node.pve_node == "pve1"
    # The engine will act on them: each VM carries the adopted server's own marker.
    assert has_marker(pve_sim.vm(100).config, web)
    assert has_marker(pve_sim.vm(101).config, db)


def test_demo_setup_is_idempotent(pve_sim):
    seed_demo(pve_sim)
    run_demo_setup(pve_sim)
    demo = get_user_model().objects.get(username="demo")
    demo.set_password("changed")
    demo.save()

    run_demo_setup(pve_sim)

    assert Node.objects.count() == 2
    assert Template.objects.count() == 4
    assert Plan.objects.count() == 1
    assert get_user_model().objects.filter(username__in=["admin", "demo"]).count() == 2
    assert Server.objects.count() == 2
    assert get_user_model().objects.get(username="demo").check_password("demo")


def test_demo_setup_leaves_unmarked_vms_alone(pve_sim):
    pve_sim.add_template("pve1", 9000, "debian-12", 3)
    pve_sim.add_vm("pve1", 100, "someone-elses-vm", 20)

    run_demo_setup(pve_sim, nodes="pve1")

    assert not Server.objects.exists()


def test_demo_setup_with_a_wrong_fingerprint_fails_clearly(pve_sim):
    with pytest.raises(CommandError, match="does not match the pinned fingerprint"):
        run_demo_setup(pve_sim, fingerprint=":".join(["5A"] * 32))
