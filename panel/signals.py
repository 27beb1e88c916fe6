"""Auth events (the only signal handlers the panel has: sign-in, sign-out and a new second factor
happen inside Django's login()/logout() and allauth's views, where no service of ours runs)."""

from __future__ import annotations

from allauth.mfa.signals import authenticator_added
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from panel.audit import audit_record
from panel.middleware import browser_seen
from panel.services import user_session_forget, user_sessions_end_others


@receiver(user_logged_in, dispatch_uid="panel.audit.sign_in")
def record_sign_in(sender, request, user, **kwargs) -> None:
    audit_record(actor=user, owner=user, action="sign_in")
    if getattr(request, "session", None) is not None:  # an API token's sign-in has no session
        browser_seen(request, user=user)


@receiver(user_logged_out, dispatch_uid="panel.sessions.sign_out")
def forget_signed_out_browser(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        user_session_forget(user=user, session_key=session_key)


@receiver(authenticator_added, dispatch_uid="panel.sessions.new_factor")
def end_other_browsers_after_a_new_factor(sender, request, user, **kwargs) -> None:
    """A new second factor, like a new password, signs every other browser out."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    user_sessions_end_others(user=user, keep_session_key=session_key)
