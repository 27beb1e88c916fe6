"""Sign in (allauth's view), sign out (POST only), change password, with our templates."""

import re

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_sign_in_page_has_labelled_fields(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<label for="id_login">' in body
    assert '<label for="id_password">' in body
    assert 'autocomplete="current-password"' in body
    # htmx is served from our own static files, never a CDN.
    assert "/static/vendor/htmx.min.js" in body
    assert "unpkg" not in body and "cdn" not in body.lower()


def test_sign_in_with_good_credentials_goes_to_the_server_list(client, customer):
    response = client.post(
        reverse("login"), {"login": "alice", "password": "alice-pass-123"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("servers:list")
    assert response.context["user"] == customer


def test_sign_in_with_a_wrong_password_says_so(client, customer):
    response = client.post(reverse("login"), {"login": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert not response.context["user"].is_authenticated


def test_sign_in_returns_to_the_page_asked_for(client, customer, alice_server):
    detail = reverse("servers:detail", args=[alice_server.pk])
    response = client.post(
        f"{reverse('login')}?next={detail}",
        {"login": "alice", "password": "alice-pass-123", "next": detail},
    )
    assert response.url == detail


def test_sign_out_is_a_post(alice_client):
    assert alice_client.get(reverse("logout")).status_code == 405
    response = alice_client.post(reverse("logout"))
    assert response.url == reverse("login")
    assert alice_client.get(reverse("servers:list")).status_code == 302


def test_every_page_offers_a_sign_out_form(alice_client):
    body = alice_client.get(reverse("servers:list")).content.decode()
    assert f'<form method="post" action="{reverse("logout")}"' in body


def test_password_change(alice_client, customer):
    page = alice_client.get(reverse("password_change"))
    assert page.status_code == 200
    assert '<label for="id_old_password">' in page.content.decode()
    response = alice_client.post(
        reverse("password_change"),
        {
            "old_password": "alice-pass-123",
            "new_password1": "a-much-better-passphrase",
            "new_password2": "a-much-better-passphrase",
        },
    )
    assert response.url == reverse("password_change_done")
    customer.refresh_from_db()
    assert customer.check_password("a-much-better-passphrase")
    # Still signed in on this browser.
    assert alice_client.get(reverse("password_change_done")).status_code == 200


def test_password_change_shows_errors_next_to_the_field(alice_client, customer):
    response = alice_client.post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": "x", "new_password2": "y"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="id_old_password_errors"' in body
    assert "Your old password was entered incorrectly" in body
    customer.refresh_from_db()
    assert customer.check_password("alice-pass-123")


def test_htmx_requests_pass_csrf_with_the_token_from_body(customer, alice_server):
    """The token in <body hx-headers> is what htmx sends; without it a POST is refused."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    page = browser.get(reverse("servers:detail", args=[alice_server.pk])).content.decode()
    match = re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'>", page)
    assert match, "the CSRF token must be in hx-headers on <body>"
    url = reverse("servers:power", args=[alice_server.pk])
    refused = browser.post(url, {"action": "stop"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403
    accepted = browser.post(
        url, {"action": "stop"}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=match.group(1)
    )
    # A stop needs confirmation first: the answer is the confirmation, not a CSRF failure.
    assert accepted.status_code == 200
    assert 'data-testid="power-confirm"' in accepted.content.decode()
