import pytest
from knox.models import get_token_model
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

AuthToken = get_token_model()


def test_token_created_with_password_is_shown_once_and_stored_hashed(anon_client, customer):
    response = anon_client.post(
        "/api/v1/tokens/", {"username": "alice", "password": "alice-pass-123"}, format="json"
    )
    assert response.status_code == 201
    token = response.json()["token"]
    stored = AuthToken.objects.get(user=customer)
    assert token not in (stored.digest, stored.token_key)
    assert token.startswith(stored.token_key)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    listed = client.get("/api/v1/tokens/").json()
    assert [t["token_key"] for t in listed] == [stored.token_key]
    assert listed[0]["current"] is True
    assert "token" not in listed[0]
    assert token not in str(listed)


def test_wrong_password_is_400_without_a_token(anon_client, customer):
    response = anon_client.post(
        "/api/v1/tokens/", {"username": "alice", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["non_field_errors"]
    assert not AuthToken.objects.exists()


def test_missing_fields_are_400_per_field(anon_client):
    response = anon_client.post("/api/v1/tokens/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"username", "password"}


def test_listing_tokens_requires_auth(anon_client):
    assert anon_client.get("/api/v1/tokens/").status_code == 401


def test_revoke_own_token_then_it_no_longer_works(client_a, customer):
    key = AuthToken.objects.get(user=customer).token_key
    assert client_a.delete(f"/api/v1/tokens/{key}/").status_code == 204
    assert client_a.get("/api/v1/servers/").status_code == 401


def test_cannot_see_or_revoke_another_users_token(client_a, client_b, other_customer):
    key_b = AuthToken.objects.get(user=other_customer).token_key
    assert key_b not in str(client_a.get("/api/v1/tokens/").json())
    response = client_a.delete(f"/api/v1/tokens/{key_b}/")
    assert response.status_code == 404
    assert AuthToken.objects.filter(user=other_customer).exists()
    assert client_b.get("/api/v1/servers/").status_code == 200
