"""Staff's pages for nodes and templates. Thin: every PVE read goes through nodes.services."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from nodes.forms import NodeForm
from nodes.models import Node, Template
from nodes.services import (
    NodeConnectionError,
    node_check_after_save,
    node_sync_templates,
    node_test_connection,
)


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
        "last_check_error",
    )
    list_filter = ("is_enabled",)
    search_fields = ("name", "pve_node", "api_url")
    readonly_fields = (
        "pve_version",
        "cluster_name",
        "last_checked_at",
        "last_check_error",
        "created_at",
    )
    actions = ("test_connection", "sync_templates")
    fieldsets = (
        (None, {"fields": ("name", "location", "api_url", "pve_node", "is_enabled")}),
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
            {
                "fields": (
                    "last_check_error",
                    "pve_version",
                    "cluster_name",
                    "last_checked_at",
                    "created_at",
                )
            },
        ),
    )

    # The connection is checked on every save, in the request: two read-only GETs with a short
    # timeout, whose verdict staff need right there (a node that fails must not be offered for
    # new servers, and the form is where they fix it). A job would only add a queue and a poll.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        request._node_check_error = node_check_after_save(node=obj)

    def _refused(self, request, obj):
        """After a failed check: the form again, with why the node was disabled."""
        self.message_user(
            request,
            f"Node {obj.name} was saved but DISABLED: it failed the connection check, so it is "
            f"not offered for new servers. {request._node_check_error} Fix it and save again.",
            messages.ERROR,
        )
        return HttpResponseRedirect(reverse("admin:nodes_node_change", args=[obj.pk]))

    def response_add(self, request, obj, post_url_continue=None):
        if getattr(request, "_node_check_error", ""):
            return self._refused(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if getattr(request, "_node_check_error", ""):
            return self._refused(request, obj)
        return super().response_change(request, obj)

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
