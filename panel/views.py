"""The shell: dashboard, job pages and the job-progress poll. Auth pages are Django's own views
(wired in panel/urls.py) with the templates in templates/registration/."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from panel import services
from panel.filtersets import JobFilterSet
from panel.forms import SshKeyForm
from panel.htmx import (
    JOB_FINISHED_EVENT,
    JOB_STATE_CHANGED_EVENT,
    is_htmx,
    login_required,
    render_fragment,
    stop_polling,
    trigger,
)
from panel.selectors import jobs_for_user, ssh_keys_for_user
from servers.forms import add_service_errors

JOB_LIST_LENGTH = 50


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return redirect("servers:list")


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    # ?server=, ?state=, ?kind= as in the API; a value that does not parse is ignored.
    jobs = JobFilterSet(request.GET or None, queryset=jobs_for_user(user=request.user)).qs
    jobs = jobs[:JOB_LIST_LENGTH]
    return render(request, "panel/job_list.html", {"jobs": jobs})


@login_required
@require_GET
def job_detail(request: HttpRequest, pk) -> HttpResponse:
    job = get_object_or_404(jobs_for_user(user=request.user), pk=pk)
    return render(request, "panel/job.html", {"job": job})


@login_required
@require_GET
def job_panel(request: HttpRequest, pk) -> HttpResponse:
    """The htmx poll: one query for the Job row, nothing asked of PVE (the worker writes the row).

    While the job runs the fragment carries `hx-trigger="every 1s"`; the first answer after it
    ends carries none, has status 286 (htmx stops polling) and fires `job-finished` so the
    page refreshes what the job changed.
    """
    if not is_htmx(request):
        return redirect("job-detail", pk=pk)
    job = get_object_or_404(jobs_for_user(user=request.user), pk=pk)
    response = render_fragment(request, "panel/job.html", "job-panel", {"job": job})
    if job.is_finished:
        response = trigger(stop_polling(response), JOB_FINISHED_EVENT)
    elif request.GET.get("seen", job.state) != job.state:
        # queued -> running: the blocks that show the job's state (history) catch up.
        response = trigger(response, JOB_STATE_CHANGED_EVENT)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def ssh_key_list(request: HttpRequest) -> HttpResponse:
    """The account's SSH keys, with the form to add one (kept filled in when it is refused)."""
    form = SshKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = services.ssh_key_create(owner=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"SSH key {key.name} added.")
            return redirect("ssh-key-list")
    keys = ssh_keys_for_user(user=request.user)
    status = 400 if form.errors else 200
    return render(request, "panel/ssh_keys.html", {"keys": keys, "form": form}, status=status)


@login_required
@require_POST
def ssh_key_delete(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ssh_keys_for_user(user=request.user), pk=pk)
    services.ssh_key_delete(key=key, user=request.user)
    messages.success(request, f"SSH key {key.name} removed.")
    return redirect("ssh-key-list")
