"""Usage graphs through the cache: pages read it, the worker fills it. Pages never call PVE.

A page view asks for a server's (or node's) graph of one timeframe:

- cached and fresh: served as is;
- cached but older than the timeframe's lifetime: served as is (a graph a minute old is still
  worth showing) and a refresh is queued;
- not cached: "loading", a refresh is queued, the fragment polls;
- the last fetch failed: "unavailable" for a short while, then the next view tries again.

A refresh is one Celery task (``metrics.tasks.graph_refresh``) that reads ``rrddata`` from PVE and
caches the graph. ``cache.add`` on a lock key makes it one task per graph at a time, however many
people look: PVE sees one call per lifetime (on Redis ``add`` is atomic; the embedded file cache
is close enough for one machine). The lock expires by itself if a worker dies mid-fetch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.cache import cache
from kombu.exceptions import OperationalError

from metrics.graphs import NODE_CHARTS, TIMEFRAMES, VM_CHARTS, Chart, graph_from_rows
from nodes.models import Node
from nodes.services import node_client
from proxmox.errors import PveError
from servers.models import Server

logger = logging.getLogger(__name__)

# A served graph is kept this many lifetimes, so a refresh in flight never leaves a page blank.
KEEP_STALE_LIFETIMES = 10
# After a failed fetch, how long pages say "unavailable" before a view asks PVE again.
UNAVAILABLE_S = 30
# One refresh per graph at a time; longer than the fetch can take (read timeout below).
REFRESH_LOCK_S = 60
REFRESH_READ_TIMEOUT_S = 20.0
VM, NODE = "vm", "node"


@dataclass(frozen=True)
class GraphSubject:
    """What a graph is of: a VM (node + vmid) or a node. Keyed by PVE's identity, so a server
    that moves to another node starts a new graph."""

    kind: str
    node_id: int
    vmid: int | None = None

    @property
    def charts(self) -> tuple[Chart, ...]:
        return VM_CHARTS if self.kind == VM else NODE_CHARTS

    def cache_key(self, timeframe: str) -> str:
        return f"metrics:graph:{self.kind}:{self.node_id}:{self.vmid or '-'}:{timeframe}"


@dataclass
class Graph:
    state: str  # ready | loading | unavailable | empty (no VM yet)
    charts: tuple[Chart, ...]
    data: dict = field(default_factory=dict)  # graph_from_rows' result when ready
    fetched_at: datetime | None = None
    reason: str = ""  # PVE's text when unavailable (staff only)

    @property
    def ready(self) -> bool:
        return self.state == "ready"


def _subject_of_server(server: Server) -> GraphSubject:
    return GraphSubject(kind=VM, node_id=server.node_id, vmid=server.vmid)


def server_graph(*, server: Server, timeframe: str) -> Graph:
    """The server's graph for ``timeframe`` from the cache; queues a refresh when needed."""
    if server.vmid is None:  # no VM on PVE yet (its clone has not started): nothing to ask
        return Graph(state="empty", charts=VM_CHARTS)
    return _graph(_subject_of_server(server), timeframe)


def node_graph(*, node: Node, timeframe: str) -> Graph:
    return _graph(GraphSubject(kind=NODE, node_id=node.pk), timeframe)


def _graph(subject: GraphSubject, timeframe: str) -> Graph:
    entry = cache.get(subject.cache_key(timeframe))
    if entry is None:
        _queue_refresh(subject, timeframe)
        return Graph(state="loading", charts=subject.charts)
    fetched_at = datetime.fromtimestamp(entry["fetched_at"], tz=UTC)
    if entry.get("unavailable"):
        return Graph(
            state="unavailable",
            charts=subject.charts,
            fetched_at=fetched_at,
            reason=entry.get("reason", ""),
        )
    if time.time() - entry["fetched_at"] >= TIMEFRAMES[timeframe].fresh_s:
        _queue_refresh(subject, timeframe)
    return Graph(state="ready", charts=subject.charts, data=entry["graph"], fetched_at=fetched_at)


def _lock_key(subject: GraphSubject, timeframe: str) -> str:
    return subject.cache_key(timeframe) + ":refreshing"


def _queue_refresh(subject: GraphSubject, timeframe: str) -> None:
    if not cache.add(_lock_key(subject, timeframe), 1, timeout=REFRESH_LOCK_S):
        return  # a refresh is already on its way
    from metrics.tasks import graph_refresh

    try:
        graph_refresh.delay(subject.kind, subject.node_id, subject.vmid, timeframe)
    except OperationalError:
        # No broker: say so in the log; the page keeps saying "loading" and the next view tries.
        logger.exception("could not queue the graph refresh of %s %s", subject, timeframe)
        cache.delete(_lock_key(subject, timeframe))


def graph_refresh(*, kind: str, node_id: int, vmid: int | None, timeframe: str) -> None:
    """Worker side: read ``rrddata`` from PVE and cache the graph (or "unavailable")."""
    subject = GraphSubject(kind=kind, node_id=node_id, vmid=vmid)
    key = subject.cache_key(timeframe)
    try:
        node = Node.objects.filter(pk=node_id).first()
        if node is None:
            return
        client = node_client(node=node, read_timeout_s=REFRESH_READ_TIMEOUT_S)
        try:
            if kind == VM:
                rows = client.vm_rrddata(node.pve_node, vmid, timeframe=timeframe)
            else:
                rows = client.node_rrddata(node.pve_node, timeframe=timeframe)
        except PveError as exc:
            logger.warning("graph of %s %s unavailable: %s", subject, timeframe, exc)
            entry = {"unavailable": True, "reason": str(exc), "fetched_at": time.time()}
            cache.set(key, entry, timeout=UNAVAILABLE_S)
            return
        finally:
            client.close()
        graph = graph_from_rows(rows or [], subject.charts)
        lifetime = TIMEFRAMES[timeframe].fresh_s
        entry = {"graph": graph, "fetched_at": time.time()}
        cache.set(key, entry, timeout=lifetime * KEEP_STALE_LIFETIMES)
    finally:
        cache.delete(_lock_key(subject, timeframe))
