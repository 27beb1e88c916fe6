"""The shared API infrastructure (the JSON 404, the schema mixin) and the
views of the panel's own resources: jobs and API tokens."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.http import JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.response import Response

from panel.api.schema import BAD_REQUEST, THROTTLED, PanelAutoSchema
from panel.api.serializers import (
    JobSerializer,
    SshKeySerializer,
    TokenCreatedSerializer,
    TokenCreateSerializer,
    TokenSerializer,
)
from panel.filtersets import JobFilterSet
from panel.selectors import api_tokens_for_user, jobs_for_user, ssh_keys_for_user
from panel.services import api_token_create, api_token_revoke, ssh_key_create, ssh_key_delete

DEFAULT_TOKEN_NAME = "API token"


@csrf_exempt  # nothing happens here; a cookie without a CSRF token must not turn a 404 into 403
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    detail = "Not found."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail = f"Not found. API paths end with a slash: {request.path}/"
    return JsonResponse({"detail": detail, "code": "not_found"}, status=404)


class PanelViewSetMixin:
    schema = PanelAutoSchema()


@extend_schema_view(
    list=extend_schema(summary="List jobs", description="Your jobs (staff: all), newest first."),
    retrieve=extend_schema(summary="Get a job", description="Poll this until it has finished."),
)
class JobViewSet(PanelViewSetMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = JobSerializer
    filterset_class = JobFilterSet

    def get_queryset(self):
        return jobs_for_user(user=self.request.user).select_related("requested_by")


class TokenViewSet(
    PanelViewSetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """API tokens (django-rest-knox): stored hashed, the secret shown once at creation."""

    serializer_class = TokenSerializer
    lookup_field = "token_key"
    # Knox keys are an optional short prefix plus hex; nothing else (e.g. NUL) reaches the database.
    lookup_value_regex = r"[A-Za-z0-9_\-]{1,32}"
    pagination_class = None

    def get_permissions(self):
        if self.action == "create":
            return [permissions.AllowAny()]
        return super().get_permissions()

    def get_queryset(self):
        return api_tokens_for_user(user=self.request.user)

    def get_serializer_class(self):
        if self.action == "create":
            return TokenCreateSerializer
        return TokenSerializer

    @extend_schema(
        summary="List your API tokens",
        description="Only the first characters "
        "(`token_key`) are kept in clear; the token itself is never shown again.",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Create an API token",
        description="Log in with a username and password; answers with a new token. Store it: "
        "it is shown only in this answer.",
        request=TokenCreateSerializer,
        responses={201: TokenCreatedSerializer, 400: BAD_REQUEST, 429: THROTTLED},
        auth=[],
    )
    def create(self, request, *args, **kwargs):
        serializer = TokenCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        expiry = serializer.validated_data["expiry"]
        # A token is a sign-in: Django's signal records it (and updates last_login).
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        instance, token = api_token_create(
            user=user,
            name=serializer.validated_data.get("name") or DEFAULT_TOKEN_NAME,
            scope=serializer.validated_data["scope"],
            expiry=expiry,
        )
        data = {"token": token, **TokenSerializer(instance, context={"request": request}).data}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke one of your API tokens")
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        api_token_revoke(user=self.request.user, token=instance)


@extend_schema_view(
    list=extend_schema(summary="List your SSH keys"),
    retrieve=extend_schema(summary="Get one of your SSH keys"),
    create=extend_schema(summary="Add an SSH key", description="Checked as an OpenSSH public key."),
    destroy=extend_schema(summary="Remove an SSH key", description="Servers that have it keep it."),
)
class SshKeyViewSet(
    PanelViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's own SSH keys (another account's key is a 404)."""

    serializer_class = SshKeySerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return ssh_keys_for_user(user=self.request.user)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = ssh_key_create(
            owner=self.request.user, name=data["name"], public_key=data["public_key"]
        )

    def perform_destroy(self, instance):
        ssh_key_delete(key=instance, user=self.request.user)
