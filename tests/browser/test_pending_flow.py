"""A change a running server cannot take live, in a real browser: the resize succeeds, the page
says what runs now and what comes after the next restart, and its "Restart to apply" button
reboots the server, after which the page shows the new values alone. Live server, a real Celery
worker and the PVE simulator; nothing is mocked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from servers.models import Server
from tests.browser.test_resize_flow import JOB_DEADLINE_MS, _sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]


def test_a_pending_change_is_shown_and_a_restart_applies_it(
    live_server, celery_worker_process, pve_sim, server_factory, customer, page, screenshot
):
    web = server_factory(name="web-1", cpu_cores=2, memory_mib=4096, disk_gib=20)
    web.node.name = "Frankfurt 1"
    web.node.save(update_fields=["name"])
    Server.objects.filter(pk=web.pk).update(hostname="web-1.example.com")

    _sign_in(page, live_server.url)
    page.get_by_role("link", name="web-1", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/servers/{web.pk}/$"))
    expect(page.get_by_label("Restart now to apply")).not_to_be_checked()
    page.get_by_label("CPU cores").fill("4")
    page.get_by_label("Memory (MiB)").fill("8192")
    page.get_by_role("button", name="Resize", exact=True).click()

    panel = page.get_by_test_id("job-panel")
    expect(panel).to_have_attribute("data-job-state", "succeeded", timeout=JOB_DEADLINE_MS)
    expect(page.get_by_test_id("job-summary")).to_have_text(
        "4 vCPU and 8 GiB memory take effect at the next restart."
    )
    specs = page.get_by_test_id("server-specs")
    expect(specs).to_contain_text("2 vCPU now, 4 vCPU after the next restart")
    expect(specs).to_contain_text("4 GiB now, 8 GiB after the next restart")
    pending = page.get_by_test_id("pending-changes")
    expect(pending).to_be_visible()
    # The form shows what the server will have, so submitting it again changes nothing.
    expect(page.get_by_label("CPU cores")).to_have_value("4")
    screenshot("server-pending")

    page.once("dialog", lambda dialog: dialog.accept())
    pending.get_by_role("button", name="Restart to apply").click()
    restart = page.get_by_test_id("job-panel")
    expect(restart).to_contain_text("Power")
    expect(restart).to_have_attribute("data-job-state", "succeeded", timeout=JOB_DEADLINE_MS)
    expect(specs).not_to_contain_text("after the next restart")
    expect(specs).to_contain_text("4 vCPU")
    expect(specs).to_contain_text("8 GiB")
    expect(page.get_by_test_id("pending-changes")).to_have_count(0)
    web.refresh_from_db()
    assert (web.cpu_cores, web.memory_mib, web.pending_cpu_cores, web.pending_memory_mib) == (
        4,
        8192,
        None,
        None,
    )
