"""Customer pages for servers. Thin: forms check the input, services do the work (their outcome
answered through ``panel.outcomes``), selectors decide what a user may see (another customer's
server is a 404, never a 403).

Every action works as a plain POST that redirects back to the page (no JavaScript needed); with
htmx the same URL answers with a fragment: the job's progress panel, or the form with its errors.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from panel.htmx import JOB_STARTED_EVENT, is_htmx, login_required, render_fragment, trigger
from panel.models import Job
from panel.outcomes import Outcome, outcome_of
from panel.selectors import jobs_for_user
from panel.services import ssh_keys_text
from servers import services
from servers.filtersets import ServerFilterSet
from servers.forms import (
    POWER_CONFIRMATIONS,
    PowerForm,
    RebuildForm,
    ResetPasswordForm,
    ResizeForm,
    add_service_errors,
)
from servers.models import PowerAction, Server, ServerStatus
from servers.selectors import server_ordered_specs, servers_for_user
from servers.tables import ServerTable

DETAIL_TEMPLATE = "servers/server_detail.html"
JOB_HISTORY_LENGTH = 10

# Which power buttons make sense in which state; an unknown state (error) offers them all.
POWER_ACTIONS_BY_STATUS = {
    ServerStatus.RUNNING: (PowerAction.SHUTDOWN, PowerAction.REBOOT, PowerAction.STOP),
    ServerStatus.STOPPED: (PowerAction.START,),
}
# While one of these lasts, a job owns the VM: no power buttons are offered.
BUSY_STATUSES = (
    ServerStatus.PROVISIONING,
    ServerStatus.RESIZING,
    ServerStatus.REBUILDING,
    ServerStatus.DELETING,
)


def _server_or_404(request: HttpRequest, pk: int) -> Server:
    queryset = servers_for_user(user=request.user).select_related("node", "plan", "template")
    return get_object_or_404(queryset, pk=pk)


def _server_jobs(request: HttpRequest, server: Server):
    return jobs_for_user(user=request.user).filter(server=server)


def _active_job(request: HttpRequest, server: Server) -> Job | None:
    return _server_jobs(request, server).active().first()


def _power_buttons(server: Server) -> list[dict]:
    allowed = POWER_ACTIONS_BY_STATUS.get(server.status)
    if server.is_suspended:
        allowed = ()
    buttons = []
    for action, label in PowerAction.choices:
        if allowed is not None and action not in allowed:
            continue
        confirmation = POWER_CONFIRMATIONS.get(action, "").format(name=server.name)
        buttons.append({"action": action, "label": label, "confirmation": confirmation})
    return buttons


def _status_context(server: Server, active_job: Job | None) -> dict:
    busy = not server.is_suspended and (active_job is not None or server.status in BUSY_STATUSES)
    power_buttons = [] if busy else _power_buttons(server)
    return {
        "server": server,
        "ordered": server_ordered_specs(server=server),
        "power_buttons": power_buttons,
        # A reboot applies what PVE keeps for the next start (the page offers it as such).
        "restart_button": next(
            (b for b in power_buttons if b["action"] == PowerAction.REBOOT), None
        ),
        "busy": busy,
    }


def _detail_context(request: HttpRequest, server: Server, **overrides) -> dict:
    active_job = _active_job(request, server)
    context = {
        **_status_context(server, active_job),
        "resize_form": ResizeForm(server=server),
        "rebuild_form": RebuildForm(server=server),
        "reset_password_form": ResetPasswordForm(),
        "active_job": active_job,
        "jobs": _server_jobs(request, server)[:JOB_HISTORY_LENGTH],
    }
    context.update(overrides)
    return context


@login_required
@require_GET
def server_list(request: HttpRequest) -> HttpResponse:
    servers = servers_for_user(user=request.user).select_related("node", "owner")
    filterset = ServerFilterSet(request.GET or None, queryset=servers, request=request)
    filtered = filterset.qs
    return render(
        request,
        "servers/server_list.html",
        {
            "filterset": filterset,
            "table": ServerTable(filtered, params=request.GET, staff=request.user.is_staff),
            "has_servers": servers.exists(),
            "is_filtered": any(value for value in request.GET.values()),
        },
    )


@login_required
@require_GET
def server_detail(request: HttpRequest, pk: int) -> HttpResponse:
    server = _server_or_404(request, pk)
    return render(request, DETAIL_TEMPLATE, _detail_context(request, server))


@login_required
@require_GET
def server_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The specs, status and power buttons block, refreshed when a job starts or ends."""
    server = _server_or_404(request, pk)
    if not is_htmx(request):
        return redirect("servers:detail", pk=server.pk)
    context = _status_context(server, _active_job(request, server))
    return render_fragment(request, DETAIL_TEMPLATE, "server-status", context)


@login_required
@require_GET
def server_jobs(request: HttpRequest, pk: int) -> HttpResponse:
    """The job history block, refreshed when a job starts or ends."""
    server = _server_or_404(request, pk)
    if not is_htmx(request):
        return redirect("servers:detail", pk=server.pk)
    context = {"server": server, "jobs": _server_jobs(request, server)[:JOB_HISTORY_LENGTH]}
    return render_fragment(request, DETAIL_TEMPLATE, "server-jobs", context)


def _job_started(
    request: HttpRequest, server: Server, job: Job, message: str, *, reset: tuple = ()
) -> HttpResponse:
    """The job's panel; `reset` = (form_name, fresh form) also swaps that form back to empty
    (out of band), so a destructive form is never left armed for a second click."""
    if is_htmx(request):
        response = render_fragment(request, "panel/job.html", "job-panel", {"job": job})
        if reset:
            form_name, form = reset
            context = {"server": server, form_name: form, "oob": True}
            fresh = render_fragment(request, DETAIL_TEMPLATE, _fragment_name(form_name), context)
            response.content += fresh.content
        return trigger(response, JOB_STARTED_EVENT)
    messages.success(request, message)
    return redirect("servers:detail", pk=server.pk)


def _conflict(
    request: HttpRequest, server: Server, outcome: Outcome, *, form_name: str, form
) -> HttpResponse:
    active_job = outcome.active_job
    message = outcome.refusal
    if is_htmx(request):
        # Shown where the job panel goes, with the running job's own (polling) panel under it.
        context = {"server": server, "conflict_message": message, "active_job": active_job}
        response = render_fragment(request, DETAIL_TEMPLATE, "job-conflict", context)
        return retarget(reswap(response, "innerHTML"), "#job-area")
    # Without JavaScript: the page again, the input kept, the message on top.
    context = _detail_context(request, server, conflict_message=message, **{form_name: form})
    return render(request, DETAIL_TEMPLATE, context, status=409)


def _fragment_name(form_name: str) -> str:
    """rebuild_form -> rebuild-form: the partial (and element id) that renders the form."""
    return form_name.removesuffix("_form").replace("_", "-") + "-form"


def _invalid(request: HttpRequest, server: Server, *, form_name: str, form) -> HttpResponse:
    if is_htmx(request):
        fragment = _fragment_name(form_name)
        response = render_fragment(
            request, DETAIL_TEMPLATE, fragment, {"server": server, form_name: form}
        )
        return retarget(reswap(response, "outerHTML"), f"#{fragment}")
    return render(request, DETAIL_TEMPLATE, _detail_context(request, server, **{form_name: form}))


def _submit(request, server, *, form, form_name, start, message, fresh_form=None) -> HttpResponse:
    """Validate, call the service, answer with the job, the errors, or the conflict."""
    if form.is_valid():
        outcome = outcome_of(lambda: start(form.cleaned_data))
        if outcome.refused is not None:
            raise outcome.refused  # Django's 403 page
        if outcome.conflict is not None:
            return _conflict(request, server, outcome, form_name=form_name, form=form)
        if outcome.job is not None:
            reset = (form_name, fresh_form()) if fresh_form else ()
            return _job_started(request, server, outcome.job, message, reset=reset)
        add_service_errors(form, outcome.invalid)
    return _invalid(request, server, form_name=form_name, form=form)


@login_required
@require_http_methods(["GET", "POST"])
def server_resize(request: HttpRequest, pk: int) -> HttpResponse:
    server = _server_or_404(request, pk)
    if request.method == "GET":
        # htmx refreshes the form (new current values) after a job; a browser gets the page.
        if is_htmx(request):
            context = {"server": server, "resize_form": ResizeForm(server=server)}
            return render_fragment(request, DETAIL_TEMPLATE, "resize-form", context)
        return redirect("servers:detail", pk=server.pk)
    form = ResizeForm(request.POST, server=server)
    return _submit(
        request,
        server,
        form=form,
        form_name="resize_form",
        start=lambda data: services.server_resize(
            server=server, user=request.user, restart=data.get("restart", False), **form.changes()
        ),
        message="Resize started.",
    )


@login_required
@require_POST
def server_power(request: HttpRequest, pk: int) -> HttpResponse:
    server = _server_or_404(request, pk)
    form = PowerForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown power action.")
        return redirect("servers:detail", pk=server.pk)
    action = form.cleaned_data["action"]
    if form.needs_confirmation:
        # Reached without the browser's confirm dialog (no JavaScript): ask on a page of its own.
        context = {
            "server": server,
            "action": action,
            "label": PowerAction(action).label,
            "confirmation": POWER_CONFIRMATIONS[action].format(name=server.name),
        }
        if is_htmx(request):
            response = render_fragment(
                request, "servers/server_power_confirm.html", "confirm", context
            )
            return retarget(reswap(response, "innerHTML"), "#job-area")
        return render(request, "servers/server_power_confirm.html", context)
    outcome = outcome_of(
        lambda: services.server_power(server=server, user=request.user, action=action)
    )
    if outcome.refused is not None:
        raise outcome.refused  # Django's 403 page
    if outcome.conflict is not None:
        return _conflict(request, server, outcome, form_name="power_form", form=form)
    if outcome.invalid is not None:
        text = outcome.refusal
        if is_htmx(request):
            context = {"server": server, "conflict_message": text}
            response = render_fragment(request, DETAIL_TEMPLATE, "job-conflict", context)
            return retarget(reswap(response, "innerHTML"), "#job-area")
        messages.error(request, text)
        return redirect("servers:detail", pk=server.pk)
    return _job_started(request, server, outcome.job, f"{PowerAction(action).label} requested.")


@login_required
@require_POST
def server_rebuild(request: HttpRequest, pk: int) -> HttpResponse:
    server = _server_or_404(request, pk)
    form = RebuildForm(request.POST, server=server)
    return _submit(
        request,
        server,
        form=form,
        form_name="rebuild_form",
        start=lambda data: services.server_rebuild(
            server=server,
            user=request.user,
            template=data["template"],
            password=data["password"],
            ssh_keys=ssh_keys_text(data["ssh_keys"]),
        ),
        message="Rebuild started.",
        fresh_form=lambda: RebuildForm(server=server),
    )


@login_required
@require_POST
def server_reset_password(request: HttpRequest, pk: int) -> HttpResponse:
    server = _server_or_404(request, pk)
    form = ResetPasswordForm(request.POST)
    return _submit(
        request,
        server,
        form=form,
        form_name="reset_password_form",
        start=lambda data: services.server_reset_password(
            server=server, user=request.user, password=data["password"]
        ),
        message="Password reset started.",
        fresh_form=lambda: ResetPasswordForm(),
    )
