"""A passkey / security key enrolled and used in Chromium, via its virtual authenticator (CDP)."""

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def authenticator(page):
    """A platform authenticator that holds passkeys and says yes without a touch."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp


def sign_in_with_password(page, base_url, username, password):
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))


def enrol_passkey(page, base_url, password):
    page.goto(f"{base_url}/accounts/2fa/webauthn/add/")
    # allauth asks for the password again before a factor is added.
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_label("Name").fill("Laptop")
    page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/webauthn/add/"))


def test_a_customer_signs_in_with_a_passkey(live_server, page, authenticator, customer, screenshot):
    sign_in_with_password(page, live_server.url, "alice", "alice-pass-123")
    enrol_passkey(page, live_server.url, "alice-pass-123")
    key = Authenticator.objects.get(user=customer, type=Authenticator.Type.WEBAUTHN)
    assert key.wrap().name == "Laptop"

    page.goto(f"{live_server.url}/accounts/2fa/")
    expect(page.get_by_text("You have added 1 security key.")).to_be_visible()
    screenshot("security-settings")

    sign_out(page)
    page.get_by_role("button", name="Use a passkey or security key").click()
    expect(page).to_have_url(f"{live_server.url}/servers/")
    expect(page.locator(".account__name")).to_have_text("alice")


def test_a_security_key_is_the_second_factor_after_the_password(
    live_server, page, authenticator, customer
):
    sign_in_with_password(page, live_server.url, "alice", "alice-pass-123")
    enrol_passkey(page, live_server.url, "alice-pass-123")
    sign_out(page)

    sign_in_with_password(page, live_server.url, "alice", "alice-pass-123")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    page.get_by_role("button", name="Use a security key").click()
    expect(page).to_have_url(f"{live_server.url}/servers/")
