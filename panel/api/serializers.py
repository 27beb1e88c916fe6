from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema_field
from knox.models import get_token_model
from rest_framework import serializers
from rest_framework.reverse import reverse

from panel.models import Job

# Job params are shown to API clients; a secret a service stored there must never be echoed.
_SECRET_PARAM_MARKERS = ("password", "secret", "token")


class JobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Poll this URL for progress.")
    params = serializers.SerializerMethodField(
        help_text="What was asked for (secrets are never shown)."
    )
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "url",
            "kind",
            "state",
            "server",
            "target_name",
            "requested_by",
            "params",
            "steps",
            "current_step",
            "progress",
            "upid",
            "upid_node",
            "attempts",
            "error",
            "task_log",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, job: Job) -> str:
        return reverse("api:job-detail", kwargs={"pk": job.pk}, request=self.context.get("request"))

    @extend_schema_field(serializers.DictField())
    def get_params(self, job: Job) -> dict:
        params = job.params if isinstance(job.params, dict) else {}
        return {
            key: value
            for key, value in params.items()
            if not any(marker in key.lower() for marker in _SECRET_PARAM_MARKERS)
        }


class TokenCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"})

    def validate(self, attrs):
        user = authenticate(
            request=self.context.get("request"),
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None or not user.is_active:
            raise serializers.ValidationError(
                "Unable to log in with the provided credentials.", code="authorization"
            )
        attrs["user"] = user
        return attrs


class TokenSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="Whether this request used this token.")

    class Meta:
        model = get_token_model()
        fields = ["token_key", "created", "expiry", "current"]
        read_only_fields = fields

    def get_current(self, token) -> bool:
        request = self.context.get("request")
        auth = getattr(request, "auth", None)
        return getattr(auth, "digest", None) == token.digest


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(
        help_text="The secret token, shown only this once. "
        "Send it as `Authorization: Token <token>`."
    )

    class Meta(TokenSerializer.Meta):
        fields = ["token", *TokenSerializer.Meta.fields]
        read_only_fields = fields
