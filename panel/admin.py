"""Staff's pages for users, jobs and the audit log. Jobs and audit entries are read-only: their
rows are written by the engine and the services only; staff read what PVE said here."""

import functools
import json

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.html import format_html, format_html_join

from panel import jobs as job_services
from panel.account_adapter import signin_lock_clear
from panel.models import AuditEntry, Job, JobState, User
from panel.outcomes import admin_report, outcome_of


# Customers and staff are one model; `is_staff` separates them.
@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active")
    actions = ["unlock_sign_in"]

    @admin.action(description="Unlock sign-in after too many failed attempts")
    def unlock_sign_in(self, request, queryset):
        for user in queryset:
            signin_lock_clear(request=request, user=user)
        self.message_user(request, f"Sign-in unlocked for {queryset.count()} user(s).")


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in ("password", "secret", "token"))


def _pre(text: str):
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text or "-")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "kind",
        "state",
        "target_name",
        "server",
        "requested_by",
        "progress",
        "current_step",
        "attempts",
    )
    list_filter = ("state", "kind")
    search_fields = ("=id", "target_name", "upid", "error", "requested_by__username")
    list_select_related = ("server", "requested_by")
    date_hierarchy = "created_at"
    actions = ("retry_jobs",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "kind",
                    "state",
                    "server",
                    "target_name",
                    "owner",
                    "requested_by",
                    "progress",
                    "current_step",
                    "attempts",
                )
            },
        ),
        ("Input", {"fields": ("params_display",)}),
        ("Steps", {"fields": ("steps_display",)}),
        ("PVE", {"fields": ("upid", "upid_node", "task_log_display")}),
        ("Outcome", {"fields": ("error", "customer_error", "result_display", "traceback_display")}),
        ("Times", {"fields": ("created_at", "started_at", "finished_at", "heartbeat_at")}),
    )
    # Every field shown is read-only: a job is history, changed only by the engine.
    readonly_fields = flatten_fieldsets(fieldsets)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        # What a retry does again is the owning app's decision (panel.jobs.job_retry asks it).
        if not request.user.is_staff:
            actions.pop("retry_jobs", None)
        return actions

    @admin.display(description="parameters")
    def params_display(self, job: Job):
        # Secrets (even encrypted, even their keys' names) are never rendered; only whether one
        # was given.
        params, secrets = {}, []
        for key, value in (job.params or {}).items():
            if _is_secret(key):
                secrets.append(bool(value))
            else:
                params[key] = value
        text = json.dumps(params, indent=2, sort_keys=True, default=str)
        if any(secrets):
            text += "\nA root password was given; it is never shown."
        return _pre(text)

    @admin.display(description="steps")
    def steps_display(self, job: Job):
        rows = [
            (
                step.get("label") or step.get("name", ""),
                step.get("state", ""),
                step.get("upid", "") or "",
                step.get("started_at") or "",
                step.get("finished_at") or "",
                step.get("note", "") or "",
            )
            for step in (job.steps or [])
            if isinstance(step, dict)
        ]
        if not rows:
            return "-"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td>"
            "<td>{}</td></tr>",
            rows,
        )
        return format_html(
            "<table><thead><tr><th>Step</th><th>State</th><th>UPID</th><th>Started</th>"
            "<th>Finished</th><th>Note</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="PVE task log (tail)")
    def task_log_display(self, job: Job):
        return _pre(job.task_log)

    @admin.display(description="traceback")
    def traceback_display(self, job: Job):
        return _pre(job.traceback)

    @admin.display(description="result")
    def result_display(self, job: Job):
        return _pre(json.dumps(job.result or {}, indent=2, sort_keys=True, default=str))

    @admin.action(description="Retry failed jobs (where safe)")
    def retry_jobs(self, request, queryset):
        for job in queryset:
            if job.state != JobState.FAILED:
                self.message_user(
                    request, f"{job}: only failed jobs can be retried.", messages.WARNING
                )
                continue
            start = functools.partial(job_services.job_retry, job=job, user=request.user)
            admin_report(self, request, job, outcome_of(start), what="retry")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The activity log, everyone's, read-only: entries are written by services only."""

    list_display = ("created_at", "owner", "actor", "action", "object_repr", "channel", "ip")
    list_filter = ("action", "channel", "actor_is_staff")
    search_fields = ("object_repr", "actor__username", "owner__username", "action", "ip")
    list_select_related = ("actor", "owner", "job")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "owner",
        "actor",
        "actor_is_staff",
        "action",
        "server",
        "object_repr",
        "job",
        "channel",
        "ip",
        "token_name",
        "details",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
