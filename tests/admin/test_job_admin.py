import pytest

from panel.models import Job, JobKind, JobState

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def failed_job(server_a):
    return Job.objects.create(
        kind=JobKind.RESIZE,
        state=JobState.FAILED,
        server=server_a,
        target_name="alpha",
        params={"disk_gib": 40, "password_encrypted": "gAAAA-secret"},
        steps=[
            {
                "name": "resize_disk",
                "label": "Grow the disk",
                "state": "failed",
                "upid": "UPID:pve1:0000ABCD:0001:65000000:resize:101:panel@pve!panel:",
            }
        ],
        upid="UPID:pve1:0000ABCD:0001:65000000:resize:101:panel@pve!panel:",
        error="disk resize failed: no space left",
        traceback="Traceback (most recent call last)",
        task_log="TASK ERROR: no space left on device",
    )


def test_job_page_shows_what_pve_said(admin_client, failed_job):
    page = admin_client.get(f"/admin/panel/job/{failed_job.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    for text in (
        "Grow the disk",
        "UPID:pve1:0000ABCD",
        "no space left on device",
        "disk resize failed",
        "Traceback (most recent call last)",
        "disk_gib",
    ):
        assert text in html
    assert "gAAAA-secret" not in html


def test_jobs_are_read_only(admin_client, failed_job):
    assert admin_client.get("/admin/panel/job/add/").status_code == 403
    assert admin_client.get(f"/admin/panel/job/{failed_job.pk}/delete/").status_code == 403
    response = admin_client.post(
        f"/admin/panel/job/{failed_job.pk}/change/", {"state": "succeeded", "error": ""}
    )
    assert response.status_code == 403
    failed_job.refresh_from_db()
    assert failed_job.state == JobState.FAILED


def test_job_list_filters(admin_client, failed_job, server_b):
    Job.objects.create(
        kind=JobKind.POWER, state=JobState.SUCCEEDED, server=server_b, target_name="bravo"
    )
    html = admin_client.get("/admin/panel/job/", {"state__exact": "failed"}).content.decode()
    assert "alpha" in html and "bravo" not in html
    html = admin_client.get("/admin/panel/job/", {"kind__exact": "power"}).content.decode()
    assert "bravo" in html and "alpha" not in html
