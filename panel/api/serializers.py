from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema_field
from knox.models import get_token_model
from rest_framework import serializers
from rest_framework.reverse import reverse

from panel.jobs import STEP_DONE, STEP_FAILED, STEP_PENDING, STEP_RUNNING, STEP_SKIPPED
from panel.models import ApiTokenProfile, Job, SshKey, TokenScope

# Job params are shown to API clients; a secret a service stored there must never be echoed.
_SECRET_PARAM_MARKERS = ("password", "secret", "token")


# Staff-only fields: a customer's representation leaves them out (the task log is PVE's text).
STAFF_ONLY_JOB_FIELDS = ("upid", "upid_node", "task_log")


class JobStepSerializer(serializers.Serializer):
    """One step of a job, as a customer sees it."""

    name = serializers.CharField(help_text="Machine name of the step, e.g. `resize_disk`.")
    label = serializers.CharField(help_text="What the step does, for people.")
    state = serializers.ChoiceField(
        choices=[STEP_PENDING, STEP_RUNNING, STEP_DONE, STEP_SKIPPED, STEP_FAILED],
        help_text="Where the step is.",
    )
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField(
        allow_blank=True,
        help_text="Staff only (blank for customers): why a step was skipped, PVE's text.",
    )

    def to_representation(self, step):
        step = step if isinstance(step, dict) else {}
        return {
            "name": step.get("name", ""),
            "label": step.get("label") or step.get("name", ""),
            "state": step.get("state") or "pending",
            "started_at": step.get("started_at"),
            "finished_at": step.get("finished_at"),
            # Notes carry PVE's words (hotplug refusals, unreachable hosts): staff's.
            "note": "",
        }


class StaffJobStepSerializer(JobStepSerializer):
    """A step as staff see it: with the PVE task it followed."""

    # Not required: a customer's representation has no such keys.
    upid = serializers.CharField(
        required=False, allow_blank=True, help_text="Staff only: PVE's task id."
    )
    upid_node = serializers.CharField(
        required=False, allow_blank=True, help_text="Staff only: the PVE node the task ran on."
    )

    def to_representation(self, step):
        data = super().to_representation(step)
        step = step if isinstance(step, dict) else {}
        return {
            **data,
            "note": step.get("note") or "",
            "upid": step.get("upid") or "",
            "upid_node": step.get("upid_node") or "",
        }


def _is_staff(context) -> bool:
    request = context.get("request")
    return bool(getattr(getattr(request, "user", None), "is_staff", False))


class JobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Poll this URL for progress.")
    steps = serializers.SerializerMethodField(
        help_text="The job's steps in order (staff also get each step's UPID and node)."
    )
    # Declared (not read-only, so not required in the schema): customers never get them.
    upid = serializers.CharField(
        required=False, help_text="Staff only: the UPID of the PVE task last followed."
    )
    upid_node = serializers.CharField(
        required=False, help_text="Staff only: the PVE node that task ran on."
    )
    task_log = serializers.CharField(
        required=False, help_text="Staff only: the tail of the PVE task log last followed."
    )
    error = serializers.CharField(
        help_text="Why the job failed: a plain sentence for customers; staff get PVE's own text."
    )
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

    def to_representation(self, job: Job) -> dict:
        data = super().to_representation(job)
        if not _is_staff(self.context):
            for field in STAFF_ONLY_JOB_FIELDS:
                data.pop(field, None)
            # PVE's text is for staff; customers read the sentence chosen when the job failed.
            data["error"] = job.customer_error
        return data

    @extend_schema_field(StaffJobStepSerializer(many=True))
    def get_steps(self, job: Job) -> list[dict]:
        step_serializer = StaffJobStepSerializer if _is_staff(self.context) else JobStepSerializer
        return step_serializer(job.steps or [], many=True).data

    @extend_schema_field(serializers.DictField())
    def get_params(self, job: Job) -> dict:
        params = job.params if isinstance(job.params, dict) else {}
        return {
            key: value
            for key, value in params.items()
            if not any(marker in key.lower() for marker in _SECRET_PARAM_MARKERS)
        }


def _token_ttl_hours() -> int:
    return int(settings.REST_KNOX["TOKEN_TTL"] / timedelta(hours=1))


class TokenCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"})
    name = serializers.CharField(
        max_length=100,
        required=False,
        help_text="What the token is for; shown in the activity log.",
    )
    scope = serializers.ChoiceField(
        choices=TokenScope.choices,
        default=TokenScope.FULL,
        help_text="`read`: GET only (anything else is refused with 403); `full`: everything "
        "the account may do.",
    )
    ttl_hours = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="How long the token lives, in hours; at most (and by default) the panel's "
        "token lifetime (API_TOKEN_TTL_HOURS, 720 = 30 days unless configured).",
    )

    def validate_ttl_hours(self, value: int) -> int:
        longest = _token_ttl_hours()
        if value > longest:
            raise serializers.ValidationError(
                f"Ensure this value is less than or equal to {longest} (the panel's token "
                "lifetime, in hours)."
            )
        return value

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
        attrs["expiry"] = timedelta(hours=attrs.pop("ttl_hours", None) or _token_ttl_hours())
        return attrs


class TokenSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="Whether this request used this token.")
    # Tokens made before names existed (or by knox directly) have no profile: full, unnamed.
    name = serializers.SerializerMethodField(help_text="What the token is for.")
    scope = serializers.SerializerMethodField(help_text="`read` (GET only) or `full`.")
    last_used_at = serializers.SerializerMethodField(
        help_text="When the token was last used (to the minute); null if never."
    )

    class Meta:
        model = get_token_model()
        fields = ["token_key", "name", "scope", "created", "expiry", "last_used_at", "current"]
        read_only_fields = fields

    @staticmethod
    def _profile(token) -> ApiTokenProfile | None:
        try:
            return token.profile
        except ApiTokenProfile.DoesNotExist:
            return None

    def get_name(self, token) -> str:
        profile = self._profile(token)
        return profile.name if profile else ""

    def get_scope(self, token) -> str:
        profile = self._profile(token)
        return profile.scope if profile else TokenScope.FULL

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_last_used_at(self, token):
        profile = self._profile(token)
        if profile is None or profile.last_used_at is None:
            return None
        return serializers.DateTimeField().to_representation(profile.last_used_at)

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


class SshKeySerializer(serializers.ModelSerializer):
    """A key of the caller's account; `public_key` is checked (and fingerprinted) by the service."""

    class Meta:
        model = SshKey
        fields = ["id", "name", "public_key", "fingerprint", "created_at"]
        read_only_fields = ["id", "fingerprint", "created_at"]
        extra_kwargs = {"public_key": {"help_text": "One OpenSSH public key line (the .pub file)."}}
