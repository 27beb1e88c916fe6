import uuid

import pytest

from panel.models import Job, JobKind, JobState

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(server_a, server_b):
    return {
        "a_done": Job.objects.create(
            kind=JobKind.RESIZE,
            state=JobState.SUCCEEDED,
            server=server_a,
            owner=server_a.owner,
            params={"memory_mib": 4096},
        ),
        "a_failed": Job.objects.create(
            kind=JobKind.POWER,
            state=JobState.FAILED,
            server=server_a,
            owner=server_a.owner,
            error="VM 101 not running",
            customer_error="The power did not complete.",
        ),
        "b_done": Job.objects.create(
            kind=JobKind.RESIZE, state=JobState.SUCCEEDED, server=server_b, owner=server_b.owner
        ),
    }


def ids(response):
    return {row["id"] for row in response.json()["results"]}


def test_jobs_require_auth(anon_client, jobs):
    assert anon_client.get("/api/v1/jobs/").status_code == 401
    assert anon_client.get(f"/api/v1/jobs/{jobs['a_done'].pk}/").status_code == 401


def test_customer_sees_only_own_jobs(client_a, jobs):
    assert ids(client_a.get("/api/v1/jobs/")) == {str(jobs["a_done"].pk), str(jobs["a_failed"].pk)}
    body = client_a.get(f"/api/v1/jobs/{jobs['a_failed'].pk}/").json()
    assert body["error"] == "The power did not complete."  # never PVE's text ("VM 101 not ...")
    assert body["state"] == "failed"


def test_customer_gets_404_on_another_customers_job(client_a, jobs):
    response = client_a.get(f"/api/v1/jobs/{jobs['b_done'].pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_staff_sees_all_jobs(staff_client, jobs):
    assert len(ids(staff_client.get("/api/v1/jobs/"))) == 3


def test_filter_by_server_and_state(client_a, jobs, server_a, server_b):
    assert ids(client_a.get(f"/api/v1/jobs/?server={server_a.pk}&state=failed")) == {
        str(jobs["a_failed"].pk)
    }
    # A foreign server id filters to nothing instead of revealing that it exists.
    foreign = client_a.get(f"/api/v1/jobs/?server={server_b.pk}")
    assert foreign.status_code == 200
    assert ids(foreign) == set()


@pytest.mark.parametrize(
    "query",
    ["server=abc", "server=1.5", "server=99999999999999999999", "state=exploded", "kind=nope"],
)
def test_bad_filters_are_400(client_a, jobs, query):
    response = client_a.get(f"/api/v1/jobs/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["errors"]


def test_unknown_or_malformed_job_ids_are_404(client_a):
    assert client_a.get(f"/api/v1/jobs/{uuid.uuid4()}/").status_code == 404
    assert client_a.get("/api/v1/jobs/not-a-uuid/").status_code == 404


def test_jobs_are_read_only(client_a, jobs):
    path = f"/api/v1/jobs/{jobs['a_done'].pk}/"
    assert client_a.delete(path).status_code == 405
    assert client_a.patch(path, {"state": "succeeded"}, format="json").status_code == 405
    assert client_a.post("/api/v1/jobs/", {}, format="json").status_code == 405


def test_job_params_never_show_secrets(client_a, server_a):
    job = Job.objects.create(
        kind=JobKind.RESET_PASSWORD,
        server=server_a,
        owner=server_a.owner,
        state=JobState.SUCCEEDED,
        params={"password": "hunter2-hunter2"},
    )
    body = client_a.get(f"/api/v1/jobs/{job.pk}/").json()
    assert "hunter2-hunter2" not in str(body)
