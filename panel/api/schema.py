"""OpenAPI documentation of the error bodies, added to every operation that can return them."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.throttling import UserRateThrottle

from panel.api.serializers import JobSerializer


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A sentence for humans.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. `not_found`.")


class ValidationErrorSerializer(ErrorSerializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per input field; messages about the whole input are under "
        "`non_field_errors`.",
    )


class ConflictSerializer(ErrorSerializer):
    active_job = JobSerializer(help_text="The job that holds the server; poll it, then retry.")


class ProtectedSerializer(ErrorSerializer):
    """`code` is `protected`: other objects still refer to this one."""


BAD_REQUEST = OpenApiResponse(ValidationErrorSerializer, description="Invalid input, per field.")
UNAUTHENTICATED = OpenApiResponse(ErrorSerializer, description="Missing or invalid credentials.")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="Authenticated, but not allowed.")
NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No such object, or not one of yours (never revealed which)."
)
CONFLICT = OpenApiResponse(
    ConflictSerializer, description="The server is held by its active job, which is returned."
)
UNSUPPORTED_MEDIA_TYPE = OpenApiResponse(
    ErrorSerializer, description="The body is not JSON, form data or multipart."
)
PROTECTED = OpenApiResponse(
    ProtectedSerializer, description="Still in use (e.g. servers on this node); not deleted."
)
THROTTLED = OpenApiResponse(ErrorSerializer, description="Too many requests; see Retry-After.")
ACCEPTED_DESCRIPTION = (
    "Accepted: a job was queued. The body is the job; its URL is in the `Location` header. "
    "Poll it until `state` is `succeeded` or `failed`."
)


class PanelAutoSchema(AutoSchema):
    """Adds the error responses DRF can produce to each operation unless a view declared them."""

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        responses: dict[str, OpenApiResponse] = {}
        public = any(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions())
        if not public:
            responses["401"] = UNAUTHENTICATED
            responses["403"] = FORBIDDEN
        has_body = self.method in ("POST", "PUT", "PATCH")
        has_filters = self._is_list_view() and (
            getattr(self.view, "filterset_class", None)
            or getattr(self.view, "filterset_fields", None)
        )
        if has_body or has_filters:
            responses["400"] = BAD_REQUEST
        if has_body:
            responses["415"] = UNSUPPORTED_MEDIA_TYPE
        if "{" in self.path or (self._is_list_view() and self._get_paginator()):
            responses["404"] = NOT_FOUND
        responses["429"] = THROTTLED
        return responses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, response in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses


class DocsRateThrottle(UserRateThrottle):
    """The API docs' and schema's own budget (per user, or per address when signed out): the
    anonymous scope is shared with logins, and failed logins must not make the docs answer 429."""

    scope = "docs"
