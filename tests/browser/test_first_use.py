"""What a first-time user hit (issue 11): a rebuild form left armed, a reboot warning shown only
after the click, a conflict message outliving its job; and the SSH key page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from panel.models import Job, JobKind, JobState, SshKey
from servers.models import ServerStatus
from tests.browser.test_htmx_interactions import signed_in, web  # noqa: F401 - fixtures
from tests.ui.conftest import make_job
from tests.ui.test_ssh_keys import ED25519

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open(page, summary: str):
    page.locator("summary", has_text=summary).click()


def test_the_rebuild_form_is_disarmed_once_the_rebuild_started(signed_in, web, screenshot):  # noqa: F811
    page = signed_in
    from nodes.models import Template

    Template.objects.create(node=web.node, vmid=9000, name="Debian 12", disk_gib=10)
    SshKey.objects.create(
        owner=web.owner, name="laptop", public_key=ED25519, fingerprint="SHA256:x"
    )
    page.reload()
    _open(page, "Rebuild")
    page.get_by_label("laptop (SHA256:x)").check()
    confirm = page.get_by_label("I understand that rebuilding erases everything")
    confirm.check()
    page.get_by_role("button", name="Rebuild server").click()

    expect(page.get_by_test_id("job-panel")).to_be_visible()
    expect(page.get_by_label("I understand that rebuilding erases everything")).not_to_be_checked()
    expect(page.get_by_label("laptop (SHA256:x)")).not_to_be_checked()
    job = Job.objects.get(server=web)
    assert (job.kind, job.params["ssh_keys"]) == (JobKind.REBUILD, ED25519)
    screenshot("rebuild-disarmed")


def test_the_reboot_warning_is_in_the_password_form_before_submitting(signed_in, web):  # noqa: F811
    page = signed_in
    _open(page, "Reset root password")
    expect(page.get_by_test_id("reset-password-reboot")).to_contain_text("rebooted")
    assert not Job.objects.exists()


def test_no_reboot_warning_for_a_stopped_server(signed_in, web):  # noqa: F811
    page = signed_in
    web.status = ServerStatus.STOPPED
    web.save()
    page.reload()
    _open(page, "Reset root password")
    expect(page.get_by_test_id("reset-password-reboot")).to_have_count(0)
    expect(page.locator("#reset-password-form")).to_contain_text("next start")


def test_the_conflict_message_goes_when_the_running_job_ends(signed_in, web):  # noqa: F811
    page = signed_in
    job = make_job(web, kind=JobKind.POWER, state=JobState.RUNNING, progress=50)
    page.get_by_label("Disk (GiB)").fill("80")
    page.get_by_role("button", name="Resize", exact=True).click()
    expect(page.get_by_test_id("job-conflict")).to_be_visible()

    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED, progress=100)

    expect(page.get_by_test_id("job-panel")).to_have_attribute("data-job-state", "succeeded")
    expect(page.get_by_test_id("job-conflict")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True


def test_a_customer_adds_and_removes_an_ssh_key(page, live_server, customer, screenshot):
    page.goto(f"{live_server.url}/login/?next=/account/ssh-keys/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-pass-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account/ssh-keys/$"))
    expect(page.get_by_test_id("ssh-keys-empty")).to_be_visible()
    screenshot("ssh-keys-empty")

    page.get_by_label("Name").fill("laptop")
    page.get_by_label("Public key").fill("ssh-ed25519 not-a-key")
    page.get_by_role("button", name="Add key").click()
    expect(page.locator("#id_public_key_errors")).to_contain_text("not an OpenSSH public key")

    page.get_by_label("Public key").fill(ED25519)
    page.get_by_role("button", name="Add key").click()
    expect(page.get_by_test_id("ssh-keys")).to_contain_text("laptop")
    expect(page.get_by_test_id("ssh-keys")).to_contain_text("SHA256:")
    screenshot("ssh-keys")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("ssh-keys-empty")).to_be_visible()
    assert not SshKey.objects.exists()
