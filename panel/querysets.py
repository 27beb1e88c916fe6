"""The one permission filter (NetBox's ``RestrictedQuerySet.restrict(user)``): every page, API
view and selector that shows a user rows they may own gets them through ``restrict(user)``.

Staff see every row; a customer the rows they own; anyone not signed in none. Another
customer's object is then simply absent: a 404, never a 403 that would tell it exists.
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
        return self.filter(**{self.owner_field: user})
