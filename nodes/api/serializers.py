from __future__ import annotations

from rest_framework import serializers

from nodes.models import Node, Template
from panel.validators import MAX_DB_INT

MAX_DB_SMALLINT = 2**15 - 1


class NodeSerializer(serializers.ModelSerializer):
    """The token secret is write-only: accepted, stored encrypted, never returned."""

    token_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=512,
        help_text="Write-only. Required on create; on update leave it out to keep the stored one.",
    )
    has_token_secret = serializers.SerializerMethodField()

    class Meta:
        model = Node
        fields = [
            "id",
            "name",
            "api_url",
            "pve_node",
            "token_id",
            "token_secret",
            "has_token_secret",
            "verify_tls",
            "tls_fingerprint_sha256",
            "vm_storage",
            "backup_storage",
            "max_vms",
            "max_cpu_cores",
            "max_memory_mib",
            "max_disk_gib",
            "max_concurrent_heavy_tasks",
            "is_enabled",
            "pve_version",
            "last_checked_at",
            "created_at",
        ]
        read_only_fields = ["id", "pve_version", "last_checked_at", "created_at"]
        extra_kwargs = {
            # Format checks (https, token id, fingerprint) are the node form's; keep URL as text
            # here so "pve1:8006" gets the form's helpful message instead of a generic one.
            "api_url": {"max_length": 200},
            "max_vms": {"max_value": MAX_DB_INT},
            "max_cpu_cores": {"max_value": MAX_DB_INT},
            "max_memory_mib": {"max_value": MAX_DB_INT},
            "max_disk_gib": {"max_value": MAX_DB_INT},
            "max_concurrent_heavy_tasks": {"max_value": MAX_DB_SMALLINT, "min_value": 1},
        }

    def build_field(self, field_name, info, model_class, nested_depth):
        field_class, kwargs = super().build_field(field_name, info, model_class, nested_depth)
        if field_name == "api_url":
            field_class = serializers.CharField
            kwargs.pop("validators", None)
        if field_name in ("pve_node", "token_id", "tls_fingerprint_sha256"):
            kwargs.pop("validators", None)  # the form checks (and normalises) these
        return field_class, kwargs

    def get_has_token_secret(self, node: Node) -> bool:
        return bool(node.token_secret)


class TemplateSerializer(serializers.ModelSerializer):
    node_name = serializers.CharField(source="node.name", read_only=True)

    class Meta:
        model = Template
        fields = ["id", "name", "os_family", "node", "node_name", "vmid", "disk_gib", "is_active"]
        read_only_fields = fields
