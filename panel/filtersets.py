"""The job FilterSet, one for the job pages and the API (NetBox style)."""

from __future__ import annotations

import django_filters
from django import forms

from panel.models import Job, JobKind, JobState
from panel.validators import MAX_DB_INT


class IntegerFilter(django_filters.NumberFilter):
    """An integer filter that refuses decimals and values no database column can hold."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_DB_INT)
        super().__init__(*args, **kwargs)


class JobFilterSet(django_filters.FilterSet):
    # A plain id, not a choice of servers: an unknown or foreign id gives an empty list,
    # never a 400 that would reveal another tenant's server exists.
    server = IntegerFilter(field_name="server_id", help_text="Only jobs of this server (id).")
    state = django_filters.MultipleChoiceFilter(choices=JobState.choices)
    kind = django_filters.MultipleChoiceFilter(choices=JobKind.choices)

    class Meta:
        model = Job
        fields = ["server", "state", "kind"]
