"""API shapes for servers. Specs and status are read-only: they hold what PVE confirmed, and
every change to them goes through an action that creates a job."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from nodes.models import Node, Template
from panel.models import SshKey
from panel.services import ssh_keys_text
from panel.validators import HOSTNAME_RE, MAX_DB_INT
from servers import services
from servers.models import POWER_ACTION_EFFECTS, Plan, PowerAction, Server


def _count(help_text: str, *, min_value: int = 1, required: bool = True, unit: str = ""):
    """A whole number field whose too-small message is the service's own ("Must be at least
    256 MiB."), so -1 and 1 are refused in the same words."""
    return serializers.IntegerField(
        min_value=min_value,
        max_value=MAX_DB_INT,
        required=required,
        help_text=help_text,
        error_messages={"min_value": f"Must be at least {min_value}{unit}."},
    )


class PlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = [
            "id",
            "name",
            "max_cpu_cores",
            "max_memory_mib",
            "max_disk_gib",
            "max_backups",
            "is_active",
        ]
        read_only_fields = fields


class PendingSpecsSerializer(serializers.Serializer):
    """What PVE keeps for the VM's next start (null: nothing waits)."""

    cpu_cores = serializers.IntegerField(
        source="pending_cpu_cores", allow_null=True, read_only=True
    )
    memory_mib = serializers.IntegerField(
        source="pending_memory_mib", allow_null=True, read_only=True
    )


STAFF_ONLY_SERVER_FIELDS = ("node", "node_name")


class ServerSerializer(serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(read_only=True)
    owner_username = serializers.CharField(source="owner.username", read_only=True)
    plan_name = serializers.CharField(source="plan.name", read_only=True)
    # Customers get null: a node's name and id are staff's (house rule).
    node_name = serializers.CharField(
        source="node.name", read_only=True, allow_null=True, help_text="Staff only (null)."
    )
    node = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Staff only (null)."
    )
    location = serializers.CharField(
        source="node.location", read_only=True, help_text="Where the server runs (e.g. a city)."
    )
    status_reason = serializers.CharField(
        read_only=True,
        help_text="Why the server is in its status: a plain sentence for customers; staff get "
        "PVE's text and the panel's reason.",
    )
    active_job = serializers.SerializerMethodField(
        help_text="URL of the job running on this server, if any; poll it."
    )
    pending = PendingSpecsSerializer(
        source="*",
        read_only=True,
        help_text="CPU cores and memory that take effect at the next restart (a running VM keeps "
        "what it cannot take live pending); cpu_cores and memory_mib are what it runs with now. "
        "A `reboot` power action applies them.",
    )

    class Meta:
        model = Server
        fields = [
            "id",
            "uuid",
            "name",
            "hostname",
            "owner",
            "owner_username",
            "plan",
            "plan_name",
            "node",
            "node_name",
            "location",
            "template",
            "vmid",
            "cpu_cores",
            "memory_mib",
            "disk_gib",
            "pending",
            "status",
            "status_reason",
            "is_suspended",
            "active_job",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, server: Server) -> dict:
        data = super().to_representation(server)
        request = self.context.get("request")
        if not getattr(getattr(request, "user", None), "is_staff", False):
            # Customers never see node names or PVE's text (house rule).
            for field in STAFF_ONLY_SERVER_FIELDS:
                data[field] = None
            data["status_reason"] = server.customer_status_reason
        return data

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_active_job(self, server: Server) -> str | None:
        job_id = getattr(server, "active_job_id", None)
        if job_id is None:
            return None
        return reverse("api:job-detail", kwargs={"pk": job_id}, request=self.context.get("request"))


@extend_schema_field(OpenApiTypes.INT)
class OwnersSshKeysField(serializers.PrimaryKeyRelatedField):
    """Ids of SSH keys of the server's owner (the `server` in the context); any other id is
    "does not exist", as another tenant's key must be."""

    def get_queryset(self):
        server = self.context.get("server")
        return SshKey.objects.owned_by(server.owner_id if server is not None else None)


class ServerCreateSerializer(serializers.Serializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        help_text="The customer (user id).",
    )
    plan = serializers.PrimaryKeyRelatedField(queryset=Plan.objects.filter(is_active=True))
    node = serializers.PrimaryKeyRelatedField(queryset=Node.objects.filter(is_enabled=True))
    template = serializers.PrimaryKeyRelatedField(queryset=Template.objects.filter(is_active=True))
    name = serializers.CharField(max_length=100)
    hostname = serializers.CharField(
        max_length=253, validators=[RegexValidator(HOSTNAME_RE, "Enter a valid hostname.")]
    )
    cpu_cores = _count("Virtual CPU cores.", unit=" core")
    memory_mib = _count("Memory in MiB.", min_value=services.MIN_MEMORY_MIB, unit=" MiB")
    disk_gib = _count("Boot disk size in GiB (at least the template's).", unit=" GiB")
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=128,
        style={"input_type": "password"},
        help_text="Root password set by cloud-init.",
    )
    ssh_keys = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=16384,
        help_text="Authorized SSH public keys, one a line.",
    )
    ssh_key_ids = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=SshKey.objects.all(),
        help_text="Ids of the owner's saved SSH keys to install too.",
    )
    vmid = serializers.IntegerField(
        required=False,
        min_value=100,
        max_value=999_999_999,
        help_text="Choose the PVE VMID; by default PVE's next free one.",
    )

    def validate(self, attrs):
        keys = attrs.pop("ssh_key_ids", [])
        if any(key.owner_id != attrs["owner"].pk for key in keys):
            raise serializers.ValidationError(
                {"ssh_key_ids": ["Only the owner's keys can be used."]}
            )
        attrs["ssh_keys"] = "\n".join(filter(None, [attrs.get("ssh_keys"), ssh_keys_text(keys)]))
        return attrs


class ResizeSerializer(serializers.Serializer):
    cpu_cores = _count("New number of CPU cores.", required=False, unit=" core")
    memory_mib = _count(
        "New memory in MiB.", required=False, min_value=services.MIN_MEMORY_MIB, unit=" MiB"
    )
    disk_gib = _count("New boot disk size in GiB; disks only grow.", required=False, unit=" GiB")
    restart = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Restart a running server at the end of the resize, so CPU and memory changes "
        "it cannot take live apply now instead of at its next restart.",
    )

    def validate(self, attrs):
        if not {"cpu_cores", "memory_mib", "disk_gib"} & set(attrs):
            raise serializers.ValidationError(
                "Give at least one of cpu_cores, memory_mib, disk_gib."
            )
        return attrs


class PowerSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=PowerAction.choices,
        help_text="; ".join(f"`{a}` {effect}" for a, effect in POWER_ACTION_EFFECTS.items()) + ".",
    )


class RebuildSerializer(serializers.Serializer):
    template = serializers.PrimaryKeyRelatedField(
        queryset=Template.objects.filter(is_active=True),
        help_text="Template id to reinstall from (see /api/v1/templates/).",
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=128,
        style={"input_type": "password"},
    )
    ssh_keys = serializers.ListField(
        child=OwnersSshKeysField(),
        required=False,
        help_text="Ids of the owner's SSH keys (see /api/v1/ssh-keys/) to install for root.",
    )


class ResetPasswordSerializer(serializers.Serializer):
    password = serializers.CharField(
        write_only=True,
        min_length=8,
        max_length=128,
        style={"input_type": "password"},
        help_text="The new root password (set through cloud-init).",
    )
