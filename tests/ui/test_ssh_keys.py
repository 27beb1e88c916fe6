"""SSH keys in the account: checked as OpenSSH public keys, fingerprinted as ssh-keygen does,
another account's keys are a 404, and a rebuild installs the keys the customer picks."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from panel.models import Job, SshKey
from panel.services import ssh_key_create
from tests.ui.conftest import HTMX

pytestmark = pytest.mark.django_db

ED25519 = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJkWS+5eKmXW/Nyeg+m2XV5ldphcJsEHi3qJ9QYj+YL0 alice@laptop"
)
# As `ssh-keygen -lf` prints it for ED25519.
ED25519_FINGERPRINT = "SHA256:ovXw+7Wm9j5T85FgOzmEjcLPnNxSWxMNmMjT9tTug6g"


def test_a_key_is_stored_on_one_line_with_its_ssh_keygen_fingerprint(customer):
    key = ssh_key_create(owner=customer, name="laptop", public_key=f"  {ED25519}\n")
    assert (key.public_key, key.fingerprint) == (ED25519, ED25519_FINGERPRINT)


@pytest.mark.parametrize(
    "text",
    [
        "ssh-ed25519 AAAAnotbase64",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJkWS+5eKmXW",  # cut short
        "-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA",
        "hello",
        "",
    ],
)
def test_what_is_not_a_public_key_is_refused_with_a_field_message(customer, text):
    with pytest.raises(ValidationError) as refused:
        ssh_key_create(owner=customer, name="laptop", public_key=text)
    assert refused.value.message_dict["public_key"]
    assert not SshKey.objects.exists()


def test_the_same_key_twice_is_refused(customer):
    ssh_key_create(owner=customer, name="laptop", public_key=ED25519)
    with pytest.raises(ValidationError) as refused:
        ssh_key_create(owner=customer, name="other", public_key=ED25519)
    assert refused.value.message_dict["public_key"] == [
        "This key is already in your account as laptop."
    ]


def test_the_page_lists_only_my_keys_and_adds_one(client, customer, other_customer):
    ssh_key_create(owner=other_customer, name="bobs-key", public_key=ED25519)
    client.force_login(customer)
    url = reverse("ssh-key-list")
    assert "bobs-key" not in client.get(url).content.decode()

    response = client.post(url, {"name": "laptop", "public_key": ED25519})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "laptop" in page and ED25519_FINGERPRINT in page and "bobs-key" not in page


def test_a_bad_key_is_shown_next_to_the_field_not_a_500(client, customer):
    client.force_login(customer)
    response = client.post(reverse("ssh-key-list"), {"name": "laptop", "public_key": "nope"})
    assert response.status_code == 400
    assert 'id="id_public_key_errors"' in response.content.decode()


def test_another_accounts_key_cannot_be_deleted(client, customer, other_customer):
    key = ssh_key_create(owner=other_customer, name="bobs-key", public_key=ED25519)
    client.force_login(customer)
    response = client.post(reverse("ssh-key-delete", args=[key.pk]))
    assert response.status_code == 404
    assert SshKey.objects.filter(pk=key.pk).exists()


def test_my_key_is_deleted(client, customer):
    key = ssh_key_create(owner=customer, name="laptop", public_key=ED25519)
    client.force_login(customer)
    assert client.post(reverse("ssh-key-delete", args=[key.pk])).status_code == 302
    assert not SshKey.objects.exists()


def _rebuild(client, server, **extra):
    data = {"template": server.template_id, "password": "", "confirm": "on", **extra}
    return client.post(reverse("servers:rebuild", args=[server.pk]), data, **HTMX)


def test_a_rebuild_installs_the_chosen_keys(alice_client, alice_server, customer):
    key = ssh_key_create(owner=customer, name="laptop", public_key=ED25519)
    assert _rebuild(alice_client, alice_server, ssh_keys=[key.pk]).status_code == 200
    assert Job.objects.get(server=alice_server).params["ssh_keys"] == ED25519


def test_a_rebuild_cannot_pick_another_accounts_key(alice_client, alice_server, other_customer):
    key = ssh_key_create(owner=other_customer, name="bobs-key", public_key=ED25519)
    response = _rebuild(alice_client, alice_server, ssh_keys=[key.pk])
    assert 'id="id_ssh_keys_errors"' in response.content.decode()
    assert not Job.objects.exists()


def test_the_rebuild_form_comes_back_empty_once_the_rebuild_started(alice_client, alice_server):
    response = _rebuild(alice_client, alice_server)
    body = response.content.decode()
    # The job's panel, and the form again swapped out of band with its confirmation unticked.
    assert 'data-testid="job-panel"' in body
    form = body[body.index('<form id="rebuild-form" hx-swap-oob="true"') :]
    confirm = form[form.index('name="confirm"') - 200 : form.index('name="confirm"') + 100]
    assert "checked" not in confirm


def test_the_rebuild_form_links_to_the_keys_page_when_there_are_none(alice_client, alice_server):
    page = alice_client.get(reverse("servers:detail", args=[alice_server.pk])).content.decode()
    assert reverse("ssh-key-list") in page
