"""Node reads."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from nodes.models import Node


def nodes_sharing_vmids(*, node: Node) -> QuerySet[Node]:
    """The nodes whose VMIDs ``node`` must not reuse: itself, the nodes of its PVE cluster, and
    every node whose cluster the panel does not know yet (it may be the same one).

    Clusters are told apart by name; two clusters of the same name count as one, which only
    costs VMIDs, never a collision.
    """
    same = Q(pk=node.pk) | Q(cluster_checked_at__isnull=True)
    if node.cluster_name:
        same |= Q(cluster_name=node.cluster_name)
    return Node.objects.filter(same)
