"""The account's security pages: activity log, signed-in browsers, API tokens, password."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from knox.settings import knox_settings

from panel import services
from panel.activity import action_label, actor_label, device_label
from panel.audit import audit_record
from panel.forms import ApiTokenForm
from panel.htmx import login_required
from panel.models import UserSession
from panel.selectors import activity_for_user, api_tokens_for_user, user_sessions_for_user
from servers.forms import add_service_errors

ACTIVITY_PAGE_LENGTH = 50


@login_required
@require_GET
def activity_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(activity_for_user(user=request.user), ACTIVITY_PAGE_LENGTH).get_page(
        request.GET.get("page")
    )
    rows = [
        {
            "entry": entry,
            "what": action_label(entry.action),
            "who": actor_label(entry, viewer=request.user),
        }
        for entry in page
    ]
    return render(request, "panel/activity.html", {"page": page, "rows": rows})


@login_required
@require_GET
def session_list(request: HttpRequest) -> HttpResponse:
    current = request.session.session_key
    rows = [
        {
            "session": row,
            "device": device_label(row.user_agent),
            "current": row.session_key == current,
        }
        for row in user_sessions_for_user(user=request.user)
    ]
    return render(request, "panel/sessions.html", {"rows": rows})


@login_required
@require_POST
def session_end(request: HttpRequest, session_key: str) -> HttpResponse:
    try:
        services.user_session_end(user=request.user, session_key=session_key)
    except UserSession.DoesNotExist:
        raise Http404 from None
    if session_key == request.session.session_key:
        return redirect("login")
    messages.success(request, "That browser is signed out.")
    return redirect("session-list")


@login_required
@require_POST
def sessions_end_others(request: HttpRequest) -> HttpResponse:
    count = services.user_sessions_end_others(
        user=request.user, keep_session_key=request.session.session_key
    )
    messages.success(request, f"Signed out {count} other browser{'s' if count != 1 else ''}.")
    return redirect("session-list")


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, secret = services.api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                # Never longer than the panel's token lifetime (as the API's ttl_hours).
                expiry=min(timedelta(days=form.cleaned_data["days"]), knox_settings.TOKEN_TTL),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            form = ApiTokenForm()
    tokens = api_tokens_for_user(user=request.user)
    status = 400 if form.errors else 200
    context = {"tokens": tokens, "form": form, "secret": secret}
    return render(request, "panel/tokens.html", context, status=status)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_key: str) -> HttpResponse:
    token = get_object_or_404(api_tokens_for_user(user=request.user), token_key=token_key)
    services.api_token_revoke(user=request.user, token=token)
    messages.success(request, "The token is revoked.")
    return redirect("token-list")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's own page; a new password also signs every other browser out."""

    def form_valid(self, form):
        response = super().form_valid(form)  # keeps this browser signed in (new session key)
        audit_record(actor=self.request.user, owner=self.request.user, action="password_changed")
        services.user_sessions_end_others(
            user=self.request.user, keep_session_key=self.request.session.session_key
        )
        return response
