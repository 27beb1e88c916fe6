"""Every server action in the admin records a Job and answers without calling PVE."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from panel.models import Job, JobKind, JobState
from servers.models import Server

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/servers/server/"


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def run_action(client, action, servers, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [s.pk for s in servers], **extra}
    return client.post(CHANGELIST, data)


@pytest.mark.parametrize(
    "action, kind, params",
    [
        ("power_start", JobKind.POWER, {"action": "start"}),
        ("power_shutdown", JobKind.POWER, {"action": "shutdown"}),
        ("power_reboot", JobKind.POWER, {"action": "reboot"}),
        ("power_stop", JobKind.POWER, {"action": "stop"}),
        ("suspend_servers", JobKind.SUSPEND, {}),
        ("sync_servers", JobKind.SYNC, {}),
    ],
)
def test_direct_actions_queue_one_job_per_server(
    admin_client, server_a, server_b, no_pve_calls, action, kind, params
):
    response = run_action(admin_client, action, [server_a, server_b])
    assert response.status_code == 302
    jobs = Job.objects.filter(kind=kind)
    assert {job.server_id for job in jobs} == {server_a.pk, server_b.pk}
    assert all(job.state == JobState.QUEUED for job in jobs)
    for job in jobs:
        assert {k: job.params.get(k) for k in params} == params


def test_unsuspend_queues_a_job(admin_client, server_a, no_pve_calls):
    Server.objects.filter(pk=server_a.pk).update(is_suspended=True, status="suspended")
    run_action(admin_client, "unsuspend_servers", [server_a])
    assert Job.objects.get().kind == JobKind.UNSUSPEND


def test_conflict_is_reported_and_others_still_run(admin_client, server_a, server_b, no_pve_calls):
    Job.objects.create(kind=JobKind.RESIZE, state=JobState.RUNNING, server=server_a)
    response = run_action(admin_client, "power_start", [server_a, server_b])
    assert response.status_code == 302
    assert Job.objects.filter(kind=JobKind.POWER).get().server == server_b
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("another job" in m for m in messages)


def test_resize_shows_an_intermediate_form_then_queues(admin_client, server_a, no_pve_calls):
    page = run_action(admin_client, "resize_server", [server_a])
    assert page.status_code == 200
    assert b'name="memory_mib"' in page.content
    assert not Job.objects.exists()

    done = run_action(
        admin_client,
        "resize_server",
        [server_a],
        apply="1",
        cpu_cores=4,
        memory_mib=4096,
        disk_gib=40,
    )
    assert done.status_code == 302
    job = Job.objects.get()
    assert job.kind == JobKind.RESIZE
    assert (job.params["cpu_cores"], job.params["memory_mib"], job.params["disk_gib"]) == (
        4,
        4096,
        40,
    )
    server_a.refresh_from_db()
    assert (server_a.cpu_cores, server_a.memory_mib, server_a.disk_gib) == (2, 2048, 20)


def test_resize_form_refuses_a_shrink_with_the_services_message(admin_client, server_a):
    page = run_action(
        admin_client,
        "resize_server",
        [server_a],
        apply="1",
        cpu_cores=2,
        memory_mib=2048,
        disk_gib=10,
    )
    assert page.status_code == 200
    assert b"errorlist" in page.content
    assert not Job.objects.exists()


def test_resize_refuses_several_servers(admin_client, server_a, server_b):
    response = run_action(admin_client, "resize_server", [server_a, server_b])
    assert response.status_code == 302
    assert not Job.objects.exists()


def test_rebuild_needs_confirmation_then_queues(
    admin_client, server_a, offline_template, no_pve_calls
):
    page = run_action(
        admin_client, "rebuild_server", [server_a], apply="1", template=offline_template.pk
    )
    assert page.status_code == 200  # the confirm box was not ticked
    assert not Job.objects.exists()
    run_action(
        admin_client,
        "rebuild_server",
        [server_a],
        apply="1",
        template=offline_template.pk,
        confirm="on",
    )
    job = Job.objects.get()
    assert job.kind == JobKind.REBUILD
    assert job.params["template_id"] == offline_template.pk


def test_delete_asks_for_confirmation_first(admin_client, server_a, no_pve_calls):
    page = run_action(admin_client, "delete_servers", [server_a])
    assert page.status_code == 200
    assert b"cannot be undone" in page.content
    assert not Job.objects.exists()
    run_action(admin_client, "delete_servers", [server_a], apply="1")
    assert Job.objects.get().kind == JobKind.DELETE
    assert Server.objects.filter(pk=server_a.pk).exists()  # gone only when PVE confirms


def test_plain_delete_is_not_offered(admin_client, server_a):
    # (adding is an order through the service: tests/admin/test_server_add_admin.py)
    assert admin_client.get(f"{CHANGELIST}{server_a.pk}/delete/").status_code == 403
    assert "delete_selected" not in admin_client.get(CHANGELIST).content.decode()


def test_change_form_does_not_write_pve_owned_fields(admin_client, server_a, other_customer):
    url = reverse("admin:servers_server_change", args=[server_a.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    for field in ("cpu_cores", "memory_mib", "disk_gib", "vmid", "node", "status"):
        assert f'name="{field}"' not in page.content.decode()
    response = admin_client.post(
        url,
        {
            "name": "renamed",
            "owner": other_customer.pk,
            "plan": server_a.plan_id,
            "cpu_cores": 64,
            "memory_mib": 1,
            "disk_gib": 1,
            "vmid": 555,
            "status": "stopped",
        },
    )
    assert response.status_code == 302
    server_a.refresh_from_db()
    assert server_a.name == "renamed"
    assert server_a.owner == other_customer
    assert (
        server_a.cpu_cores,
        server_a.memory_mib,
        server_a.disk_gib,
        server_a.vmid,
        server_a.status,
    ) == (2, 2048, 20, 101, "running")


def test_change_form_lists_the_servers_jobs(admin_client, server_a):
    job = Job.objects.create(kind=JobKind.RESIZE, state=JobState.FAILED, server=server_a)
    page = admin_client.get(reverse("admin:servers_server_change", args=[server_a.pk]))
    assert reverse("admin:panel_job_change", args=[job.pk]) in page.content.decode()
    listed = admin_client.get(f"/admin/panel/job/?server__id__exact={server_a.pk}")
    assert listed.status_code == 200
    assert "Resize" in listed.content.decode()


def test_changelist_filters_and_search(admin_client, server_a, server_b):
    by_owner = admin_client.get(CHANGELIST, {"q": "bob"}).content.decode()
    assert "bravo" in by_owner and "alpha" not in by_owner
    by_vmid = admin_client.get(CHANGELIST, {"q": "101"}).content.decode()
    assert "alpha" in by_vmid and "bravo" not in by_vmid
    suspended = admin_client.get(CHANGELIST, {"is_suspended__exact": "1"}).content.decode()
    assert "alpha" not in suspended
    assert (
        admin_client.get(
            CHANGELIST, {"status__exact": "running", "node__id__exact": server_a.node_id}
        ).status_code
        == 200
    )


def test_customers_cannot_reach_the_admin(client, customer, server_a):
    client.force_login(customer)
    response = client.post(
        CHANGELIST, {"action": "power_start", ACTION_CHECKBOX_NAME: [server_a.pk]}
    )
    assert response.status_code == 302  # to the admin login
    assert not Job.objects.exists()
