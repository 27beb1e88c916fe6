"""Thin views: validate the input, call a service, answer 202 with the job it queued
(``panel.outcomes.api_accepted``); a refusal is raised and answered by ``panel.api.errors``."""

from __future__ import annotations

import django_filters
from django.db.models import OuterRef, Subquery
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, permissions, viewsets
from rest_framework.decorators import action

from panel.api.auth import TokenScopePermission
from panel.api.schema import ACCEPTED_DESCRIPTION, BAD_REQUEST, CONFLICT, NOT_FOUND
from panel.api.serializers import JobSerializer
from panel.api.views import PanelViewSetMixin
from panel.models import Job
from panel.outcomes import api_accepted
from panel.services import ssh_keys_text
from servers import services
from servers.api.serializers import (
    PlanSerializer,
    PowerSerializer,
    RebuildSerializer,
    ResetPasswordSerializer,
    ResizeSerializer,
    ServerCreateSerializer,
    ServerSerializer,
)
from servers.filtersets import ServerFilterSet
from servers.models import Plan
from servers.selectors import servers_for_user

ACCEPTED = OpenApiResponse(JobSerializer, description=ACCEPTED_DESCRIPTION)
ACTION_RESPONSES = {202: ACCEPTED, 400: BAD_REQUEST, 404: NOT_FOUND, 409: CONFLICT}


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`, anything else is a 400 (the web form's filter also accepts "any")."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class ServerApiFilterSet(ServerFilterSet):
    """The shared server FilterSet; `is_suspended` is strict here (`true`/`false`), as an API
    documents it, where the web form also accepts "any"."""

    is_suspended = StrictBooleanFilter()


class IsStaffForObject(permissions.BasePermission):
    """Staff-only actions on an object: checked after the tenant lookup, so a customer gets 404
    for someone else's server and 403 only for their own."""

    message = "Only staff may do this."

    def has_object_permission(self, request, view, obj) -> bool:
        return bool(request.user and request.user.is_staff)


def _action_schema(summary: str, description: str, request, *, examples=None):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses=ACTION_RESPONSES,
        examples=examples or [],
    )


RESIZE_EXAMPLES = [
    OpenApiExample(
        "Grow everything",
        value={"cpu_cores": 4, "memory_mib": 8192, "disk_gib": 80},
        request_only=True,
    ),
    OpenApiExample("Only more memory", value={"memory_mib": 4096}, request_only=True),
    OpenApiExample(
        "Shrinking the disk is refused",
        value={
            "detail": "Invalid input.",
            "code": "invalid",
            "errors": {"disk_gib": ["PVE disks only grow: choose at least 40 GiB."]},
        },
        response_only=True,
        status_codes=["400"],
    ),
]


@extend_schema_view(
    list=extend_schema(summary="List servers", description="Your servers (staff: all)."),
    retrieve=extend_schema(summary="Get a server"),
    create=extend_schema(
        summary="Create a server (staff)",
        description="Queues a clone from the template on the node, then configuration to the "
        "requested specs. " + ACCEPTED_DESCRIPTION,
        request=ServerCreateSerializer,
        responses={202: ACCEPTED, 400: BAD_REQUEST},
    ),
    destroy=extend_schema(
        summary="Delete a server",
        description="Queues the deletion of the VM and its disks on PVE; the server disappears "
        "when PVE confirms. " + ACCEPTED_DESCRIPTION,
        responses={202: ACCEPTED, 400: BAD_REQUEST, 404: NOT_FOUND, 409: CONFLICT},
    ),
)
class ServerViewSet(
    PanelViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ServerSerializer
    filterset_class = ServerApiFilterSet
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        jobs = Job.objects.restrict(self.request.user).active()
        active_job = jobs.filter(server=OuterRef("pk")).values("pk")[:1]
        return (
            servers_for_user(user=self.request.user)
            .select_related("owner", "plan", "node")
            .annotate(active_job_id=Subquery(active_job))
        )

    def get_permissions(self):
        # Each list keeps TokenScopePermission: a read-only token never writes, staff's included.
        if self.action == "create":
            return [permissions.IsAdminUser(), TokenScopePermission()]
        if self.action in ("suspend", "unsuspend"):
            return [permissions.IsAuthenticated(), IsStaffForObject(), TokenScopePermission()]
        return super().get_permissions()

    def get_serializer_class(self):
        return {
            "create": ServerCreateSerializer,
            "resize": ResizeSerializer,
            "power": PowerSerializer,
            "rebuild": RebuildSerializer,
            "reset_password": ResetPasswordSerializer,
        }.get(self.action, ServerSerializer)

    def _validated(self, request) -> dict:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def create(self, request, *args, **kwargs):
        data = self._validated(request)
        job = services.server_create(requested_by=request.user, **data)
        return api_accepted(job, request)

    def destroy(self, request, *args, **kwargs):
        job = services.server_delete(server=self.get_object(), user=request.user)
        return api_accepted(job, request)

    @_action_schema(
        "Resize a server",
        "Change CPU cores, memory (MiB) and/or disk (GiB) within the plan's limits. Disks only "
        "grow. Omitted fields stay as they are.",
        ResizeSerializer,
        examples=RESIZE_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def resize(self, request, pk=None):
        server = self.get_object()
        job = services.server_resize(server=server, user=request.user, **self._validated(request))
        return api_accepted(job, request)

    @_action_schema("Power a server", "Start, stop, shut down or reboot the VM.", PowerSerializer)
    @action(detail=True, methods=["post"])
    def power(self, request, pk=None):
        server = self.get_object()
        data = self._validated(request)
        job = services.server_power(server=server, user=request.user, action=data["action"])
        return api_accepted(job, request)

    @_action_schema(
        "Rebuild a server",
        "Reinstall the VM from a template; its disk is wiped.",
        RebuildSerializer,
    )
    @action(detail=True, methods=["post"])
    def rebuild(self, request, pk=None):
        server = self.get_object()
        context = {**self.get_serializer_context(), "server": server}  # whose keys may be used
        serializer = RebuildSerializer(data=request.data, context=context)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = services.server_rebuild(
            server=server,
            user=request.user,
            template=data["template"],
            password=data.get("password", ""),
            ssh_keys=ssh_keys_text(data.get("ssh_keys", [])),
        )
        return api_accepted(job, request)

    @_action_schema(
        "Reset the root password",
        "Sets a new root password through cloud-init.",
        ResetPasswordSerializer,
    )
    @action(detail=True, methods=["post"], url_path="reset-password")
    def reset_password(self, request, pk=None):
        server = self.get_object()
        data = self._validated(request)
        job = services.server_reset_password(
            server=server, user=request.user, password=data["password"]
        )
        return api_accepted(job, request)

    @_action_schema(
        "Suspend a server (staff)",
        "Stops the VM; its owner cannot act on it until it is unsuspended.",
        None,
    )
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        job = services.server_suspend(server=self.get_object(), user=request.user)
        return api_accepted(job, request)

    @_action_schema("Unsuspend a server (staff)", "Gives the server back to its owner.", None)
    @action(detail=True, methods=["post"])
    def unsuspend(self, request, pk=None):
        job = services.server_unsuspend(server=self.get_object(), user=request.user)
        return api_accepted(job, request)


@extend_schema_view(
    list=extend_schema(summary="List plans", description="Active plans (staff: all)."),
    retrieve=extend_schema(summary="Get a plan"),
)
class PlanViewSet(PanelViewSetMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PlanSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        plans = Plan.objects.all()
        return plans if self.request.user.is_staff else plans.filter(is_active=True)
