from __future__ import annotations

from django.forms.models import model_to_dict
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, permissions, viewsets

from nodes.api.serializers import NodeSerializer, TemplateSerializer
from nodes.forms import NodeForm
from nodes.models import Node, Template
from panel.api.auth import TokenScopePermission
from panel.api.schema import PROTECTED
from panel.api.views import PanelViewSetMixin


@extend_schema_view(
    list=extend_schema(summary="List nodes (staff)"),
    retrieve=extend_schema(summary="Get a node (staff)"),
    create=extend_schema(summary="Register a node (staff)"),
    update=extend_schema(summary="Replace a node's settings (staff)"),
    partial_update=extend_schema(summary="Change a node's settings (staff)"),
    destroy=extend_schema(
        summary="Remove a node (staff)",
        description="Refused with 409 while servers are placed on it.",
        responses={204: None, 409: PROTECTED},
    ),
)
class NodeViewSet(PanelViewSetMixin, viewsets.ModelViewSet):
    """PVE nodes. Writes go through the same form as the admin, so both store the same
    canonical values and the secret stays write-only."""

    serializer_class = NodeSerializer
    permission_classes = [permissions.IsAdminUser, TokenScopePermission]
    queryset = Node.objects.all()
    lookup_value_regex = "[0-9]+"

    def _save_through_form(self, serializer, instance=None):
        # Omitted fields keep their stored (or default) values; the form sees a complete node.
        data = model_to_dict(instance or Node(), fields=NodeForm._meta.fields)
        data.update(serializer.validated_data)
        form = NodeForm(data=data, instance=instance)
        if not form.is_valid():
            raise exceptions.ValidationError(
                {
                    field: [error["message"] for error in errors]
                    for field, errors in form.errors.get_json_data().items()
                }
            )
        serializer.instance = form.save()

    def perform_create(self, serializer):
        self._save_through_form(serializer)

    def perform_update(self, serializer):
        self._save_through_form(serializer, instance=serializer.instance)


@extend_schema_view(
    list=extend_schema(
        summary="List templates",
        description="Templates servers are built from (customers: active ones).",
    ),
    retrieve=extend_schema(summary="Get a template"),
)
class TemplateViewSet(PanelViewSetMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = TemplateSerializer
    lookup_value_regex = "[0-9]+"
    filterset_fields = ["node"]

    def get_queryset(self):
        templates = Template.objects.select_related("node")
        return templates if self.request.user.is_staff else templates.filter(is_active=True)
