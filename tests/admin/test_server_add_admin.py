"""The admin's "add server" page orders a server through ``services.server_create``: it records
the server (provisioning) and a queued create job, and the request never calls PVE."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from panel.models import Job, JobKind, JobState
from servers.models import Server, ServerStatus
from tests.fixtures.data import sim_template

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/servers/server/add/"


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def order(customer, plan, node, template):
    return {
        "owner": customer.pk,
        "plan": plan.pk,
        "node": node.pk,
        "template": template.pk,
        "name": "web1",
        "hostname": "web1.example.com",
        "cpu_cores": 2,
        "memory_mib": 2048,
        "disk_gib": 20,
        "password": "",
        "ssh_keys": "",
        "vmid": "",
    }


def pve_call_count(pve_sim) -> int:
    return sum(pve_sim.calls.values())


def test_add_page_shows_the_order_form(admin_client, pve_sim, template):
    calls_before = pve_call_count(pve_sim)
    page = admin_client.get(ADD_URL)
    assert page.status_code == 200
    html = page.content.decode()
    for field in (
        "owner",
        "plan",
        "node",
        "template",
        "name",
        "hostname",
        "cpu_cores",
        "memory_mib",
        "disk_gib",
        "password",
        "ssh_keys",
        "vmid",
    ):
        assert f'name="{field}"' in html, field
    assert template.name in html
    assert pve_call_count(pve_sim) == calls_before


def test_changelist_offers_the_add_button(admin_client, pve_sim):
    assert ADD_URL in admin_client.get("/admin/servers/server/").content.decode()


def test_valid_order_creates_the_server_and_queues_a_job_without_calling_pve(
    admin_client, pve_sim, order, customer, plan, node, template, staff_user
):
    calls_before = pve_call_count(pve_sim)
    response = admin_client.post(
        ADD_URL, {**order, "ssh_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0b admin@x"}
    )
    assert response.status_code == 302, response.content.decode()
    server = Server.objects.get()
    assert response["Location"] == reverse("admin:servers_server_change", args=[server.pk])
    assert (server.owner, server.plan, server.node, server.template) == (
        customer,
        plan,
        node,
        template,
    )
    assert (server.name, server.hostname, server.status) == (
        "web1",
        "web1.example.com",
        ServerStatus.PROVISIONING,
    )
    assert server.vmid is None  # PVE's next free one, chosen by the worker
    job = Job.objects.get()
    assert (job.kind, job.state, job.server) == (JobKind.CREATE, JobState.QUEUED, server)
    assert job.requested_by == staff_user
    assert (job.params["cpu_cores"], job.params["memory_mib"], job.params["disk_gib"]) == (
        2,
        2048,
        20,
    )
    assert job.params["vmid_chosen"] is False
    assert pve_call_count(pve_sim) == calls_before, pve_sim.calls

    messages = [str(m) for m in response.wsgi_request._messages]
    assert any(f"Server {server} is being created" in m and f"#{job.pk}" in m for m in messages)


def test_a_chosen_vmid_is_passed_to_the_job(admin_client, pve_sim, order):
    calls_before = pve_call_count(pve_sim)
    response = admin_client.post(ADD_URL, {**order, "vmid": 4242})
    assert response.status_code == 302
    assert Server.objects.get().vmid == 4242
    assert Job.objects.get().params["vmid_chosen"] is True
    assert pve_call_count(pve_sim) == calls_before


def assert_refused(response, field: str, text: str) -> None:
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert any(text in message for message in errors[field]), errors
    assert text in response.content.decode()
    assert not Server.objects.exists()
    assert not Job.objects.exists()


def test_disk_over_the_plans_limit_is_refused_on_the_field(admin_client, pve_sim, order, plan):
    calls_before = pve_call_count(pve_sim)
    response = admin_client.post(ADD_URL, {**order, "disk_gib": plan.max_disk_gib + 1})
    assert_refused(response, "disk_gib", str(plan.max_disk_gib))
    assert pve_call_count(pve_sim) == calls_before


def test_template_on_another_node_is_refused_on_the_field(
    admin_client, pve_sim, order, node_factory
):
    other_node = node_factory(name="Sim 2")
    elsewhere = sim_template(pve_sim, other_node, vmid=9001, name="ubuntu-24")
    response = admin_client.post(ADD_URL, {**order, "template": elsewhere.pk})
    assert_refused(response, "template", "is not on the node")


def test_service_refusals_land_on_their_fields(admin_client, pve_sim, order):
    response = admin_client.post(ADD_URL, {**order, "hostname": "not a hostname!"})
    assert_refused(response, "hostname", "Use a DNS name")


def test_customers_get_no_access(client, customer, pve_sim, order):
    client.force_login(customer)
    page = client.get(ADD_URL)
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("admin:login"))
    response = client.post(ADD_URL, order)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not Server.objects.exists()
    assert not Job.objects.exists()


def test_staff_without_the_add_permission_are_refused(client, django_user_model, pve_sim, order):
    clerk = django_user_model.objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_server"))
    client.force_login(clerk)
    assert client.get(ADD_URL).status_code == 403
    assert client.post(ADD_URL, order).status_code == 403
    assert not Server.objects.exists()

    clerk.user_permissions.add(Permission.objects.get(codename="add_server"))
    client.force_login(clerk)  # a fresh user object, without the cached permissions
    assert client.get(ADD_URL).status_code == 200
    assert client.post(ADD_URL, order).status_code == 302
    assert Server.objects.count() == 1
