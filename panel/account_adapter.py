"""How django-allauth behaves in this panel: accounts are made by staff, never by sign-up."""

from allauth.account.adapter import DefaultAccountAdapter


class PanelAccountAdapter(DefaultAccountAdapter):
    # Django's own wording, which says nothing about whether the username exists.
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_password_mismatch": (
            "Please enter a correct username and password. Note that both fields may be "
            "case-sensitive."
        ),
        "too_many_login_attempts": (
            "Too many failed sign-in attempts for this account. Try again in 15 minutes, or ask "
            "support to unlock it."
        ),
    }

    def is_open_for_signup(self, request):
        return False
