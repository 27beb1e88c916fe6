"""Small helpers for answering htmx requests with `{% partialdef %}` fragments."""

from __future__ import annotations

from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required as django_login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django_htmx.http import HTMX_STOP_POLLING, HttpResponseClientRedirect, trigger_client_event

# Fired (HX-Trigger) when a job starts or ends, so the blocks that show what the job changes
# (a server's specs and status, its job history) refresh themselves with `from:body` listeners.
JOB_STARTED_EVENT = "job-started"
JOB_STATE_CHANGED_EVENT = "job-state-changed"
JOB_FINISHED_EVENT = "job-finished"


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def render_fragment(
    request: HttpRequest,
    template_name: str,
    fragment: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    """Render only `template_name#fragment` (a django-template-partials partialdef)."""
    return render(request, f"{template_name}#{fragment}", context or {}, status=status)


def stop_polling(response: HttpResponse) -> HttpResponse:
    """Mark a poll response as the last one: htmx cancels an `every Ns` trigger on HTTP 286.

    The fragment itself must also carry no `hx-trigger`, for htmx versions that ignore 286.
    """
    response.status_code = HTMX_STOP_POLLING
    return response


def trigger(response: HttpResponse, event: str, *, after: str = "receive") -> HttpResponse:
    return trigger_client_event(response, event, after=after)


def login_required(view):
    """Django's login_required, except that an htmx request from a signed-out browser (an expired
    session while a job panel polls) gets `HX-Redirect` to the sign-in page, so the whole page
    goes there instead of the sign-in form being swapped into a fragment."""
    guarded = django_login_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if is_htmx(request) and not request.user.is_authenticated:
            current = request.headers.get("HX-Current-URL", "")
            next_path = urlsplit(current).path if current else request.path
            login_url = resolve_url(settings.LOGIN_URL)
            return HttpResponseClientRedirect(f"{login_url}?{urlencode({'next': next_path})}")
        return guarded(request, *args, **kwargs)

    return wrapper
