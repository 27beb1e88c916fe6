"""htmx behaviour in a real browser, without a worker: jobs are rows made by the test, so these
check the page's wiring (errors in place, conflicts, confirmations, failed requests)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from panel.models import Job, JobKind, JobState
from tests.ui.conftest import make_job, make_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def web(customer, plan, offline_node):
    return make_server(customer, plan, offline_node, name="web-1", vmid=101)


@pytest.fixture
def signed_in(page, live_server, web):
    page.goto(f"{live_server.url}/login/?next=/servers/{web.pk}/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-pass-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/servers/{web.pk}/$"))
    page.evaluate("window.__sameDocument = true")
    return page


def test_validation_errors_are_swapped_in_next_to_the_field(signed_in, web):
    page = signed_in
    disk = page.get_by_label("Disk (GiB)")
    # The browser itself refuses a smaller disk (min attribute)...
    disk.fill("10")
    page.get_by_role("button", name="Resize", exact=True).click()
    assert disk.evaluate("el => el.validity.rangeUnderflow") is True
    # ...and when that check is bypassed, the service's message appears next to the field.
    disk.evaluate("el => el.removeAttribute('min')")
    page.get_by_role("button", name="Resize", exact=True).click()
    expect(page.locator("#id_disk_gib_errors")).to_contain_text(
        "Disks can only grow: the disk is 40 GiB, so 10 GiB is not possible."
    )
    expect(page.get_by_label("Disk (GiB)")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("window.__sameDocument") is True
    assert not Job.objects.exists()


def test_a_conflicting_job_is_reported_in_the_page(signed_in, web):
    page = signed_in
    make_job(web, kind=JobKind.POWER, state=JobState.RUNNING, progress=50)
    page.get_by_label("Disk (GiB)").fill("80")
    page.get_by_role("button", name="Resize", exact=True).click()
    expect(page.get_by_test_id("job-conflict")).to_have_text(
        "Another job is running on this server: Power (running, 50% done). "
        "Wait for it to finish, then try again."
    )
    expect(page.get_by_test_id("job-panel")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True


def test_stop_asks_first_and_nothing_happens_on_cancel(signed_in, web):
    page = signed_in
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    assert dialogs and dialogs[0].startswith("Stop web-1 now?")
    assert not Job.objects.exists()

    page.remove_listener("dialog", dismiss)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_test_id("job-panel")).to_be_visible()
    assert Job.objects.get(server=web).params["action"] == "stop"


def test_the_panel_polls_until_the_job_ends(signed_in, web, live_server):
    page = signed_in
    job = make_job(web, state=JobState.RUNNING, progress=25)
    page.reload()
    page.evaluate("window.__sameDocument = true")
    panel = page.get_by_test_id("job-panel")
    expect(panel).to_have_attribute("data-job-state", "running")
    # A failing poll is reported, not ignored; the next good one clears the message.
    page.route("**/panel/**", lambda route: route.fulfill(status=500, body="boom"))
    expect(page.get_by_role("alert").filter(has_text="HTTP 500")).to_be_visible()
    page.unroute("**/panel/**")
    expect(page.locator("#htmx-problem")).to_be_hidden()

    Job.objects.filter(pk=job.pk).update(
        state=JobState.FAILED,
        progress=50,
        error="PVE said no: disk is locked",
        customer_error="The resize did not complete: the host was busy.",
    )
    expect(panel).to_have_attribute("data-job-state", "failed")
    # The customer reads the plain sentence; PVE's text is staff's.
    expect(panel).to_contain_text("The resize did not complete: the host was busy.")
    expect(panel).not_to_contain_text("PVE said no")
    expect(page.get_by_test_id("job-state")).to_have_text("Failed")
    expect(page.locator("#server-jobs")).to_contain_text("Failed")
    assert page.evaluate("window.__sameDocument") is True
