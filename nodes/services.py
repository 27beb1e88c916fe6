"""Node services: build a PVE client for a node, check it, read its templates, register it.

Only reads reach PVE here (``GET /version``, the VM list and configs), so staff may run them from an
admin action; no PVE call is made while a database transaction is open.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from nodes.models import Node, Template
from nodes.validation import (
    MSG_TLS_OFF_WITHOUT_PIN,
    normalise_api_url,
    normalise_fingerprint,
    normalise_token_id,
)
from proxmox.client import PveClient
from proxmox.errors import (
    PveAuthError,
    PveError,
    PvePermissionError,
    PveTlsError,
    PveTransientError,
)
from proxmox.tls import format_fingerprint
from proxmox.units import GIB
from proxmox.vmconfig import vm_specs

logger = logging.getLogger(__name__)

# Where a template's boot disk usually is, when `boot: order=` does not say.
_OS_FAMILIES = (
    "debian",
    "ubuntu",
    "rocky",
    "alma",
    "centos",
    "fedora",
    "opensuse",
    "arch",
    "windows",
)


class NodeConnectionError(Exception):
    """A node could not be reached or refused us; ``message`` says why in staff's words."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class TemplateSyncResult:
    created: int
    updated: int
    deactivated: int

    def __str__(self) -> str:
        return f"{self.created} new, {self.updated} updated, {self.deactivated} no longer on PVE"


def node_client(*, node: Node, read_timeout_s: float | None = None) -> PveClient:
    """A client for ``node``: decrypted token, CA verification or the pinned fingerprint,
    timeouts from settings (or a shorter read timeout, for checks a person waits on)."""
    return PveClient(
        node.api_url,
        token_id=node.token_id,
        token_secret=node.token_secret,
        verify_tls=node.verify_tls,
        fingerprint_sha256=node.tls_fingerprint_sha256 or None,
        connect_timeout=settings.PROXMOX_CONNECT_TIMEOUT_S,
        read_timeout=read_timeout_s or settings.PROXMOX_READ_TIMEOUT_S,
    )


_PRESENTED_FINGERPRINT_RE = re.compile(r'got "?([0-9a-fA-F]{64})"?')
_VERIFY_FAILED_RE = re.compile(r"certificate verify failed: ([^(]+?)\s*\(_ssl")
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\"()]+)")


def _transport_reason(message: str) -> str:
    """The useful part of a requests/urllib3 error (they wrap it in several layers)."""
    for pattern in (_VERIFY_FAILED_RE, _ERRNO_RE):
        found = pattern.search(message)
        if found:
            return found[1].strip()
    if "timed out" in message.lower():
        return "timed out"
    return message if len(message) <= 300 else message[:300] + "..."


def _explain(node: Node, exc: PveError) -> str:
    """Turn a PVE error into what staff should check, keeping PVE's own words."""
    where = f"Node {node.name} ({node.api_url})"
    if isinstance(exc, PveTlsError):
        if node.tls_fingerprint_sha256:
            presented = _PRESENTED_FINGERPRINT_RE.search(exc.message)
            seen = f" The server presented {format_fingerprint(presented[1])}." if presented else ""
            return (
                f"{where}: the TLS certificate does not match the pinned fingerprint "
                f"{node.tls_fingerprint_sha256}.{seen} If the node's certificate was renewed, "
                f"compare with `pvenode cert info` on the node before pinning the new one; "
                f"otherwise something is intercepting the connection."
            )
        return (
            f"{where}: the TLS certificate could not be verified "
            f"({_transport_reason(exc.message)}). For PVE's self-signed certificate, pin its "
            f"SHA-256 fingerprint (from `pvenode cert info`)."
        )
    if isinstance(exc, PveAuthError):
        return (
            f"{where}: authentication failed for API token {node.token_id}; check the token id "
            f"and secret, and that the token has not expired. (PVE: {exc.message})"
        )
    if isinstance(exc, PvePermissionError):
        return f"{where}: API token {node.token_id} lacks a permission; PVE said: {exc.message}"
    if isinstance(exc, PveTransientError):
        reason = _transport_reason(exc.message)
        if exc.status:
            reason = f"HTTP {exc.status}: {reason}"
        return (
            f"{where}: cannot reach the PVE API ({reason}). Is the address right and the node up?"
        )
    return f"{where}: PVE answered with an error: {exc}"


def node_test_connection(*, node: Node, read_timeout_s: float | None = None) -> str:
    """Check that ``node`` answers with its credentials: ``GET /version``, then that ``pve_node`` is
    an online node of that cluster (``GET /nodes``). Stores and returns PVE's version; raises
    NodeConnectionError with a message for staff otherwise.
    """
    client = node_client(node=node, read_timeout_s=read_timeout_s)
    try:
        info = client.version()
        cluster_nodes = {str(item.get("node")): item for item in client.nodes()}
        node_record_cluster(node=node, client=client)
    except PveError as exc:
        logger.info("node %s: connection test failed: %s", node.pk, exc)
        raise NodeConnectionError(_explain(node, exc)) from exc
    finally:
        client.close()
    node.pve_version = str(info.get("version") or info.get("release") or "")
    node.last_checked_at = timezone.now()
    node.save(update_fields=["pve_version", "last_checked_at"])
    if node.pve_node not in cluster_nodes:
        raise NodeConnectionError(
            f"Node {node.name} ({node.api_url}): connected to PVE {node.pve_version}, but there is "
            f"no PVE node named {node.pve_node!r} there; the cluster has: "
            f"{', '.join(sorted(cluster_nodes))}."
        )
    status = cluster_nodes[node.pve_node].get("status")
    if status and status != "online":
        raise NodeConnectionError(
            f"Node {node.name} ({node.api_url}): connected to PVE {node.pve_version}, but the "
            f"cluster reports node {node.pve_node!r} as {status}."
        )
    return node.pve_version


# Staff wait for this check on the save: two small reads, so a short read timeout is plenty.
SAVE_CHECK_READ_TIMEOUT_S = 5.0


def node_check_after_save(*, node: Node) -> str:
    """Check a node staff just saved (read-only: GET /version, GET /nodes). One that fails is
    disabled, so it is never offered for new servers, and the reason is kept on it; one that
    passes has its last reason cleared (staff decide whether it is enabled). Returns the reason,
    or "" when the node answered as it should."""
    try:
        node_test_connection(node=node, read_timeout_s=SAVE_CHECK_READ_TIMEOUT_S)
    except NodeConnectionError as exc:
        node.is_enabled = False
        node.last_check_error = exc.message
        node.last_checked_at = timezone.now()
        node.save(update_fields=["is_enabled", "last_check_error", "last_checked_at"])
        return exc.message
    if node.last_check_error:
        node.last_check_error = ""
        node.save(update_fields=["last_check_error"])
    return ""


def node_record_cluster(*, node: Node, client: PveClient) -> str:
    """Read which PVE cluster ``node`` belongs to (``GET /cluster/status``) and store its name on
    the node; blank for a standalone node. VMIDs are allocated per cluster
    (``nodes.selectors.nodes_sharing_vmids``). Raises PveError."""
    cluster = next(
        (item for item in client.cluster_status() if item.get("type") == "cluster"), None
    )
    node.cluster_name = str(cluster.get("name") or "") if cluster else ""
    node.cluster_checked_at = timezone.now()
    Node.objects.filter(pk=node.pk).update(
        cluster_name=node.cluster_name, cluster_checked_at=node.cluster_checked_at
    )
    return node.cluster_name


def _os_family(name: str, config: dict) -> str:
    lowered = name.lower()
    for family in _OS_FAMILIES:
        # At the start of a word: "almalinux-9" is alma, "search-box" is not arch.
        if re.search(rf"(?<![a-z]){family}", lowered):
            return family
    return "windows" if str(config.get("ostype", "")).startswith("win") else ""


def node_sync_templates(*, node: Node) -> TemplateSyncResult:
    """Mirror the node's PVE templates (VMs with ``template: 1``) into Template rows.

    New templates are added active; a known one gets PVE's name and disk size but keeps staff's
    ``is_active`` and ``os_family``; one gone from PVE is deactivated, so nothing clones from it.
    """
    client = node_client(node=node)
    found: dict[int, tuple[str, int, str]] = {}
    try:
        for vm in client.vm_list(node.pve_node):
            if not int(vm.get("template") or 0):
                continue
            vmid = int(vm["vmid"])
            config = client.vm_config(node.pve_node, vmid)
            name = str(config.get("name") or vm.get("name") or f"VM {vmid}")
            size_bytes = vm_specs(config).disk_bytes or int(vm.get("maxdisk") or 0)
            # Round up: a server cloned from it can never have a smaller disk.
            found[vmid] = (name, math.ceil(size_bytes / GIB), _os_family(name, config))
    except PveError as exc:
        raise NodeConnectionError(_explain(node, exc)) from exc
    finally:
        client.close()

    created = updated = deactivated = 0
    with transaction.atomic():
        existing = {t.vmid: t for t in Template.objects.select_for_update().filter(node=node)}
        for vmid, (name, disk_gib, os_family) in found.items():
            template = existing.get(vmid)
            if template is None:
                Template.objects.create(
                    node=node, vmid=vmid, name=name[:100], disk_gib=disk_gib, os_family=os_family
                )
                created += 1
            elif (template.name, template.disk_gib) != (name[:100], disk_gib):
                template.name, template.disk_gib = name[:100], disk_gib
                template.save(update_fields=["name", "disk_gib"])
                updated += 1
        for vmid, template in existing.items():
            if vmid not in found and template.is_active:
                template.is_active = False
                template.save(update_fields=["is_active"])
                deactivated += 1
    return TemplateSyncResult(created=created, updated=updated, deactivated=deactivated)


@dataclass(frozen=True)
class PveGuest:
    """An ordinary (non-template) VM as PVE holds it, with what the panel reads from it."""

    vmid: int
    name: str
    power: str  # running | stopped
    description: str
    cpu_cores: int
    memory_mib: int
    disk_gib: int  # whole GiB, rounded down: a disk only grows from there


def node_list_guests(*, node: Node) -> list[PveGuest]:
    """Read the node's ordinary VMs and their configs (a read: VM list, then each config)."""
    client = node_client(node=node)
    guests = []
    try:
        for vm in client.vm_list(node.pve_node):
            if int(vm.get("template") or 0):
                continue
            vmid = int(vm["vmid"])
            config = client.vm_config(node.pve_node, vmid)
            specs = vm_specs(config)
            guests.append(
                PveGuest(
                    vmid=vmid,
                    name=str(config.get("name") or vm.get("name") or f"VM {vmid}"),
                    power=str(vm.get("status") or "stopped"),
                    description=str(config.get("description") or ""),
                    cpu_cores=specs.cpu_cores,
                    memory_mib=specs.memory_mib,
                    disk_gib=specs.disk_gib,
                )
            )
    except PveError as exc:
        raise NodeConnectionError(_explain(node, exc)) from exc
    finally:
        client.close()
    return sorted(guests, key=lambda guest: guest.vmid)


def node_register(
    *,
    name: str,
    api_url: str,
    pve_node: str,
    token_id: str,
    token_secret: str,
    fingerprint_sha256: str = "",
    verify_tls: bool = True,
    vm_storage: str | None = None,
    backup_storage: str | None = None,
) -> Node:
    """Create the node called ``name`` or update it in place (idempotent).

    Values are normalised and validated as the admin form does; raises ValidationError.
    """
    values = {
        "api_url": normalise_api_url(api_url),
        "pve_node": pve_node,
        "token_id": normalise_token_id(token_id),
        "token_secret": token_secret,
        "verify_tls": verify_tls,
        "tls_fingerprint_sha256": normalise_fingerprint(fingerprint_sha256),
    }
    if not verify_tls and not values["tls_fingerprint_sha256"]:
        raise ValidationError({"verify_tls": MSG_TLS_OFF_WITHOUT_PIN})
    if vm_storage:
        values["vm_storage"] = vm_storage
    if backup_storage:
        values["backup_storage"] = backup_storage
    node = Node.objects.filter(name=name).first() or Node(name=name)
    for field, value in values.items():
        setattr(node, field, value)
    node.full_clean(exclude=["api_url"])  # normalise_api_url checked it (URLValidator wants a TLD)
    node.save()
    return node
