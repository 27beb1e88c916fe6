"""Staff may go beyond a plan's limits in admin (add-server, resize), recorded as their override;
customers stay within them. Provisioning servers show what was ordered; secrets never render."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.urls import reverse

from panel.models import AuditEntry, Job, JobKind
from servers import services
from servers.models import Server

pytestmark = pytest.mark.django_db


def _order(client, customer, plan, offline_node, offline_template, **extra):
    data = {
        "owner": customer.pk,
        "plan": plan.pk,
        "node": offline_node.pk,
        "template": offline_template.pk,
        "name": "big",
        "hostname": "big.example.com",
        "cpu_cores": 16,  # the plan allows 8
        "memory_mib": 4096,
        "disk_gib": 20,
        "password": "a-long-root-password",
        **extra,
    }
    return client.post(reverse("admin:servers_server_add"), data)


def test_the_add_form_refuses_beyond_the_plan_without_the_override(
    client, staff_user, customer, plan, offline_node, offline_template
):
    client.force_login(staff_user)
    response = _order(client, customer, plan, offline_node, offline_template)
    assert response.status_code == 200
    assert "The plan Standard allows at most 8 cores." in response.content.decode()
    assert not Job.objects.exists()


def test_staff_order_beyond_the_plan_with_the_override_recorded(
    client, staff_user, customer, plan, offline_node, offline_template
):
    client.force_login(staff_user)
    response = _order(client, customer, plan, offline_node, offline_template, beyond_plan="on")
    assert response.status_code == 302
    job = Job.objects.get(kind=JobKind.CREATE)
    assert job.params["cpu_cores"] == 16
    assert job.params["limits_override"] == "override by staff"
    assert AuditEntry.objects.get(job=job).details["limits_override"] == "override by staff"


def test_staff_resize_beyond_the_plan_in_admin(client, staff_user, server_a):
    client.force_login(staff_user)
    data = {
        "action": "resize_server",
        ACTION_CHECKBOX_NAME: [server_a.pk],
        "apply": "1",
        "cpu_cores": 12,
        "memory_mib": server_a.memory_mib,
        "disk_gib": server_a.disk_gib,
    }
    refused = client.post("/admin/servers/server/", data)
    assert "The plan Standard allows at most 8 cores." in refused.content.decode()
    assert not Job.objects.exists()

    client.post("/admin/servers/server/", {**data, "beyond_plan": "on"})
    job = Job.objects.get(kind=JobKind.RESIZE)
    assert (job.params["cpu_cores"], job.params["limits_override"]) == (12, "override by staff")


def test_a_customer_cannot_go_beyond_the_plan(customer, server_a):
    with pytest.raises(ValidationError) as refused:
        services.server_resize(server=server_a, user=customer, cpu_cores=12, beyond_plan=True)
    assert "Only staff can go beyond the plan's limits." in refused.value.messages
    assert not Job.objects.exists()


def test_the_node_still_limits_staff(staff_user, server_a, offline_node):
    offline_node.max_cpu_cores = 10
    offline_node.save()
    with pytest.raises(ValidationError) as refused:
        services.server_resize(server=server_a, user=staff_user, cpu_cores=12, beyond_plan=True)
    assert "The node Frankfurt 1 allows at most 10 cores." in refused.value.messages


def test_a_jobs_page_never_renders_the_password(
    client, staff_user, customer, plan, offline_node, offline_template
):
    client.force_login(staff_user)
    _order(client, customer, plan, offline_node, offline_template, cpu_cores=2)
    job = Job.objects.get(kind=JobKind.CREATE)
    ciphertext = job.params["password_encrypted"]
    assert ciphertext
    page = client.get(reverse("admin:panel_job_change", args=[job.pk])).content.decode()
    assert "password_encrypted" not in page
    assert ciphertext not in page
    assert "A root password was given; it is never shown." in page


def test_a_provisioning_server_shows_what_was_ordered_not_zeros(
    client, staff_user, customer, plan, offline_node, offline_template
):
    client.force_login(staff_user)
    _order(client, customer, plan, offline_node, offline_template, cpu_cores=2)
    server = Server.objects.get(name="big")
    assert server.cpu_cores == 0  # PVE has confirmed nothing yet
    detail = client.get(reverse("servers:detail", args=[server.pk])).content.decode()
    assert '2 vCPU <span class="muted">ordered</span>' in detail
    assert "0 vCPU" not in detail
    listing = client.get(reverse("admin:servers_server_changelist")).content.decode()
    assert "0 cores" not in listing
    customer_list = client.get(reverse("servers:list")).content.decode()
    assert "0 vCPU" not in customer_list
