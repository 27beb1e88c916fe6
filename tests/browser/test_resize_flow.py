"""The headline use, in a real browser: sign in, open a server, grow its disk and watch the job
panel reach "succeeded" without a reload, then see the new size. Live server, a real Celery
worker and the PVE simulator; nothing is mocked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from panel.models import Job, JobKind, JobState
from servers.models import Server
from tests.browser.conftest import PHONE
from tests.fixtures.worker import wait_for_job

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
    mail = server_factory(name="mail", cpu_cores=1, memory_mib=2048, disk_gib=20, running=False)
    db = server_factory(name="db-primary", cpu_cores=4, memory_mib=8192, disk_gib=60)
    # Names a customer would see (the screenshots are the README's); PVE is not involved.
    web.node.name = "Frankfurt 1"
    web.node.save(update_fields=["name"])
    for server, hostname in (
        (web, "web-1.example.com"),
        (mail, "mx.example.org"),
        (db, "db1.example.net"),
    ):
        Server.objects.filter(pk=server.pk).update(hostname=hostname)
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
    # What PVE holds, not what was asked for: the simulated VM's disk really is 30 GiB now.
    assert "size=30G" in pve_sim.vm(web.vmid).config["scsi0"]


def test_resize_works_without_javascript(
    live_server, celery_worker_process, pve_sim, server_factory, customer, browser
):
    """The plain form posts and redirects back (PRG); a reload shows the result."""
    web = server_factory(name="web-1", cpu_cores=2, memory_mib=2048, disk_gib=20)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in(page, live_server.url)
        page.get_by_role("link", name="web-1", exact=True).click()
        page.get_by_label("Disk (GiB)").fill("25")
        page.get_by_role("button", name="Resize", exact=True).click()
        expect(page).to_have_url(re.compile(rf"/servers/{web.pk}/$"))
        expect(page.get_by_role("status").filter(has_text="Resize started.")).to_be_visible()
        expect(page.get_by_test_id("job-panel")).to_be_visible()

        job = wait_for_job(Job.objects.get(server=web), worker=celery_worker_process)
        assert job.state == JobState.SUCCEEDED, job.error
        page.reload()
        expect(page.get_by_test_id("server-disk")).to_have_text("25 GiB")
        expect(page.get_by_test_id("job-state")).to_have_count(0)  # no active job panel
    finally:
        context.close()
