"""Read-only traffic usage for integrators (a billing system's "usage update"): per server per
billing period, in bytes. Servers are found through the one tenant filter: another customer's
server is a 404."""

from __future__ import annotations

from datetime import date, datetime, time
from types import SimpleNamespace

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.response import Response

from panel.api.schema import BAD_REQUEST, NOT_FOUND
from panel.api.views import PanelViewSetMixin
from traffic.api.serializers import ServerUsageSerializer, UsageQuerySerializer
from traffic.periods import billing_period
from traffic.selectors import servers_for_usage, traffic_usage

PERIOD = OpenApiParameter(
    "period",
    type=str,
    description="Any day (YYYY-MM-DD) of the billing period wanted; the current one if absent.",
)


@extend_schema_view(
    list=extend_schema(
        summary="Traffic of your servers",
        description="Bytes in and out of each of your servers (staff: all) in a billing period, "
        "with its quota.",
        parameters=[PERIOD],
        responses={200: ServerUsageSerializer(many=True), 400: BAD_REQUEST},
    ),
    retrieve=extend_schema(
        summary="Traffic of a server",
        description="Bytes in and out of the server in a billing period, with its quota.",
        parameters=[PERIOD],
        responses={200: ServerUsageSerializer, 400: BAD_REQUEST, 404: NOT_FOUND},
    ),
)
class ServerUsageViewSet(
    PanelViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = ServerUsageSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return servers_for_usage(user=self.request.user).order_by("pk")

    def _period(self):
        query = UsageQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        day = query.validated_data.get("period")
        return billing_period(day and _noon(day))

    def _row(self, server, period) -> SimpleNamespace:
        return SimpleNamespace(server=server, usage=traffic_usage(server=server, period=period))

    def list(self, request, *args, **kwargs):
        period = self._period()
        page = self.paginate_queryset(self.get_queryset())
        rows = [self._row(server, period) for server in page]
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        server = self.get_object()
        return Response(self.get_serializer(self._row(server, self._period())).data)


def _noon(day: date) -> datetime:
    """Midday of ``day`` in the current time zone: inside that day's period whatever its hour."""
    return timezone.make_aware(datetime.combine(day, time(12)))
