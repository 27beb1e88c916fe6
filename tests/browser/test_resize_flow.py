"""The headline use, in a real browser: sign in, open a server, grow its disk and watch the job
panel reach "succeeded" without a reload, then see the new size. Live server, a real Celery
worker and the PVE simulator; nothing is mocked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from panel.models import Job, JobKind, JobState
from tests.browser.conftest import PHONE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

# Safety nets for waiting on the browser, not assertions about speed.
JOB_DEADLINE_MS = 90_000


def _sign_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-pass-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/servers/$"))


def test_resize_disk_and_watch_the_job(
    live_server, celery_worker_process, pve_sim, server_factory, customer, page, screenshot
):
    web = server_factory(name="web-1", cpu_cores=2, memory_mib=4096, disk_gib=20)
    server_factory(name="mail", cpu_cores=1, memory_mib=2048, disk_gib=20, running=False)
    server_factory(name="db-primary", cpu_cores=4, memory_mib=8192, disk_gib=60)
    # Long enough for the panel to be seen running; the test waits for states, never for time.
    pve_sim.knobs.set_task_duration("resize", 3.0)

    _sign_in(page, live_server.url)
    rows = page.locator("table.table--servers tbody tr")
    expect(rows).to_have_count(3)
    expect(page.get_by_role("row", name=re.compile("web-1"))).to_contain_text(
        "2 vCPU · 4 GiB RAM · 20 GiB disk"
    )
    screenshot("server-list")
    page.set_viewport_size(PHONE)
    screenshot("server-list-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name="web-1", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/servers/{web.pk}/$"))
    expect(page.get_by_test_id("server-disk")).to_have_text("20 GiB")
    expect(page.get_by_label("Disk (GiB)")).to_have_value("20")
    screenshot("server-detail")

    # A marker that only survives if the page is never reloaded.
    page.evaluate("window.__sameDocument = true")
    page.get_by_label("Disk (GiB)").fill("30")
    page.get_by_role("button", name="Resize", exact=True).click()

    panel = page.get_by_test_id("job-panel")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-job-state", "running", timeout=JOB_DEADLINE_MS)
    expect(panel.locator("progress")).to_be_visible()
    expect(panel).to_contain_text("Grow the disk")
    screenshot("job-running")

    expect(panel).to_have_attribute("data-job-state", "succeeded", timeout=JOB_DEADLINE_MS)
    expect(page.get_by_test_id("job-state")).to_have_text("Succeeded")
    # The finished panel no longer polls, and the page refreshed what the job changed.
    expect(panel).not_to_have_attribute("hx-trigger", re.compile(".*"))
    expect(page.get_by_test_id("server-disk")).to_have_text("30 GiB")
    expect(page.get_by_test_id("server-status")).to_have_text("Running")
    expect(page.get_by_label("Disk (GiB)")).to_have_attribute("min", "30")
    assert page.evaluate("window.__sameDocument") is True
    screenshot("job-succeeded")

    job = Job.objects.get(server=web, kind=JobKind.RESIZE)
    assert job.state == JobState.SUCCEEDED
    web.refresh_from_db()
    assert web.disk_gib == 30
