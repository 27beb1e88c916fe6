"""One error body for every API failure, so integrators parse a single shape.

{"detail": "<human sentence>", "code": "<machine code>"}
400 adds "errors": {"<field>": ["<message>", ...]}  (the rest under "non_field_errors")
409 adds "active_job": {<the job that holds the server>}
"""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from panel.api.serializers import JobSerializer
from panel.jobs import JobConflict
from panel.outcomes import conflict_message


def _messages(value) -> list[str]:
    """Flatten whatever DRF or Django hands us into a list of strings (the schema's promise)."""
    if isinstance(value, dict):
        out: list[str] = []
        for key, inner in value.items():
            out.extend(f"{key}: {msg}" for msg in _messages(inner))
        return out
    if isinstance(value, list | tuple):
        out = []
        for item in value:
            out.extend(_messages(item))
        return out
    return [str(value)]


def _field_errors(detail) -> dict[str, list[str]]:
    non_field_key = api_settings.NON_FIELD_ERRORS_KEY
    if isinstance(detail, dict):
        return {
            (non_field_key if key == NON_FIELD_ERRORS else str(key)): _messages(value)
            for key, value in detail.items()
        }
    return {non_field_key: _messages(detail)}


def validation_error_body(errors: dict[str, list[str]]) -> dict:
    return {"detail": "Invalid input.", "code": "invalid", "errors": errors}


def conflict_body(active_job, *, context) -> dict:
    return {
        "detail": conflict_message(active_job),
        "code": "conflict",
        "active_job": JobSerializer(active_job, context=context).data,
    }


def api_exception_handler(exc, context):
    if isinstance(exc, JobConflict):
        return Response(
            conflict_body(exc.active_job, context=context), status=status.HTTP_409_CONFLICT
        )
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return Response(
            validation_error_body(_field_errors(detail)), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, ProtectedError):
        return Response(
            {
                "detail": "This object is still in use and cannot be deleted.",
                "code": "protected",
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, exceptions.ValidationError):
        response = drf_exception_handler(exc, context)
        response.data = validation_error_body(_field_errors(exc.detail))
        return response
    if isinstance(exc, exceptions.ParseError):
        # Every 400 has `errors`, so clients read one shape.
        response = drf_exception_handler(exc, context)
        response.data = {
            **validation_error_body(_field_errors(str(exc.detail))),
            "detail": str(exc.detail),
            "code": "parse_error",
        }
        return response

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    code = "error"
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
    text = detail if isinstance(detail, str) else " ".join(_messages(detail))
    response.data = {"detail": str(text), "code": str(code)}
    return response
