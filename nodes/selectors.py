"""Reads of nodes and templates, one queryset each for every caller (UI, API, services)."""

from django.db.models import QuerySet

from nodes.models import Node, Template


def nodes_enabled() -> QuerySet[Node]:
    """Nodes new servers may be placed on."""
    return Node.objects.filter(is_enabled=True)


def templates_available(*, node: Node | None = None) -> QuerySet[Template]:
    """Active templates on enabled nodes (or one node's): what a server may be cloned from."""
    templates = Template.objects.filter(is_active=True, node__is_enabled=True)
    templates = templates.select_related("node")
    if node is not None:
        templates = templates.filter(node=node)
    return templates
