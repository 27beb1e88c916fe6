"""The admin's add-server form and a node refused on save, as staff see them."""

import pytest
from playwright.sync_api import expect

from tests.nodes.test_admin import admin_post_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff_page(live_server, page, staff_user):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    # Admin's sign-in is the panel's (allauth's) sign-in.
    page.fill("#id_login", "staff")
    page.fill("#id_password", "staff-pass-123")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector("#content")
    return page


def test_the_add_server_form_looks_like_the_other_admin_forms(
    staff_page, live_server, screenshot, customer, plan, offline_template
):
    page = staff_page
    page.goto(f"{live_server.url}/admin/servers/server/add/")
    # Admin's own widget classes, so it is styled as every admin form is.
    expect(page.locator("input[name=name]")).to_have_class("vTextField")
    expect(page.locator("input[name=cpu_cores]")).to_have_class("vIntegerField")
    expect(page.get_by_label("Go beyond the plan's limits")).to_be_visible()
    page.fill("input[name=name]", "big")
    page.fill("input[name=hostname]", "big.example.com")
    page.fill("input[name=cpu_cores]", "16")
    page.fill("input[name=memory_mib]", "4096")
    page.fill("input[name=disk_gib]", "20")
    page.select_option("select[name=owner]", label="alice")
    for choice in ("plan", "node", "template"):
        page.select_option(f"select[name={choice}]", index=1)
    page.click("input[type=submit][value='Create server']")
    expect(page.locator(".field-cpu_cores .errorlist")).to_contain_text("allows at most 8 cores")
    expect(page.locator(".errorlist")).to_have_count(1)
    screenshot("admin-add-server")


def test_a_node_refused_on_save_is_shown_disabled_with_why(
    staff_page, live_server, screenshot, pve_sim
):
    page = staff_page
    page.goto(f"{live_server.url}/admin/nodes/node/add/")
    data = admin_post_data(
        name="sim", api_url=pve_sim.url, pve_node="pve9", token_id=pve_sim.token_id
    )
    for field in ("name", "api_url", "pve_node", "token_id"):
        page.fill(f"input[name={field}]", data[field])
    page.fill("input[name=token_secret]", pve_sim.token_secret)
    page.fill("input[name=tls_fingerprint_sha256]", pve_sim.fingerprint_sha256)
    page.click("input[type=submit][name=_save]")
    expect(page.locator("ul.messagelist .error")).to_contain_text("saved but DISABLED")
    expect(page.locator(".field-last_check_error")).to_contain_text("no PVE node named 'pve9'")
    expect(page.locator("input[name=is_enabled]")).not_to_be_checked()
    screenshot("admin-node-refused")
