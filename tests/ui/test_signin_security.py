"""Second factors, the staff policy, throttling and the e-mail flows (django-allauth's)."""

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Rate-limit counters and used TOTP codes live in the cache, keyed by username or user id,
    # which the next test may reuse.
    cache.clear()
    yield
    cache.clear()


def totp_code(secret: str) -> str:
    counter = next(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counter))


def sign_in_with_password(client, username, password, **extra):
    return client.post(reverse("login"), {"login": username, "password": password, **extra})


def sign_in_and_confirm_password(client, username, password):
    """allauth asks for the password again before a factor is added or removed."""
    sign_in_with_password(client, username, password)
    client.post(reverse("account_reauthenticate"), {"password": password})


@pytest.fixture
def alice_totp_secret(customer):
    secret = generate_totp_secret()
    TOTP.activate(customer, secret)
    RecoveryCodes.activate(customer)
    return secret


def test_a_customer_enrols_an_authenticator_app_from_a_qr_code(client, customer):
    sign_in_and_confirm_password(client, "alice", "alice-pass-123")
    page = client.get(reverse("mfa_activate_totp"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "data:image/svg+xml;base64," in body  # the QR code, drawn by the server
    secret = client.session["mfa.totp.secret"]
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=customer, type=Authenticator.Type.TOTP).exists()
    # Recovery codes come with the first factor.
    assert Authenticator.objects.filter(
        user=customer, type=Authenticator.Type.RECOVERY_CODES
    ).exists()


def test_enrolling_a_factor_signs_the_other_browsers_out(
    client, customer, django_capture_on_commit_callbacks
):
    from django.test import Client

    from panel.models import UserSession

    phone = Client()
    sign_in_with_password(phone, "alice", "alice-pass-123")
    assert phone.get("/servers/").status_code == 200
    sign_in_and_confirm_password(client, "alice", "alice-pass-123")
    client.get(reverse("mfa_activate_totp"))
    secret = client.session["mfa.totp.secret"]
    # allauth announces the new factor once its transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert phone.get("/servers/").status_code == 302  # signed out
    assert client.get("/servers/").status_code == 200
    keys = set(UserSession.objects.filter(user=customer).values_list("session_key", flat=True))
    assert keys == {client.session.session_key}


def test_a_wrong_enrolment_code_is_refused_next_to_the_field(client, customer):
    sign_in_and_confirm_password(client, "alice", "alice-pass-123")
    client.get(reverse("mfa_activate_totp"))
    response = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert response.status_code == 200
    assert 'id="id_code_errors"' in response.content.decode()
    assert not Authenticator.objects.filter(user=customer).exists()


def test_sign_in_with_totp(client, customer, alice_totp_secret):
    response = sign_in_with_password(client, "alice", "alice-pass-123")
    assert response.url == reverse("mfa_authenticate")
    # The password alone does not sign in.
    assert client.get(reverse("servers:list")).status_code == 302
    wrong = client.post(reverse("mfa_authenticate"), {"code": "123456"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(alice_totp_secret)})
    assert response.status_code == 302
    assert client.get(reverse("servers:list")).status_code == 200


def test_a_recovery_code_works_once(client, customer, alice_totp_secret):
    code = RecoveryCodes(
        Authenticator.objects.get(user=customer, type=Authenticator.Type.RECOVERY_CODES)
    ).get_unused_codes()[0]
    sign_in_with_password(client, "alice", "alice-pass-123")
    assert client.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302
    assert client.get(reverse("servers:list")).status_code == 200

    client.post(reverse("logout"))
    sign_in_with_password(client, "alice", "alice-pass-123")
    again = client.post(reverse("mfa_authenticate"), {"code": code})
    assert again.status_code == 200 and "Incorrect code" in again.content.decode()
    assert client.get(reverse("servers:list")).status_code == 302


def test_the_security_page_is_in_the_account_menu(alice_client):
    body = alice_client.get(reverse("servers:list")).content.decode()
    assert f'href="{reverse("mfa_index")}"' in body
    page = alice_client.get(reverse("mfa_index")).content.decode()
    assert "Authenticator App" in page and "Security Keys" in page


# --- Staff policy and admin behind the same sign-in ------------------------------------------


def test_admin_login_is_the_panels_sign_in(client):
    response = client.get(reverse("admin:login") + "?next=/admin/servers/")
    assert response.url == f"{reverse('login')}?next=/admin/servers/"


def test_a_signed_in_customer_is_refused_by_admin_not_bounced_to_sign_in(alice_client):
    response = alice_client.get(reverse("admin:index"), follow=True)
    assert response.status_code == 403
    assert len(response.redirect_chain) == 1


def test_the_policy_sends_staff_without_a_second_factor_to_enrol(client, staff_user, settings):
    settings.PANEL_STAFF_REQUIRE_MFA = True
    sign_in_with_password(client, "staff", "staff-pass-123")
    response = client.get(reverse("admin:index"))
    assert response.url == reverse("mfa_index")
    page = client.get(response.url).content.decode()
    assert "Staff accounts need a second factor" in page
    # The customer pages are not blocked, only the admin.
    assert client.get(reverse("servers:list")).status_code == 200


def test_the_policy_lets_staff_with_a_second_factor_into_admin(client, staff_user, settings):
    settings.PANEL_STAFF_REQUIRE_MFA = True
    secret = generate_totp_secret()
    TOTP.activate(staff_user, secret)
    sign_in_with_password(client, "staff", "staff-pass-123")
    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert client.get(reverse("admin:index")).status_code == 200


def test_without_the_policy_staff_reach_admin_with_a_password(client, staff_user, settings):
    settings.PANEL_STAFF_REQUIRE_MFA = False
    sign_in_with_password(client, "staff", "staff-pass-123")
    assert client.get(reverse("admin:index")).status_code == 200


# --- Throttling --------------------------------------------------------------------------------


LOCKED = "Too many failed sign-in attempts"


def test_repeated_failures_lock_the_account_and_staff_can_unlock_it(
    client, customer, staff_user, admin_client_for
):
    for _ in range(5):
        response = sign_in_with_password(client, "alice", "wrong")
        assert LOCKED not in response.content.decode()
    locked = sign_in_with_password(client, "alice", "alice-pass-123")
    assert locked.status_code == 200
    assert LOCKED in locked.content.decode()
    assert client.get(reverse("servers:list")).status_code == 302

    staff = admin_client_for(staff_user)
    staff.post(
        reverse("admin:panel_user_changelist"),
        {"action": "unlock_sign_in", "_selected_action": [customer.pk]},
    )
    response = sign_in_with_password(client, "alice", "alice-pass-123")
    assert response.status_code == 302
    assert client.get(reverse("servers:list")).status_code == 200


def test_the_lock_message_is_the_same_for_an_unknown_username(client, customer):
    """No user enumeration: a made-up name is locked with the same words as a real one."""
    for name in ("alice", "nobody-here"):
        for _ in range(5):
            sign_in_with_password(client, name, "wrong")
    real = sign_in_with_password(client, "alice", "wrong").content.decode()
    made_up = sign_in_with_password(client, "nobody-here", "wrong").content.decode()
    assert LOCKED in real and LOCKED in made_up


@pytest.fixture
def admin_client_for():
    from django.test import Client

    def make(user):
        browser = Client()
        browser.force_login(user)
        return browser

    return make


# --- Password reset and e-mail change by e-mail ------------------------------------------------


def first_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


def test_password_reset_by_email(client, customer):
    page = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("account_reset_password")}"' in page
    response = client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    link = first_link(mail.outbox[0])
    form_url = client.get(link).url  # the key moves from the URL into the session
    response = client.post(
        form_url, {"password1": "a-fresh-passphrase-42", "password2": "a-fresh-passphrase-42"}
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password("a-fresh-passphrase-42")


def test_password_reset_for_an_unknown_address_looks_the_same(client, customer):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response.url == reverse("account_reset_password_done")


def test_email_change_waits_for_the_link(client, customer):
    EmailAddress.objects.create(user=customer, email=customer.email, verified=True, primary=True)
    sign_in_with_password(client, "alice", "alice-pass-123")
    response = client.post(
        reverse("account_email"), {"action_add": "", "email": "alice@new.example"}
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email == "alice@example.com"  # not yet
    assert mail.outbox[-1].to == ["alice@new.example"]
    link = first_link(mail.outbox[-1])
    client.post(link)
    customer.refresh_from_db()
    assert customer.email == "alice@new.example"
