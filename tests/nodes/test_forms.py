"""NodeForm: what staff type in is normalised, and each mistake gets its own clear message."""

import pytest

from nodes.forms import MSG_SECRET_REQUIRED, NodeForm
from nodes.models import Node
from nodes.validation import (
    MSG_BAD_URL,
    MSG_FINGERPRINT,
    MSG_NOT_HTTPS,
    MSG_TLS_OFF_WITHOUT_PIN,
    MSG_TOKEN_ID,
    MSG_TOKEN_ID_WITH_SECRET,
)

pytestmark = pytest.mark.django_db

FINGERPRINT = ":".join(f"{i:02X}" for i in range(0xA0, 0xC0))
SECRET = "5f1c0f6e-8a36-4a51-9c43-0b1e6e9d2a77"


def form_data(**overrides):
    data = {
        "name": "Frankfurt 1",
        "api_url": "https://pve1.example.com:8006",
        "pve_node": "pve1",
        "token_id": "panel@pve!panel",
        "token_secret": SECRET,
        "verify_tls": "on",
        "tls_fingerprint_sha256": FINGERPRINT,
        "vm_storage": "local-lvm",
        "backup_storage": "local",
        "max_vms": 100,
        "max_cpu_cores": 64,
        "max_memory_mib": 262144,
        "max_disk_gib": 4096,
        "max_concurrent_heavy_tasks": 2,
        "is_enabled": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_valid_form_saves_a_node_with_the_secret():
    form = NodeForm(data=form_data())
    assert form.is_valid(), form.errors
    node = form.save()

    node = Node.objects.get(pk=node.pk)
    assert node.token_secret == SECRET
    assert node.api_url == "https://pve1.example.com:8006"
    assert node.tls_fingerprint_sha256 == FINGERPRINT


@pytest.mark.parametrize(
    "url",
    ["http://pve1.example.com:8006", "pve1.example.com:8006", "ftp://pve1.example.com"],
)
def test_a_url_that_is_not_https_is_refused(url):
    form = NodeForm(data=form_data(api_url=url))
    assert not form.is_valid()
    assert form.errors["api_url"] == [MSG_NOT_HTTPS]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://pve1.example.com", "https://pve1.example.com:8006"),
        ("https://PVE1.example.com/", "https://pve1.example.com:8006"),
        ("https://pve1.example.com:8443/api2/json/", "https://pve1.example.com:8443"),
        ("  https://10.0.0.5  ", "https://10.0.0.5:8006"),
        ("https://pve1", "https://pve1:8006"),  # internal single-label names are common
        ("https://[fd00::5]", "https://[fd00::5]:8006"),
    ],
)
def test_url_is_normalised_and_port_8006_added_when_missing(typed, stored):
    form = NodeForm(data=form_data(api_url=typed))
    assert form.is_valid(), form.errors
    assert form.save().api_url == stored


@pytest.mark.parametrize(
    "url",
    [
        "https://",
        "https://pve1.example.com:8006/somewhere",
        "https://root:pw@pve1.example.com",
        "https://pve_1.example.com",
        "https://-pve1.example.com",
        "https://pve1.example.com:99999",
        "https://pve1.example.com?x=1",
    ],
)
def test_a_malformed_https_url_is_refused(url):
    form = NodeForm(data=form_data(api_url=url))
    assert not form.is_valid()
    assert form.errors["api_url"] == [MSG_BAD_URL]


@pytest.mark.parametrize(
    "token_id", ["panel", "panel@pve", "panel!token", "pa nel@pve!tok", "@pve!x"]
)
def test_a_malformed_token_id_is_refused(token_id):
    form = NodeForm(data=form_data(token_id=token_id))
    assert not form.is_valid()
    assert form.errors["token_id"] == [MSG_TOKEN_ID]


@pytest.mark.parametrize(
    "token_id", [f"panel@pve!panel={SECRET}", f"PVEAPIToken=panel@pve!panel={SECRET}"]
)
def test_a_token_id_pasted_with_its_secret_is_refused_with_a_hint(token_id):
    form = NodeForm(data=form_data(token_id=token_id))
    assert not form.is_valid()
    assert form.errors["token_id"] == [MSG_TOKEN_ID_WITH_SECRET]


@pytest.mark.parametrize(
    "typed",
    [
        FINGERPRINT.lower(),
        FINGERPRINT.replace(":", ""),
        FINGERPRINT.replace(":", "-").lower(),
        f"sha256 Fingerprint={FINGERPRINT}",
    ],
)
def test_fingerprint_is_normalised_to_upper_case_colon_form(typed):
    form = NodeForm(data=form_data(tls_fingerprint_sha256=typed))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["tls_fingerprint_sha256"] == FINGERPRINT


@pytest.mark.parametrize(
    "typed",
    [
        FINGERPRINT[:-3],  # 31 bytes
        FINGERPRINT + ":00",  # 33 bytes
        FINGERPRINT.replace("A0", "G0"),  # not hex
        f"sha1 Fingerprint={FINGERPRINT}",
    ],
)
def test_a_bad_fingerprint_is_refused(typed):
    form = NodeForm(data=form_data(tls_fingerprint_sha256=typed))
    assert not form.is_valid()
    assert form.errors["tls_fingerprint_sha256"] == [MSG_FINGERPRINT]


def test_turning_tls_verification_off_without_a_pin_is_refused():
    form = NodeForm(data=form_data(verify_tls=None, tls_fingerprint_sha256=""))
    assert not form.is_valid()
    assert form.errors["verify_tls"] == [MSG_TLS_OFF_WITHOUT_PIN]


def test_verification_by_ca_without_a_pin_is_accepted():
    form = NodeForm(data=form_data(tls_fingerprint_sha256=""))
    assert form.is_valid(), form.errors


def test_the_secret_is_required_when_adding_a_node():
    form = NodeForm(data=form_data(token_secret=""))
    assert not form.is_valid()
    assert form.errors["token_secret"] == [MSG_SECRET_REQUIRED]


def test_editing_with_an_empty_secret_keeps_the_stored_one():
    node = NodeForm(data=form_data()).save()

    form = NodeForm(data=form_data(token_secret="", name="Frankfurt 1b"), instance=node)
    assert form.is_valid(), form.errors
    form.save()

    node = Node.objects.get(pk=node.pk)
    assert node.name == "Frankfurt 1b"
    assert node.token_secret == SECRET


def test_editing_with_a_new_secret_replaces_it():
    node = NodeForm(data=form_data()).save()

    form = NodeForm(data=form_data(token_secret="new-secret-value"), instance=node)
    assert form.is_valid(), form.errors
    form.save()

    assert Node.objects.get(pk=node.pk).token_secret == "new-secret-value"


def test_the_stored_secret_is_never_in_the_edit_form():
    node = NodeForm(data=form_data()).save()
    node = Node.objects.get(pk=node.pk)

    form = NodeForm(instance=node)

    assert "token_secret" not in form.initial
    assert SECRET not in str(form)
    assert 'name="token_secret"' in str(form)
