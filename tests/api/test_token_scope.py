"""Named, scoped, expiring API tokens: a read-only or expired token never writes, and use is
recorded (at most once a minute)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import get_token_model
from rest_framework.test import APIClient

from panel.models import ApiTokenProfile, Job

pytestmark = pytest.mark.django_db


def create_token(client, **fields):
    response = client.post(
        "/api/v1/tokens/",
        {"username": "alice", "password": "alice-pass-123", **fields},
        format="json",
    )
    assert response.status_code == 201, response.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return response.json(), api


def test_token_is_created_with_a_name_and_scope(anon_client, customer):
    body, api = create_token(anon_client, name="monitoring", scope="read")
    assert (body["name"], body["scope"]) == ("monitoring", "read")
    listed = api.get("/api/v1/tokens/").json()
    assert [(t["name"], t["scope"]) for t in listed] == [("monitoring", "read")]


def test_read_only_token_reads_but_is_refused_for_writes(anon_client, customer, server_a):
    _, api = create_token(anon_client, name="monitoring", scope="read")
    assert api.get(f"/api/v1/servers/{server_a.pk}/").status_code == 200
    response = api.post(f"/api/v1/servers/{server_a.pk}/power/", {"action": "start"}, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    assert not Job.objects.exists()
    body = api.get("/api/v1/tokens/").json()[0]
    assert api.delete(f"/api/v1/tokens/{body['token_key']}/").status_code == 403


def test_full_token_writes(anon_client, customer, server_a):
    _, api = create_token(anon_client, name="deploy", scope="full")
    response = api.post(f"/api/v1/servers/{server_a.pk}/power/", {"action": "start"}, format="json")
    assert response.status_code == 202


def test_expired_token_is_refused(anon_client, customer, server_a):
    body, api = create_token(anon_client, name="old")
    get_token_model().objects.filter(token_key=body["token_key"]).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    response = api.post(f"/api/v1/servers/{server_a.pk}/power/", {"action": "start"}, format="json")
    assert response.status_code == 401
    assert not Job.objects.exists()


def test_unknown_scope_is_a_400(anon_client, customer):
    response = anon_client.post(
        "/api/v1/tokens/",
        {"username": "alice", "password": "alice-pass-123", "scope": "admin"},
        format="json",
    )
    assert response.status_code == 400
    assert "scope" in response.json()["errors"]


def test_use_updates_last_used_at_most_once_a_minute(anon_client, customer):
    body, api = create_token(anon_client, name="poller")
    profile = ApiTokenProfile.objects.get(token__token_key=body["token_key"])
    assert profile.last_used_at is None
    api.get("/api/v1/jobs/")
    profile.refresh_from_db()
    first = profile.last_used_at
    assert first is not None
    api.get("/api/v1/jobs/")
    profile.refresh_from_db()
    assert profile.last_used_at == first  # within the minute: no write
    ApiTokenProfile.objects.filter(pk=profile.pk).update(last_used_at=first - timedelta(minutes=2))
    api.get("/api/v1/jobs/")
    profile.refresh_from_db()
    assert profile.last_used_at > first - timedelta(minutes=2)
