"""The account's security pages: the activity log (who did what, to whom it is shown), the
signed-in browsers (ending one signs that browser out) and API tokens in the UI."""

import pytest
from django.test import Client
from knox.models import get_token_model

from panel.models import ApiTokenProfile, AuditEntry, Job, JobState, TokenScope, UserSession
from panel.services import user_sessions_end_others

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


def sign_in(username, password, *, user_agent=FIREFOX, ip="198.51.100.7") -> Client:
    browser = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)
    response = browser.post("/login/", {"login": username, "password": password})
    assert response.status_code == 302
    return browser


def finish_jobs():
    Job.objects.update(state=JobState.SUCCEEDED)


def test_activity_shows_each_actor_and_only_to_the_owner(
    customer, other_customer, staff_user, alice_server, bob_server
):
    alice = sign_in("alice", "alice-pass-123", ip="198.51.100.7")
    assert alice.post(f"/servers/{alice_server.pk}/power/", {"action": "start"}).status_code < 400
    finish_jobs()  # no worker here: the job is marked done so the next action is accepted

    staff = sign_in("staff", "staff-pass-123", ip="203.0.113.9")
    assert staff.post(f"/servers/{alice_server.pk}/power/", {"action": "start"}).status_code < 400
    finish_jobs()

    # Alice's script, through a named token, over the API.
    token_page = alice.post(
        "/account/tokens/", {"name": "deploy script", "scope": "full", "days": 7}
    )
    secret = token_page.context["secret"]
    api = Client(HTTP_AUTHORIZATION=f"Token {secret}", REMOTE_ADDR="192.0.2.44")
    assert (
        api.post(
            f"/api/v1/servers/{alice_server.pk}/power/",
            {"action": "start"},
            content_type="application/json",
        ).status_code
        == 202
    )

    bob = sign_in("bob", "bob-pass-123", ip="192.0.2.200")
    bob.post(f"/servers/{bob_server.pk}/power/", {"action": "start"})

    page = alice.get("/account/activity/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Signed in" in text and "198.51.100.7" in text
    who = {row["who"] for row in page.context["rows"]}
    assert "Support" in who and "staff" not in who  # staff stay nameless to customers
    assert "API token “deploy script”" in text and "192.0.2.44" in text
    assert "bobs-db" not in text and "192.0.2.200" not in text

    entries = AuditEntry.objects.filter(owner=customer)
    power = entries.filter(action="server_power")
    assert {(e.channel, e.ip, e.token_name, e.actor_is_staff) for e in power} >= {
        ("web", "198.51.100.7", "", False),
        ("web", "203.0.113.9", "", True),
    }
    assert all(e.server_id == alice_server.pk for e in power)
    assert not AuditEntry.objects.restrict(customer).filter(owner=other_customer).exists()

    # Bob's page lists nothing of Alice's.
    bob_text = bob.get("/account/activity/").content.decode()
    assert "web-1" not in bob_text and "198.51.100.7" not in bob_text


def test_activity_is_read_only_in_admin(customer, staff_user, alice_server):
    sign_in("alice", "alice-pass-123")
    entry = AuditEntry.objects.get(owner=customer, action="sign_in")
    staff = Client()
    staff.force_login(staff_user)
    assert staff.get("/admin/panel/auditentry/").status_code == 200
    change = staff.get(f"/admin/panel/auditentry/{entry.pk}/change/")
    assert change.status_code == 200 and b"198.51.100.7" in change.content
    assert (
        staff.post(f"/admin/panel/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_ending_a_session_signs_that_browser_out(customer):
    laptop = sign_in("alice", "alice-pass-123", user_agent=FIREFOX)
    phone = sign_in("alice", "alice-pass-123", user_agent=CHROME_MAC, ip="192.0.2.5")
    page = laptop.get("/account/sessions/")
    text = page.content.decode()
    assert "Firefox on Linux" in text and "Chrome on macOS" in text and "192.0.2.5" in text
    phone_key = phone.session.session_key
    assert UserSession.objects.filter(session_key=phone_key, user=customer).exists()

    assert laptop.post(f"/account/sessions/{phone_key}/end/").status_code == 302
    assert phone.get("/servers/").status_code == 302  # back to the sign-in page
    assert laptop.get("/servers/").status_code == 200
    assert not UserSession.objects.filter(session_key=phone_key).exists()


def test_another_accounts_session_cannot_be_ended(customer, other_customer):
    bob = sign_in("bob", "bob-pass-123")
    alice = sign_in("alice", "alice-pass-123")
    response = alice.post(f"/account/sessions/{bob.session.session_key}/end/")
    assert response.status_code == 404
    assert bob.get("/servers/").status_code == 200


def test_changing_the_password_signs_the_other_browsers_out(customer):
    laptop = sign_in("alice", "alice-pass-123")
    phone = sign_in("alice", "alice-pass-123", user_agent=CHROME_MAC)
    response = laptop.post(
        "/account/password/",
        {
            "old_password": "alice-pass-123",
            "new_password1": "a-much-longer-secret-42",
            "new_password2": "a-much-longer-secret-42",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/servers/").status_code == 200
    assert phone.get("/servers/").status_code == 302
    assert list(
        UserSession.objects.filter(user=customer).values_list("session_key", flat=True)
    ) == [laptop.session.session_key]


def test_tokens_page_creates_lists_and_revokes(customer, other_customer):
    alice = sign_in("alice", "alice-pass-123")
    created = alice.post("/account/tokens/", {"name": "backups", "scope": "read", "days": 3})
    assert created.status_code == 200 and created.context["secret"]
    token = get_token_model().objects.get(user=customer)
    assert ApiTokenProfile.objects.get(token=token).scope == TokenScope.READ
    assert b"backups" in alice.get("/account/tokens/").content

    bob = sign_in("bob", "bob-pass-123")
    assert bob.post(f"/account/tokens/{token.token_key}/revoke/").status_code == 404
    assert alice.post(f"/account/tokens/{token.token_key}/revoke/").status_code == 302
    assert not get_token_model().objects.filter(user=customer).exists()
    assert AuditEntry.objects.filter(owner=customer, action="api_token_revoked").exists()


def test_token_form_errors_are_shown(customer):
    alice = sign_in("alice", "alice-pass-123")
    response = alice.post("/account/tokens/", {"name": "", "scope": "root", "days": 0})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "scope", "days"}


def test_signing_out_removes_the_browser_from_the_list(customer):
    laptop = sign_in("alice", "alice-pass-123")
    key = laptop.session.session_key
    assert UserSession.objects.filter(session_key=key).exists()
    laptop.post("/logout/")
    assert not UserSession.objects.filter(session_key=key).exists()


def test_service_ends_every_other_session(customer):
    laptop = sign_in("alice", "alice-pass-123")
    phone = sign_in("alice", "alice-pass-123", user_agent=CHROME_MAC)
    ended = user_sessions_end_others(user=customer, keep_session_key=laptop.session.session_key)
    assert ended == 1
    assert phone.get("/servers/").status_code == 302
    assert laptop.get("/servers/").status_code == 200
