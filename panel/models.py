import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from panel.querysets import RestrictedQuerySet


class User(AbstractUser):
    """Customers and staff alike; `is_staff` separates them."""


class JobKind(models.TextChoices):
    """Every kind has exactly one declaration (``servers/jobs.py`` for these, ``traffic/jobs.py``
    for the traffic quota's; a backup app adds its kinds here together with its own
    ``backups/jobs.py``)."""

    CREATE = "create", "Create"
    RESIZE = "resize", "Resize"
    POWER = "power", "Power"
    REBUILD = "rebuild", "Rebuild"
    RESET_PASSWORD = "reset_password", "Reset password"
    DELETE = "delete", "Delete"
    SUSPEND = "suspend", "Suspend"
    UNSUSPEND = "unsuspend", "Unsuspend"
    SYNC = "sync", "Sync from PVE"
    TRAFFIC_THROTTLE = "traffic_throttle", "Limit network speed"
    TRAFFIC_UNTHROTTLE = "traffic_unthrottle", "Lift network speed limit"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_JOB_STATES = (JobState.QUEUED, JobState.RUNNING)
FINISHED_JOB_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class JobQuerySet(RestrictedQuerySet):
    def active(self):
        """Queued or running: at most one per server (the partial unique index)."""
        return self.filter(state__in=ACTIVE_JOB_STATES)


class Job(models.Model):
    """One durable unit of work on PVE: the row, not Celery, is the truth the UI and API read.

    `steps` is a list of {"name", "label", "task", "state", "upid", "upid_node", "started_at",
    "finished_at", "note"}, copied from the kind's declaration (``panel.jobs.registry``) when the
    job is recorded: ``task`` is the Celery task that runs the step, ``state`` is pending, running,
    done, skipped or failed, ``note`` says why a step was skipped; a step may add facts of its own
    (``transient_retries``). A step that recorded a UPID is resumed by waiting on that UPID, never
    by issuing the call again.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=JobKind.choices)
    state = models.CharField(
        max_length=12, choices=JobState.choices, default=JobState.QUEUED, db_index=True
    )
    server = models.ForeignKey(
        "servers.Server", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    # Kept when the server row is gone, so history stays readable.
    target_name = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_jobs",
        help_text="The customer whose server this job is about (tenant isolation).",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requested_jobs",
    )
    params = models.JSONField(default=dict, blank=True)
    steps = models.JSONField(default=list, blank=True)
    current_step = models.CharField(max_length=50, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)  # percent, 0-100
    upid = models.CharField(max_length=255, blank=True)
    upid_node = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # PVE's own text and our reason, for staff; customers read ``customer_error`` instead.
    error = models.TextField(blank=True)
    customer_error = models.TextField(
        blank=True,
        help_text="What the customer reads when the job failed: a plain sentence, without PVE's "
        "text, node names or task ids.",
    )
    traceback = models.TextField(blank=True)
    task_log = models.TextField(blank=True, help_text="Tail of the PVE task log of the last task.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Which task execution holds the job; a live lease makes a duplicate delivery a no-op.
    lease_token = models.CharField(max_length=64, blank=True, editable=False)
    # What the job found or did, for people to read (e.g. the drift a sync found).
    result = models.JSONField(default=dict, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One mutating job at a time per server, enforced by the database itself.
            models.UniqueConstraint(
                fields=["server"],
                condition=Q(state__in=["queued", "running"]),
                name="one_active_job_per_server",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="job_progress_percent"),
        ]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.target_name} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_JOB_STATES


class AuditChannel(models.TextChoices):
    """The front door an action came through."""

    WEB = "web", "Web"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class AuditEntry(models.Model):
    """The activity log: who asked for what, from which front door and address; written by
    services (``panel.audit.audit_record``), read by staff in admin and by the customer it
    concerns (``owner``) on their activity page."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Whether the actor was staff when acting: customers read "Support" for those entries.
    actor_is_staff = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activity",
        help_text="The customer this entry concerns (tenant isolation); none for system entries.",
    )
    server = models.ForeignKey(
        "servers.Server",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    action = models.CharField(max_length=50, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    channel = models.CharField(
        max_length=10, choices=AuditChannel.choices, default=AuditChannel.SYSTEM
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    # The API token's name when one was used; kept as text so a revoked token still reads.
    token_name = models.CharField(max_length=100, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_repr}"


class UserSessionQuerySet(RestrictedQuerySet):
    owner_field = "user"


class UserSession(models.Model):
    """What a signed-in browser looks like to its owner: written by
    ``panel.middleware.SessionActivityMiddleware`` at most once a minute, keyed by the session
    key; the session itself stays in Django's session store, which decides whether it is alive."""

    session_key = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="browser_sessions"
    )
    user_agent = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()

    objects = UserSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.ip} {self.last_seen_at:%Y-%m-%d %H:%M}"


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    FULL = "full", "Full access"


class ApiTokenProfile(models.Model):
    """What the panel adds to a knox token (whose model is fixed): a name, a scope and when it
    was last used (written at most once a minute)."""

    token = models.OneToOneField(
        "knox.AuthToken", primary_key=True, on_delete=models.CASCADE, related_name="profile"
    )
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=4, choices=TokenScope.choices, default=TokenScope.FULL)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.scope})"


class SshKey(models.Model):
    """A public key a customer keeps in their account and picks when a server is built."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ssh_keys"
    )
    name = models.CharField(max_length=100)
    public_key = models.TextField(help_text="One OpenSSH public key line.")
    fingerprint = models.CharField(max_length=64, help_text="SHA256 fingerprint, as ssh-keygen -l.")
    created_at = models.DateTimeField(auto_now_add=True)

    # A key is read as its owner's only (``owned_by``), never with restrict()'s staff-wide view.
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = "SSH key"
        constraints = [
            models.UniqueConstraint(fields=["owner", "fingerprint"], name="ssh_key_owner_key"),
            models.UniqueConstraint(fields=["owner", "name"], name="ssh_key_owner_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.fingerprint})"
