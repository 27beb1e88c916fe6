"""The usage graphs in a real browser: the server page loads them lazily (loading, then drawn
once the worker has read PVE), a timeframe switch redraws them, and staff see a node's graphs in
admin. Live server, a real Celery worker and the PVE simulator; the screenshots are the README's."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, SCREENSHOTS
from tests.browser.test_resize_flow import _sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

# Safety net for the worker's refresh and the fragment's polling, not a claim about speed.
GRAPH_DEADLINE_MS = 60_000
# Pixels drawn (not transparent) on a chart's canvas: a drawn series, not an empty frame.
PAINTED = """canvas => {
  const {data} = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return painted;
}"""


def _shoot(locator, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _expect_drawn(page, chart: str) -> None:
    canvas = page.get_by_test_id(f"graph-{chart}").locator("canvas")
    expect(canvas).to_be_visible(timeout=GRAPH_DEADLINE_MS)
    assert canvas.evaluate(PAINTED) > 2000, f"the {chart} chart is blank"


def test_server_page_draws_its_usage_graphs(
    live_server, celery_worker_process, pve_sim, server_factory, customer, page
):
    web = server_factory(name="web-1", cpu_cores=2, memory_mib=4096, disk_gib=40)
    pve_sim.vm(web.vmid).started_at = time.time() - 3 * 86400  # a VM with history

    _sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/servers/{web.pk}/")
    graphs = page.get_by_test_id("server-graphs")
    for chart in ("cpu", "memory", "disk", "network"):
        _expect_drawn(page, chart)
    expect(graphs).to_contain_text("CPU (%)")
    expect(graphs).to_contain_text("Memory (MiB)")
    expect(graphs).to_contain_text("Network (bytes/s)")
    _shoot(graphs, "server-graphs")

    graphs.get_by_role("link", name="Day").click()
    expect(graphs.get_by_role("link", name="Day")).to_have_attribute(
        "aria-current", "true", timeout=GRAPH_DEADLINE_MS
    )
    _expect_drawn(page, "network")
    page.set_viewport_size(PHONE)
    _shoot(graphs, "server-graphs-phone")


def test_staff_see_a_nodes_graphs_in_admin(
    live_server, celery_worker_process, pve_sim, node, staff_user, page, screenshot
):
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill("staff-pass-123")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.goto(f"{live_server.url}/admin/nodes/node/{node.pk}/change/")
    page.get_by_test_id("node-graphs-link").click()
    expect(page).to_have_url(re.compile(rf"/admin/nodes/node/{node.pk}/graphs/$"))
    for chart in ("cpu", "load", "memory", "network"):
        _expect_drawn(page, chart)
    screenshot("node-graphs")
