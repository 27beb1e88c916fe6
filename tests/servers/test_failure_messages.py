"""A failed job as its customer and staff read it: customers a plain sentence, staff PVE's text
and log. Real worker, simulator as PVE."""

import pytest
from django.urls import reverse

from panel.models import JobState
from servers import services
from tests.fixtures.worker import wait_for_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LVM = "lvextend: Insufficient free space: 1280 extents needed, but only 3 available"


def test_customers_read_a_plain_sentence_and_staff_keep_pves_text(
    celery_worker_process, pve_sim, server, customer, staff_user, client
):
    pve_sim.knobs.fail_next_tasks("resize", 1, LVM)
    job = wait_for_job(
        services.server_resize(server=server, user=customer, disk_gib=40),
        worker=celery_worker_process,
    )
    assert job.state == JobState.FAILED
    assert LVM in job.error
    assert job.customer_error == (
        "The resize did not complete: the host does not have enough free storage for it right "
        "now. Our staff can see what happened; please contact support."
    )
    node_name = server.node.pve_node

    client.force_login(customer)
    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    api = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert "does not have enough free storage" in page
    assert api["error"] == job.customer_error
    for leak in ("lvextend", "extents", "TASK ERROR", "UPID:", f"{node_name}:"):
        assert leak not in page
        assert leak not in str(api)

    client.force_login(staff_user)
    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    api = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert "lvextend: Insufficient free space" in page and "TASK ERROR" in page
    assert LVM in api["error"] and "TASK ERROR" in api["task_log"]
