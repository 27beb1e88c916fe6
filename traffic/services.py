"""Sampling traffic: one ``/cluster/resources`` call per node reads the NIC counters of every VM
there; each server's delta since its last reading (``traffic.counting``) is added to its hour.

Runs in the worker (``traffic.tasks``, from beat); no database transaction is open while PVE is
called. Each server's reading is stored in one short transaction holding its counter row, so two
samplers running at once never count the same bytes twice (the older reading is dropped as stale).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from nodes.models import Node
from nodes.services import node_client
from proxmox.errors import PveError
from servers.models import Server
from traffic.counting import Delta, Reading, traffic_delta
from traffic.models import TrafficCounter, TrafficHour
from traffic.quota import traffic_quota_enforce

logger = logging.getLogger(__name__)

# The states in which PVE's counters mean what they say; "unknown" (the VM's node does not
# answer the cluster) carries stale or no numbers.
_KNOWN_STATES = ("running", "stopped")


@dataclass(frozen=True)
class NodeSample:
    node: Node
    deltas: dict[int, Delta]  # by server id
    error: str = ""


def _reading(entry: dict, read_at) -> Reading | None:
    if entry.get("status") not in _KNOWN_STATES:
        return None
    try:
        return Reading(
            pve_node=str(entry["node"]),
            netin=max(0, int(entry.get("netin") or 0)),
            netout=max(0, int(entry.get("netout") or 0)),
            uptime_s=max(0, int(entry.get("uptime") or 0)),
            read_at=read_at,
        )
    except (KeyError, TypeError, ValueError):
        return None


def traffic_sample_node(*, node: Node) -> NodeSample:
    """Read every VM's counters on ``node``'s cluster in one call and record the deltas of the
    servers placed on ``node``."""
    servers = list(Server.objects.filter(node=node, vmid__isnull=False))
    if not servers:
        return NodeSample(node=node, deltas={})
    client = node_client(node=node)
    try:
        resources = client.cluster_resources(type="vm")
    except PveError as exc:
        # The next sample takes the delta over the longer interval: counters are cumulative.
        logger.warning("traffic: could not read %s: %s", node, exc)
        return NodeSample(node=node, deltas={}, error=str(exc))
    finally:
        client.close()
    read_at = timezone.now()
    # VMIDs are unique in a cluster; a VM that migrated is found on its new node.
    by_vmid = {
        int(entry["vmid"]): entry
        for entry in resources
        if entry.get("type") == "qemu" and entry.get("vmid") is not None
    }
    deltas = {}
    for server in servers:
        entry = by_vmid.get(int(server.vmid))
        reading = _reading(entry, read_at) if entry is not None else None
        if reading is not None:
            deltas[server.pk] = traffic_record_reading(server=server, reading=reading)
    return NodeSample(node=node, deltas=deltas)


def traffic_record_reading(*, server: Server, reading: Reading) -> Delta:
    """Add what ``server`` moved since its last reading to the hour of ``reading``, and keep
    ``reading`` as the next baseline."""
    with transaction.atomic():
        counter = TrafficCounter.objects.select_for_update().filter(server=server).first()
        last = None
        if counter is not None:
            last = Reading(
                pve_node=counter.pve_node,
                netin=counter.netin_bytes,
                netout=counter.netout_bytes,
                uptime_s=counter.uptime_s,
                read_at=counter.read_at,
            )
        delta = traffic_delta(last, reading, max_bytes_per_s=settings.TRAFFIC_MAX_BYTES_PER_S)
        if not delta.counts:
            return delta
        if delta.how == "implausible":
            logger.warning(
                "traffic: %s read %s, after %s: more than any NIC moves; not counted",
                server,
                reading,
                last,
            )
        TrafficCounter.objects.update_or_create(
            server=server,
            defaults={
                "pve_node": reading.pve_node,
                "netin_bytes": reading.netin,
                "netout_bytes": reading.netout,
                "uptime_s": reading.uptime_s,
                "read_at": reading.read_at,
            },
        )
        if delta.in_bytes or delta.out_bytes:
            hour = reading.read_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            row, _ = TrafficHour.objects.get_or_create(server=server, hour=hour)
            TrafficHour.objects.filter(pk=row.pk).update(
                in_bytes=F("in_bytes") + delta.in_bytes,
                out_bytes=F("out_bytes") + delta.out_bytes,
            )
    return delta


def traffic_nodes_to_sample() -> list[int]:
    """The enabled nodes that have servers with a VM."""
    return list(
        Node.objects.filter(is_enabled=True, servers__vmid__isnull=False)
        .distinct()
        .values_list("pk", flat=True)
    )


def traffic_sample_and_enforce(*, node_id: int) -> NodeSample | None:
    """One node's sample (the beat's per-node task), then each sampled server's quota."""

    node = Node.objects.filter(pk=node_id, is_enabled=True).first()
    if node is None:
        return None
    sample = traffic_sample_node(node=node)
    for server in Server.objects.filter(pk__in=sample.deltas).select_related("owner", "plan"):
        traffic_quota_enforce(server=server)
    return sample
