"""Staff's pages for nodes and templates. Thin: every PVE read goes through nodes.services."""

from django.contrib import admin, messages

from nodes.forms import NodeForm
from nodes.models import Node, Template
from nodes.services import NodeConnectionError, node_sync_templates, node_test_connection


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    form = NodeForm
    list_display = (
        "name",
        "pve_node",
        "api_url",
        "is_enabled",
        "verify_tls",
        "pve_version",
        "last_checked_at",
    )
    list_filter = ("is_enabled",)
    search_fields = ("name", "pve_node", "api_url")
    readonly_fields = ("pve_version", "cluster_name", "last_checked_at", "created_at")
    actions = ("test_connection", "sync_templates")
    fieldsets = (
        (None, {"fields": ("name", "api_url", "pve_node", "is_enabled")}),
        ("API token", {"fields": ("token_id", "token_secret")}),
        ("TLS", {"fields": ("verify_tls", "tls_fingerprint_sha256")}),
        ("Storage", {"fields": ("vm_storage", "backup_storage")}),
        (
            "Capacity",
            {
                "fields": (
                    "max_vms",
                    "max_cpu_cores",
                    "max_memory_mib",
                    "max_disk_gib",
                    "max_concurrent_heavy_tasks",
                )
            },
        ),
        (
            "Last check",
            {"fields": ("pve_version", "cluster_name", "last_checked_at", "created_at")},
        ),
    )

    @admin.action(description="Test connection (GET /version)")
    def test_connection(self, request, queryset):
        for node in queryset:
            try:
                version = node_test_connection(node=node)
            except NodeConnectionError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Node {node.name}: connected, PVE version {version}.",
                    messages.SUCCESS,
                )

    @admin.action(description="Sync templates from PVE")
    def sync_templates(self, request, queryset):
        for node in queryset:
            try:
                result = node_sync_templates(node=node)
            except NodeConnectionError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request, f"Node {node.name}: templates {result}.", messages.SUCCESS
                )


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "node", "vmid", "os_family", "disk_gib", "is_active")
    list_filter = ("node", "is_active", "os_family")
    search_fields = ("name", "os_family")
    list_select_related = ("node",)

    def get_readonly_fields(self, request, obj=None):
        # Which PVE VM a template is, and its disk size, come from PVE (the sync), not from staff.
        if obj is not None:
            return ("node", "vmid", "disk_gib")
        return ()
