"""Every customer page requires a login, and another customer's objects answer 404."""

import pytest
from django.urls import reverse

from tests.ui.conftest import HTMX, make_job

pytestmark = pytest.mark.django_db

SERVER_GET_PAGES = ["servers:detail", "servers:status", "servers:jobs", "servers:resize"]
SERVER_POST_PAGES = [
    "servers:resize",
    "servers:power",
    "servers:rebuild",
    "servers:reset-password",
]


def _assert_login_redirect(response, url):
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", ["dashboard", "servers:list", "job-list", "password_change"])
def test_anonymous_is_sent_to_sign_in(client, name):
    url = reverse(name)
    _assert_login_redirect(client.get(url), url)


def _assert_htmx_login_redirect(response, page):
    """htmx gets HX-Redirect (the whole page goes to sign in), not a sign-in form fragment."""
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next={page.replace('/', '%2F')}"
    assert response.content == b""


@pytest.mark.parametrize("name", SERVER_GET_PAGES)
def test_anonymous_cannot_see_a_server(client, alice_server, name):
    url = reverse(name, args=[alice_server.pk])
    _assert_login_redirect(client.get(url), url)
    detail = reverse("servers:detail", args=[alice_server.pk])
    response = client.get(url, HTTP_HX_CURRENT_URL=f"http://testserver{detail}", **HTMX)
    _assert_htmx_login_redirect(response, detail)


@pytest.mark.parametrize("name", SERVER_POST_PAGES)
def test_anonymous_cannot_act_on_a_server(client, alice_server, name):
    url = reverse(name, args=[alice_server.pk])
    _assert_login_redirect(client.post(url, {"action": "start", "disk_gib": 50}), url)
    response = client.post(url, {"action": "start", "disk_gib": 50}, **HTMX)
    _assert_htmx_login_redirect(response, url)
    assert not alice_server.jobs.exists()


@pytest.mark.parametrize("name", ["job-detail", "job-panel"])
def test_anonymous_cannot_see_a_job(client, alice_server, name):
    job = make_job(alice_server)
    url = reverse(name, args=[job.pk])
    _assert_login_redirect(client.get(url), url)
    # An expired session while the panel polls: the browser is sent to sign in, back here after.
    detail = reverse("servers:detail", args=[alice_server.pk])
    response = client.get(url, HTTP_HX_CURRENT_URL=f"http://testserver{detail}", **HTMX)
    _assert_htmx_login_redirect(response, detail)


@pytest.mark.parametrize("name", SERVER_GET_PAGES)
def test_another_customers_server_is_not_found(alice_client, bob_server, name):
    response = alice_client.get(reverse(name, args=[bob_server.pk]), **HTMX)
    assert response.status_code == 404


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("name", SERVER_POST_PAGES)
def test_another_customers_server_cannot_be_acted_on(alice_client, bob_server, name, htmx):
    data = {
        "action": "stop",
        "confirmed": "on",
        "cpu_cores": 4,
        "memory_mib": 4096,
        "disk_gib": 80,
        "password": "a-long-password-1",
        "password_again": "a-long-password-1",
    }
    response = alice_client.post(
        reverse(name, args=[bob_server.pk]), data, **(HTMX if htmx else {})
    )
    assert response.status_code == 404
    assert not bob_server.jobs.exists()


def test_a_server_that_does_not_exist_is_not_found(alice_client):
    assert alice_client.get(reverse("servers:detail", args=[999999])).status_code == 404


@pytest.mark.parametrize("name", ["job-detail", "job-panel"])
def test_another_customers_job_is_not_found(alice_client, bob_server, name):
    job = make_job(bob_server)
    response = alice_client.get(reverse(name, args=[job.pk]), **HTMX)
    assert response.status_code == 404


def test_job_list_shows_only_own_jobs(alice_client, alice_server, bob_server):
    make_job(alice_server, kind="power", state="succeeded")
    make_job(bob_server, kind="rebuild")
    response = alice_client.get(reverse("job-list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "web-1" in body
    assert "bobs-db" not in body
    assert "Rebuild" not in body


def test_staff_sees_any_server(client, staff_user, bob_server):
    client.force_login(staff_user)
    assert client.get(reverse("servers:detail", args=[bob_server.pk])).status_code == 200
