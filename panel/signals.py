"""Django's own auth event, recorded in the activity log (the one signal handler the panel has:
the sign-in happens inside Django's login(), where no service of ours runs)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from panel.audit import audit_record


@receiver(user_logged_in, dispatch_uid="panel.audit.sign_in")
def record_sign_in(sender, request, user, **kwargs) -> None:
    audit_record(actor=user, owner=user, action="sign_in")
