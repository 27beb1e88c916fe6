"""Django admin behind the panel's sign-in, and the staff second-factor policy.

Admin's own login form would bypass allauth's second factor and throttling, so it sends people to
the panel's sign-in instead. With ``PANEL_STAFF_REQUIRE_MFA`` on, a staff member without
a second factor is sent to the security page to enrol one before any admin page.
"""

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse


def admin_login_redirect(request):
    """admin/login/ → the panel's sign-in, coming back to where admin was going.

    Someone already signed in lands here only when admin refused them (a customer): sending them
    to the sign-in would bounce straight back, so they are told no instead.
    """
    if request.user.is_authenticated:
        raise PermissionDenied("This account has no access to the staff admin.")
    next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
    return redirect_to_login(next_url)


def user_has_second_factor(user) -> bool:
    return (
        Authenticator.objects.filter(user=user)
        .exclude(type=Authenticator.Type.RECOVERY_CODES)
        .exists()
    )


class StaffMfaMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._must_enrol_first(request):
            messages.warning(
                request,
                "Staff accounts need a second factor before using the admin. "
                "Add an authenticator app or a security key below.",
            )
            return redirect("mfa_index")
        return self.get_response(request)

    @staticmethod
    def _must_enrol_first(request) -> bool:
        if not settings.PANEL_STAFF_REQUIRE_MFA:
            return False
        user = request.user
        if not (user.is_authenticated and user.is_staff):
            return False
        if not request.path.startswith(reverse("admin:index")):
            return False
        return not user_has_second_factor(user)
