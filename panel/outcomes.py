"""How a service's outcome becomes an answer, the same way at every front door.

A service that starts work on PVE returns the Job it queued, or refuses with one of three
exceptions: ``ValidationError`` (the input or the server's state), ``JobConflict`` (another job
holds the server) or ``PermissionDenied`` (staff only, not yours). ``outcome_of`` turns the call
into an :class:`Outcome`; each front door then answers from it:

- pages (``servers/views.py``): the job's panel, the form with its errors, or ``conflict_message``;
- admin: ``admin_report``, one message line per server (a refusal does not stop the others);
- API: ``api_accepted`` (202 with the job), the refusals raised to ``panel.api.errors``, which
  words a conflict with ``conflict_message`` too.

A conflict is worded here only: ``conflict_reason`` is the clause, ``conflict_message`` the
sentence customers and integrators read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.html import format_html
from rest_framework import status
from rest_framework.response import Response
from rest_framework.reverse import reverse as api_reverse

from panel.api.serializers import JobSerializer
from panel.jobs import JobConflict
from panel.jobs.recording import CONFLICT_ADVICE, conflict_message, conflict_reason
from panel.models import Job


@dataclass(frozen=True)
class Outcome:
    """Exactly one of these is set."""

    job: Job | None = None
    invalid: ValidationError | None = None
    conflict: JobConflict | None = None
    refused: PermissionDenied | None = None

    @property
    def active_job(self) -> Job | None:
        return self.conflict.active_job if self.conflict is not None else None

    @property
    def refusal(self) -> str:
        """The refusal in plain words ("" when a job was queued)."""
        if self.conflict is not None:
            return conflict_message(self.active_job)
        if self.invalid is not None:
            return " ".join(self.invalid.messages)
        if self.refused is not None:
            return str(self.refused) or "You may not do this."
        return ""


def outcome_of(start: Callable[[], Job]) -> Outcome:
    """Call a service that queues a job; its refusals become an Outcome instead of exceptions."""
    try:
        return Outcome(job=start())
    except JobConflict as conflict:
        return Outcome(conflict=conflict)
    except ValidationError as error:
        return Outcome(invalid=error)
    except PermissionDenied as refused:
        return Outcome(refused=refused)


# --- admin -------------------------------------------------------------------------------------


def admin_report(modeladmin, request, subject, outcome: Outcome, *, what: str = "") -> None:
    """One message line about ``subject``: "<what> queued" with a link to the job (``what``
    defaults to the job's kind), or why nothing was queued."""
    if outcome.job is not None:
        url = reverse("admin:panel_job_change", args=[outcome.job.pk])
        what = what or outcome.job.get_kind_display().lower()
        text = format_html('{}: {} queued (<a href="{}">the job</a>).', subject, what, url)
        modeladmin.message_user(request, text, messages.SUCCESS)
        return
    if outcome.conflict is not None:
        text = f"{subject}: {conflict_reason(outcome.active_job)}. {CONFLICT_ADVICE}"
        if outcome.active_job is not None:
            url = reverse("admin:panel_job_change", args=[outcome.active_job.pk])
            text = format_html(
                '{}: {} (<a href="{}">the job</a>). {}',
                subject,
                conflict_reason(outcome.active_job),
                url,
                CONFLICT_ADVICE,
            )
        modeladmin.message_user(request, text, messages.ERROR)
        return
    modeladmin.message_user(request, f"{subject}: {outcome.refusal}", messages.ERROR)


# --- API ---------------------------------------------------------------------------------------


def api_accepted(job: Job, request) -> Response:
    """202 with the job's representation and its URL in `Location`, for every async action.
    (Refusals are raised; ``panel.api.errors`` answers them.)"""
    data = JobSerializer(job, context={"request": request}).data
    location = api_reverse("api:job-detail", kwargs={"pk": job.pk}, request=request)
    return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})
