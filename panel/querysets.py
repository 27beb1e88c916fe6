"""The one permission filter (NetBox's ``RestrictedQuerySet.restrict(user)``): every page, API
view and selector that shows a user rows they may own gets them through ``restrict(user)``.

Staff see every row; a customer the rows they own; anyone not signed in none. Another
customer's object is then simply absent: a 404, never a 403 that would tell it exists.

``owned_by(user)`` is the narrower read for what belongs to one account whoever asks (a user's
SSH keys, the keys a server's owner may have installed): staff get no wider view through it.
Both are here so that no other query filters on an owner.
"""

from __future__ import annotations

from django.db import models


class RestrictedQuerySet(models.QuerySet):
    # The field that names the owning user; a model whose owner is elsewhere overrides it.
    owner_field = "owner"

    def restrict(self, user):
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.is_staff:
            return self
        return self.owned_by(user)

    def owned_by(self, user):
        """Only the rows this user (or user id) owns, staff or not; none for anyone signed out."""
        if user is None or (hasattr(user, "is_authenticated") and not user.is_authenticated):
            return self.none()
        return self.filter(**{self.owner_field: user})
