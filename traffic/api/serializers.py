from __future__ import annotations

from rest_framework import serializers

from traffic.models import TrafficPolicy

# A policy, or none ("" for policy: no quota; for enforcement: nothing enforced now). One choice
# set, named once in the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
POLICY_OR_NONE = [("", "None"), *TrafficPolicy.choices]


class UsageQuerySerializer(serializers.Serializer):
    period = serializers.DateField(
        required=False,
        help_text="Any day of the billing period wanted (YYYY-MM-DD); the current one if absent.",
    )


class ServerUsageSerializer(serializers.Serializer):
    """One server's traffic in one billing period, in bytes."""

    server = serializers.IntegerField(source="server.pk")
    server_name = serializers.CharField(source="server.name")
    period_start = serializers.DateField(source="usage.period.starts_on")
    next_period_start = serializers.DateField(
        source="usage.period.next_starts_on",
        help_text="The first day of the next period (this one ends before it).",
    )
    in_bytes = serializers.IntegerField(source="usage.in_bytes")
    out_bytes = serializers.IntegerField(source="usage.out_bytes")
    total_bytes = serializers.IntegerField(source="usage.total_bytes")
    quota_bytes = serializers.IntegerField(
        source="usage.quota_bytes", allow_null=True, help_text="Null: no quota."
    )
    used_percent = serializers.IntegerField(source="usage.used_percent", allow_null=True)
    policy = serializers.ChoiceField(
        source="usage.policy",
        choices=POLICY_OR_NONE,
        help_text="What happens past the quota; empty: there is no quota.",
    )
    enforcement = serializers.ChoiceField(
        source="usage.enforcement",
        choices=POLICY_OR_NONE,
        help_text="What the quota does to the server now, this period; empty: nothing.",
    )
