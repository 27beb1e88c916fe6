"""Node services against the PVE simulator: a real HTTPS server with a self-signed certificate."""

import socket

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from nodes.models import Node, Template
from nodes.services import (
    NodeConnectionError,
    node_client,
    node_register,
    node_sync_templates,
    node_test_connection,
)
from nodes.validation import MSG_TLS_OFF_WITHOUT_PIN
from proxmox.errors import PveTlsError

pytestmark = pytest.mark.django_db

OTHER_FINGERPRINT = ":".join(["5A"] * 32)


def register(pve_sim, **overrides) -> Node:
    values = {
        "name": "sim pve1",
        "api_url": pve_sim.url,
        "pve_node": "pve1",
        "token_id": pve_sim.token_id,
        "token_secret": pve_sim.token_secret,
        "fingerprint_sha256": pve_sim.fingerprint_sha256,
    }
    values.update(overrides)
    return node_register(**values)


def unused_local_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- node_client -------------------------------------------------------------------------------


def test_node_client_is_pinned_and_authenticated(pve_sim):
    node = Node.objects.get(pk=register(pve_sim).pk)  # the secret comes back from the database

    client = node_client(node=node)
    try:
        assert client.version()["version"] == "9.1.3"
    finally:
        client.close()


@override_settings(PROXMOX_CONNECT_TIMEOUT_S=1.5, PROXMOX_READ_TIMEOUT_S=12.0)
def test_node_client_takes_its_timeouts_from_settings(pve_sim):
    client = node_client(node=register(pve_sim))

    assert client.timeout == (1.5, 12.0)
    client.close()


def test_node_client_without_a_pin_verifies_the_certificate(pve_sim):
    # No pin and verification on (the default): the self-signed certificate is refused.
    node = register(pve_sim, fingerprint_sha256="")
    client = node_client(node=node)

    with pytest.raises(PveTlsError):
        client.version()
    client.close()


def test_node_client_refuses_a_certificate_that_does_not_match_the_pin(pve_sim):
    client = node_client(node=register(pve_sim, fingerprint_sha256=OTHER_FINGERPRINT))

    with pytest.raises(PveTlsError):
        client.version()
    assert pve_sim.calls["GET /version"] == 0  # refused in the handshake: the token was never sent
    client.close()


# --- node_test_connection ----------------------------------------------------------------------


def test_connection_test_stores_and_returns_the_pve_version(pve_sim):
    node = register(pve_sim)
    assert node.pve_version == ""
    assert node.last_checked_at is None

    version = node_test_connection(node=node)

    assert version == "9.1.3"
    node.refresh_from_db()
    assert node.pve_version == "9.1.3"
    assert node.last_checked_at is not None


def test_connection_test_records_the_nodes_pve_cluster(pve_sim):
    """VMIDs are allocated per cluster: the test reads which cluster the node is in."""
    node = register(pve_sim)
    assert node.cluster_checked_at is None

    node_test_connection(node=node)

    node.refresh_from_db()
    assert node.cluster_name == pve_sim.state.cluster_name != ""
    assert node.cluster_checked_at is not None


def test_a_standalone_node_is_its_own_cluster(pve_sim):
    from nodes.selectors import nodes_sharing_vmids

    with pve_sim.state.lock:
        second = pve_sim.state.nodes.pop("pve2")  # the simulator alone: a standalone node
    try:
        node = register(pve_sim)
        node_test_connection(node=node)
    finally:
        with pve_sim.state.lock:
            pve_sim.state.nodes["pve2"] = second
    node.refresh_from_db()
    assert node.cluster_name == "" and node.cluster_checked_at is not None
    elsewhere = register(pve_sim, name="other standalone", pve_node="pve2")
    Node.objects.filter(pk=elsewhere.pk).update(cluster_checked_at=node.cluster_checked_at)
    assert list(nodes_sharing_vmids(node=node)) == [node]


def test_connection_test_with_a_wrong_token_says_authentication_failed(pve_sim):
    node = register(pve_sim, token_secret="00000000-0000-4000-8000-000000000000")

    with pytest.raises(NodeConnectionError) as caught:
        node_test_connection(node=node)

    assert "authentication failed for API token panel@pve!panel" in caught.value.message
    assert "00000000-0000-4000-8000-000000000000" not in caught.value.message
    node.refresh_from_db()
    assert node.last_checked_at is None


def test_connection_test_with_a_wrong_fingerprint_names_the_mismatch(pve_sim):
    node = register(pve_sim, fingerprint_sha256=OTHER_FINGERPRINT)

    with pytest.raises(NodeConnectionError) as caught:
        node_test_connection(node=node)

    assert "does not match the pinned fingerprint" in caught.value.message
    assert OTHER_FINGERPRINT in caught.value.message
    assert f"The server presented {pve_sim.fingerprint_sha256}." in caught.value.message


def test_connection_test_without_a_pin_explains_pinning(pve_sim):
    node = register(pve_sim, fingerprint_sha256="")

    with pytest.raises(NodeConnectionError) as caught:
        node_test_connection(node=node)

    assert "could not be verified (self-signed certificate)" in caught.value.message
    assert "pin its SHA-256 fingerprint" in caught.value.message


def test_connection_test_to_nothing_says_it_cannot_reach_the_api(pve_sim):
    node = register(pve_sim, api_url=f"https://127.0.0.1:{unused_local_port()}")

    with pytest.raises(NodeConnectionError) as caught:
        node_test_connection(node=node)

    assert "cannot reach the PVE API (Connection refused)" in caught.value.message


def test_connection_test_names_the_cluster_nodes_when_pve_node_is_wrong(pve_sim):
    node = register(pve_sim, pve_node="pve9")

    with pytest.raises(NodeConnectionError) as caught:
        node_test_connection(node=node)

    assert "no PVE node named 'pve9'" in caught.value.message
    assert "pve1, pve2" in caught.value.message


def test_connection_test_reports_an_offline_node(pve_sim):
    pve_sim.knobs.set_node_down("pve1")
    node = register(pve_sim)

    with pytest.raises(NodeConnectionError) as caught:
        node_test_connection(node=node)

    assert "'pve1' as offline" in caught.value.message


# --- node_sync_templates -----------------------------------------------------------------------


def test_sync_creates_templates_with_their_boot_disk_size(pve_sim):
    pve_sim.add_template("pve1", 9000, "debian-12", 3)
    pve_sim.add_template("pve1", 9001, "ubuntu-24.04", 4, ostype="l26")
    pve_sim.add_vm("pve1", 100, "not-a-template", 20)
    pve_sim.add_template("pve2", 9010, "on-another-node", 5)
    node = register(pve_sim)

    result = node_sync_templates(node=node)

    assert (result.created, result.updated, result.deactivated) == (2, 0, 0)
    rows = {t.vmid: t for t in Template.objects.filter(node=node)}
    assert set(rows) == {9000, 9001}
    assert (rows[9000].name, rows[9000].disk_gib, rows[9000].os_family) == (
        "debian-12",
        3,
        "debian",
    )
    assert (rows[9001].name, rows[9001].disk_gib, rows[9001].os_family) == (
        "ubuntu-24.04",
        4,
        "ubuntu",
    )
    assert all(t.is_active for t in rows.values())


def test_sync_rounds_a_fractional_disk_up_to_whole_gib(pve_sim):
    pve_sim.add_template("pve1", 9000, "small-image", 2.2)
    node = register(pve_sim)

    node_sync_templates(node=node)

    assert Template.objects.get(node=node, vmid=9000).disk_gib == 3


def test_sync_reads_the_disk_named_by_the_boot_order(pve_sim):
    pve_sim.add_template(
        "pve1",
        9000,
        "virtio-image",
        8,
        config={"boot": "order=virtio0", "virtio0": "local-lvm:base-9000-disk-1,size=12G"},
    )
    node = register(pve_sim)

    node_sync_templates(node=node)

    assert Template.objects.get(node=node, vmid=9000).disk_gib == 12


def test_resync_is_idempotent_keeps_staff_choices_and_retires_vanished_templates(pve_sim):
    pve_sim.add_template("pve1", 9000, "debian-12", 3)
    pve_sim.add_template("pve1", 9001, "ubuntu-24.04", 4)
    node = register(pve_sim)
    node_sync_templates(node=node)
    Template.objects.filter(vmid=9001).update(is_active=False, os_family="ubuntu-lts")

    again = node_sync_templates(node=node)
    assert (again.created, again.updated, again.deactivated) == (0, 0, 0)
    assert Template.objects.filter(node=node).count() == 2
    ubuntu = Template.objects.get(vmid=9001)
    assert (ubuntu.is_active, ubuntu.os_family) == (False, "ubuntu-lts")

    with pve_sim.state.lock:
        del pve_sim.state.nodes["pve1"].vms[9000]
    gone = node_sync_templates(node=node)

    assert gone.deactivated == 1
    assert Template.objects.get(vmid=9000).is_active is False


def test_sync_failure_is_a_clear_error_and_changes_nothing(pve_sim):
    pve_sim.add_template("pve1", 9000, "debian-12", 3)
    node = register(pve_sim, token_secret="wrong-secret")

    with pytest.raises(NodeConnectionError, match="authentication failed"):
        node_sync_templates(node=node)
    assert not Template.objects.exists()


# --- node_register -----------------------------------------------------------------------------


def test_register_is_idempotent_and_updates_in_place(pve_sim):
    first = register(pve_sim, api_url=pve_sim.url + "/", fingerprint_sha256="")
    second = register(
        pve_sim, token_secret="rotated", fingerprint_sha256=pve_sim.fingerprint_sha256.lower()
    )

    assert first.pk == second.pk
    assert Node.objects.count() == 1
    stored = Node.objects.get()
    assert stored.token_secret == "rotated"
    assert stored.api_url == pve_sim.url
    assert stored.tls_fingerprint_sha256 == pve_sim.fingerprint_sha256


def test_register_validates_like_the_form(pve_sim):
    with pytest.raises(ValidationError) as caught:
        register(pve_sim, verify_tls=False, fingerprint_sha256="")
    assert caught.value.message_dict == {"verify_tls": [MSG_TLS_OFF_WITHOUT_PIN]}

    with pytest.raises(ValidationError, match="https"):
        register(pve_sim, api_url=pve_sim.url.replace("https", "http"))
    assert not Node.objects.exists()


@pytest.mark.parametrize(
    ("name", "ostype", "family"),
    [
        ("almalinux-9", "l26", "alma"),
        ("Ubuntu-24.04-cloud", "l26", "ubuntu"),
        ("research-box", "l26", ""),
        ("win2022-base", "win11", "windows"),
        ("golden-image", "win10", "windows"),
    ],
)
def test_sync_guesses_the_os_family_from_the_name_or_ostype(pve_sim, name, ostype, family):
    pve_sim.add_template("pve1", 9000, name, 10, ostype=ostype)
    node = register(pve_sim)

    node_sync_templates(node=node)

    assert Template.objects.get(node=node, vmid=9000).os_family == family
