"""The content security policy holds in a real browser: the pages a customer and staff use
(htmx polling, graphs, admin, the API docs) run with no violation in the console. Also takes
the screenshots of the account's activity log and signed-in browsers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from panel.audit import audit_record
from panel.models import JobKind, JobState
from tests.ui.conftest import make_job, make_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_console(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    return messages


def violations(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m]


def sign_in(page, live_server, username, password, *, next_path):
    page.goto(f"{live_server.url}/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(next_path)}$"))


def test_pages_show_no_policy_violation(
    page, live_server, staff_user, customer, plan, offline_node
):
    server = make_server(customer, plan, offline_node, name="web-1", vmid=101)
    make_job(server, kind=JobKind.RESIZE, state=JobState.RUNNING)
    messages = watch_console(page)
    response = page.goto(f"{live_server.url}/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    sign_in(page, live_server, "staff", "staff-pass-123", next_path="/servers/")
    expect(page.get_by_text("web-1").first).to_be_visible()

    # The detail page polls the running job's panel: wait for a poll to have been answered.
    with page.expect_response(re.compile(r"/jobs/[0-9a-f-]+/panel/")):
        page.goto(f"{live_server.url}/servers/{server.pk}/")
    for path in ("/admin/", "/admin/panel/auditentry/", "/account/activity/", "/api/docs/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    expect(page.locator(".swagger-ui")).to_be_visible()
    assert violations(messages) == []


def test_account_pages_screenshots(
    browser, live_server, customer, staff_user, plan, offline_node, screenshot
):
    server = make_server(customer, plan, offline_node, name="web-1", vmid=101)
    # Earlier actions, as services record them (outside a request: channel "system").
    job = make_job(server, kind=JobKind.POWER, state=JobState.SUCCEEDED)
    audit_record(actor=staff_user, action="server_power", server=server, job=job)
    phone = browser.new_context(
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    ).new_page()
    sign_in(phone, live_server, "alice", "alice-pass-123", next_path="/servers/")

    laptop = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    messages = watch_console(laptop)
    sign_in(laptop, live_server, "alice", "alice-pass-123", next_path="/servers/")
    laptop.goto(f"{live_server.url}/account/tokens/")
    laptop.get_by_label("Name").fill("deploy script")
    laptop.get_by_role("button", name="Create token").click()
    expect(laptop.get_by_test_id("token-secret")).to_be_visible()
    screenshot("api-tokens", target=laptop)

    laptop.goto(f"{live_server.url}/account/activity/")
    expect(laptop.get_by_test_id("activity")).to_contain_text("Created an API token")
    expect(laptop.get_by_test_id("activity")).to_contain_text("Support")
    screenshot("activity-log", target=laptop)

    laptop.goto(f"{live_server.url}/account/sessions/")
    expect(laptop.get_by_test_id("sessions").locator("tbody tr")).to_have_count(2)
    screenshot("sessions", target=laptop)
    assert violations(messages) == []
