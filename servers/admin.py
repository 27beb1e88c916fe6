"""Staff's pages for plans and servers.

The server change form never writes what PVE has not confirmed: specs, vmid, node and status are
read-only here, and every change to them is an action that calls a service, which records a Job
and queues the work. Nothing in this module talks to PVE.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from panel.outcomes import admin_report, outcome_of
from panel.services import ssh_keys_text
from servers import services
from servers.forms import OrderServerForm, RebuildForm, StaffResizeForm, add_service_errors
from servers.models import Plan, PowerAction, Server

# Admin's own widget classes (its forms.css sizes fields by them), for the forms made here.
_ADMIN_WIDGET_CLASSES = (
    (forms.NumberInput, "vIntegerField"),
    (forms.Textarea, "vLargeTextField"),
    (forms.TextInput, "vTextField"),
    (forms.PasswordInput, "vTextField"),
)


def _admin_styled(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        for widget_class, css_class in _ADMIN_WIDGET_CLASSES:
            if isinstance(field.widget, widget_class):
                field.widget.attrs.setdefault("class", css_class)
                break
    return form


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "max_cpu_cores",
        "max_memory_mib",
        "max_disk_gib",
        "max_backups",
        "is_active",
    )
    list_filter = ("is_active",)
    search_fields = ("name",)


class ServerAdminForm(forms.ModelForm):
    class Meta:
        model = Server
        fields = ["name", "owner", "plan"]


# Fields that mirror PVE (or the panel's bookkeeping of it): shown, never edited here.
PVE_OWNED_FIELDS = (
    "jobs",
    "uuid",
    "node",
    "vmid",
    "template",
    "hostname",
    "cpu_cores",
    "memory_mib",
    "disk_gib",
    "pending_cpu_cores",
    "pending_memory_mib",
    "status",
    "status_reason",
    "is_suspended",
    "created_at",
    "updated_at",
)


def _power_admin_action(action: PowerAction):
    """The admin action `power_<action>`, one per power action, labelled as everywhere else."""

    def run(modeladmin, request, queryset):
        modeladmin._run_each(request, queryset, services.server_power, action=action.value)

    run.__name__ = f"power_{action.value}"
    return admin.action(description=f"Power: {action.label.lower()}")(run)


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    form = ServerAdminForm
    list_display = (
        "name",
        "owner",
        "node",
        "vmid",
        "status",
        "suspended",
        "specs",
    )
    list_filter = (
        "node",
        "status",
        ("owner", admin.RelatedOnlyFieldListFilter),
        "is_suspended",
    )
    search_fields = ("name", "hostname", "=vmid", "owner__username")
    list_select_related = ("owner", "node", "plan")
    readonly_fields = PVE_OWNED_FIELDS
    fieldsets = (
        (None, {"fields": ("name", "owner", "plan")}),
        (
            "On PVE (changed only through actions)",
            {
                "fields": (
                    "uuid",
                    "node",
                    "vmid",
                    "template",
                    "hostname",
                    ("cpu_cores", "memory_mib", "disk_gib"),
                    ("pending_cpu_cores", "pending_memory_mib"),
                    "status",
                    "status_reason",
                    "is_suspended",
                )
            },
        ),
        ("Jobs", {"fields": ("jobs",)}),
        ("Times", {"fields": ("created_at", "updated_at")}),
    )
    actions = (
        "resize_server",
        *(_power_admin_action(action) for action in PowerAction),
        "suspend_servers",
        "unsuspend_servers",
        "rebuild_server",
        "sync_servers",
        "delete_servers",
    )

    # A server is created by a job and deleted by one: the admin's plain add and delete would
    # write around PVE. Adding is offered (to holders of servers.add_server) by `add_view`, which
    # orders the server through the service; deleting only by the "Delete on PVE" action.
    # (`has_add_permission` is Django's own: staff holding servers.add_server.)
    def add_view(self, request, form_url="", extra_context=None):
        """Order a new server: `services.server_create` checks it, records the server
        (provisioning) and queues the create job; the worker, not this request, talks to PVE."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = OrderServerForm(request.POST)
            if form.is_valid():
                outcome = outcome_of(
                    lambda: services.server_create(requested_by=request.user, **form.order())
                )
                if outcome.refused is not None:
                    raise outcome.refused
                if outcome.invalid is not None:
                    add_service_errors(form, outcome.invalid)
                else:
                    job = outcome.job
                    server = job.server
                    self.message_user(
                        request,
                        format_html(
                            'Server {} is being created (job <a href="{}">#{}</a>).',
                            server,
                            reverse("admin:panel_job_change", args=[job.pk]),
                            job.pk,
                        ),
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:servers_server_change", args=[server.pk])
                    )
        else:
            form = OrderServerForm(initial=request.GET.dict() if request.GET else None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Add server",
            "opts": self.model._meta,
            "form": _admin_styled(form),
            "submit_label": "Create server",
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/servers/server/add_form.html", context)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            return {}
        return actions

    @admin.display(description="suspended", boolean=True, ordering="is_suspended")
    def suspended(self, server: Server) -> bool:
        return server.is_suspended

    @admin.display(description="specs (confirmed by PVE)")
    def specs(self, server: Server) -> str:
        if not server.cpu_cores:
            return "—"  # nothing confirmed by PVE yet: the ordered specs are on the create job
        specs = f"{server.cpu_cores} cores, {server.memory_mib} MiB, {server.disk_gib} GiB"
        pending = server.pending_changes
        if pending:
            waits = ", ".join(
                f"{value} cores" if field == "cpu_cores" else f"{value} MiB"
                for field, value in pending.items()
            )
            specs += f" ({waits} at the next restart)"
        return specs

    @admin.display(description="recent jobs")
    def jobs(self, server: Server):
        recent = list(server.jobs.order_by("-created_at")[:10])
        if not recent:
            return "-"
        rows = format_html_join(
            "",
            '<li><a href="{}">{}</a>: {} ({})</li>',
            (
                (
                    reverse("admin:panel_job_change", args=[job.pk]),
                    job.get_kind_display(),
                    job.get_state_display(),
                    job.created_at.strftime("%Y-%m-%d %H:%M"),
                )
                for job in recent
            ),
        )
        all_url = reverse("admin:panel_job_changelist") + f"?server__id__exact={server.pk}"
        return format_html('<ul>{}</ul><a href="{}">All jobs of this server</a>', rows, all_url)

    # --- helpers ----------------------------------------------------------------------------

    def _run_each(self, request, queryset, service, **kwargs) -> None:
        """Call `service` for each selected server; one refusal does not stop the others."""
        for server in queryset:
            outcome = outcome_of(
                lambda server=server: service(server=server, user=request.user, **kwargs)
            )
            admin_report(self, request, server, outcome)

    def _single(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one server for this action.", messages.ERROR)
            return None
        return queryset.get()

    def _form_page(self, request, *, server, form, action, title, submit, warning=""):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "server": server,
            "form": _admin_styled(form),
            "action": action,
            "submit_label": submit,
            "warning": warning,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "selected": [server.pk],
        }
        return TemplateResponse(request, "admin/servers/server/action_form.html", context)

    # --- actions ----------------------------------------------------------------------------

    def _form_action(self, request, queryset, *, form_class, start, action, title, submit, **page):
        """One server, a form, then `start(server, form)` creating the job: the shared flow of the
        actions that need input. Refusals from the service show on the form."""
        server = self._single(request, queryset)
        if server is None:
            return None
        if "apply" not in request.POST:
            form = form_class(server=server)
        else:
            form = form_class(request.POST, server=server)
            if form.is_valid():
                outcome = outcome_of(lambda: start(server, form))
                if outcome.invalid is None:
                    admin_report(self, request, server, outcome)
                    return None
                add_service_errors(form, outcome.invalid)
        return self._form_page(
            request,
            server=server,
            form=form,
            action=action,
            title=title(server),
            submit=submit,
            **page,
        )

    @admin.action(description="Resize (CPU, memory, disk)…")
    def resize_server(self, request, queryset):
        return self._form_action(
            request,
            queryset,
            form_class=StaffResizeForm,
            start=lambda server, form: services.server_resize(
                server=server,
                user=request.user,
                beyond_plan=form.cleaned_data["beyond_plan"],
                **form.changes(),
            ),
            action="resize_server",
            title=lambda server: f"Resize {server}",
            submit="Resize",
        )

    @admin.action(description="Rebuild from a template…")
    def rebuild_server(self, request, queryset):
        return self._form_action(
            request,
            queryset,
            form_class=RebuildForm,
            start=lambda server, form: services.server_rebuild(
                server=server,
                user=request.user,
                template=form.cleaned_data["template"],
                password=form.cleaned_data.get("password") or "",
                ssh_keys=ssh_keys_text(form.cleaned_data.get("ssh_keys") or ()),
            ),
            action="rebuild_server",
            title=lambda server: f"Rebuild {server}",
            submit="Rebuild",
            warning="Rebuilding erases everything on the server's disk.",
        )

    @admin.action(description="Delete on PVE…")
    def delete_servers(self, request, queryset):
        if "apply" in request.POST:
            self._run_each(request, queryset, services.server_delete)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Delete servers on PVE",
            "opts": self.model._meta,
            "servers": list(queryset),
            "action": "delete_servers",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/servers/server/delete_confirmation.html", context)

    @admin.action(description="Suspend (stop, owner locked out)")
    def suspend_servers(self, request, queryset):
        self._run_each(request, queryset, services.server_suspend)

    @admin.action(description="Unsuspend")
    def unsuspend_servers(self, request, queryset):
        self._run_each(request, queryset, services.server_unsuspend)

    @admin.action(description="Sync from PVE (read config, flag drift)")
    def sync_servers(self, request, queryset):
        self._run_each(request, queryset, services.server_sync)
