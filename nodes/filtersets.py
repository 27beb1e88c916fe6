"""FilterSets shared by list pages and the API (NetBox style): one definition of each filter."""

import django_filters

from nodes.models import Node, Template


class NodeFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = Node
        fields = ["is_enabled", "pve_node"]

    def search(self, queryset, name, value):
        return queryset.filter(name__icontains=value) | queryset.filter(pve_node__icontains=value)


class TemplateFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")

    class Meta:
        model = Template
        fields = ["node", "os_family", "is_active"]
