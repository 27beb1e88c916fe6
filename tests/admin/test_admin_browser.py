"""Staff's admin as a person sees it: list, resize through the intermediate form, the job page."""

import pytest

from panel.models import Job, JobKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_resizes_a_server_in_the_admin(
    live_server, page, screenshot, staff_user, server_a, server_b
):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/servers/server/")
    # Admin's sign-in is the panel's (allauth's) sign-in.
    page.fill("#id_login", "staff")
    page.fill("#id_password", "staff-pass-123")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector("#result_list")
    assert "alpha" in page.content() and "bravo" in page.content()
    screenshot("admin-servers")

    page.check(f"input[name=_selected_action][value='{server_a.pk}']")
    page.select_option("select[name=action]", "resize_server")
    page.click("button[name=index]")
    page.wait_for_selector("input[name=memory_mib]")
    page.fill("input[name=memory_mib]", "4096")
    page.fill("input[name=disk_gib]", "10")
    page.click("input[type=submit][value=Resize]")
    page.wait_for_selector(".errorlist")
    screenshot("admin-resize-refused")
    assert not Job.objects.exists()

    page.fill("input[name=disk_gib]", "40")
    page.click("input[type=submit][value=Resize]")
    page.wait_for_selector("ul.messagelist")
    assert "queued" in page.inner_text("ul.messagelist")
    job = Job.objects.get()
    assert job.kind == JobKind.RESIZE

    page.click("ul.messagelist a")
    page.wait_for_selector("text=Grow the disk")
    screenshot("admin-job")
