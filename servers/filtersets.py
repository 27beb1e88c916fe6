"""One FilterSet for the server list, shared by the web UI and the REST API (NetBox style)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from nodes.models import Node
from servers.models import Server, ServerStatus


def nodes_for_filter(request) -> QuerySet[Node]:
    """Staff choose among every node; a customer only among the nodes their servers are on."""
    user = getattr(request, "user", None)
    if user is None or user.is_staff:
        return Node.objects.all()
    return Node.objects.filter(pk__in=Server.objects.restrict(user).values("node"))


def customer_location_label(node: Node) -> str:
    return node.location or "Unnamed location"


class ServerFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search", label="Search", help_text="Part of the name or hostname."
    )
    status = django_filters.ChoiceFilter(choices=ServerStatus.choices, empty_label="Any status")
    node = django_filters.ModelChoiceFilter(
        queryset=nodes_for_filter, label="Location", empty_label="Any location"
    )
    is_suspended = django_filters.BooleanFilter(label="Suspended")
    ordering = django_filters.OrderingFilter(
        fields=(
            ("name", "name"),
            ("hostname", "hostname"),
            ("status", "status"),
            ("created_at", "created_at"),
            ("owner__username", "owner"),
        ),
    )

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        user = getattr(request, "user", None)
        if not getattr(user, "is_staff", False):
            # A customer picks a location; a node's name is never shown to them.
            self.filters["node"].field.label_from_instance = customer_location_label

    class Meta:
        model = Server
        fields = ["q", "status", "node", "is_suspended"]

    def search(self, queryset: QuerySet[Server], name: str, value: str) -> QuerySet[Server]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(hostname__icontains=value))
