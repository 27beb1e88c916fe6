"""How django-allauth behaves in this panel: accounts are made by staff, never by sign-up."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import ratelimit


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


def signin_lock_clear(*, request, user) -> None:
    """Lift the failed sign-in lock on ``user``'s account (staff, from admin).

    The lock is allauth's login_failed rate limit, kept in the cache under the key allauth derives
    from the site and the username; asking allauth's adapter for that key keeps the two in step.
    """
    adapter = PanelAccountAdapter()
    key = adapter._get_login_attempts_cache_key(request, username=user.get_username())
    ratelimit.clear(request, action="login_failed", key=key)
