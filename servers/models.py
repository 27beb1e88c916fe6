import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from panel.querysets import RestrictedQuerySet


class Plan(models.Model):
    """What a customer may have: the upper limits a resize or order is checked against."""

    name = models.CharField(max_length=100, unique=True)
    max_cpu_cores = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    max_memory_mib = models.PositiveIntegerField(validators=[MinValueValidator(256)])
    max_disk_gib = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    max_backups = models.PositiveIntegerField(default=3)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServerStatus(models.TextChoices):
    PROVISIONING = "provisioning", "Provisioning"
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    RESIZING = "resizing", "Resizing"
    REBUILDING = "rebuilding", "Rebuilding"
    DELETING = "deleting", "Deleting"
    SUSPENDED = "suspended", "Suspended"
    ERROR = "error", "Error"


class PowerAction(models.TextChoices):
    """What a power job asks of PVE, in the order the buttons show them. The labels are the ones
    customers, staff and integrators all read; ``POWER_ACTION_EFFECTS`` says what each does."""

    START = "start", "Start"
    SHUTDOWN = "shutdown", "Shut down"
    REBOOT = "reboot", "Reboot"
    STOP = "stop", "Stop"


POWER_ACTION_EFFECTS = {
    PowerAction.START: "boots the VM",
    PowerAction.SHUTDOWN: "asks the guest to shut down (ACPI)",
    PowerAction.REBOOT: "asks the guest to reboot (ACPI)",
    PowerAction.STOP: "powers the VM off at once, like pulling the plug",
}


class Server(models.Model):
    """A customer's VM. Specs hold what PVE confirmed, never what was merely asked for."""

    uuid = models.UUIDField(
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text="Written into the VM's PVE description as the panel's ownership marker.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="servers"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="servers")
    node = models.ForeignKey("nodes.Node", on_delete=models.PROTECT, related_name="servers")
    vmid = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(100), MaxValueValidator(999_999_999)],
        help_text="Allocated when the clone starts.",
    )
    template = models.ForeignKey(
        "nodes.Template", null=True, blank=True, on_delete=models.SET_NULL, related_name="servers"
    )
    name = models.CharField(max_length=100)
    hostname = models.CharField(max_length=253)
    cpu_cores = models.PositiveIntegerField(default=0)
    memory_mib = models.PositiveIntegerField(default=0)
    disk_gib = models.PositiveIntegerField(default=0)
    # What PVE holds for the VM's next start: a change a running VM could not take live (PVE
    # keeps it pending). ``cpu_cores``/``memory_mib`` are what it runs with; null: nothing waits.
    pending_cpu_cores = models.PositiveIntegerField(
        null=True, blank=True, help_text="CPU cores PVE keeps for the VM's next start."
    )
    pending_memory_mib = models.PositiveIntegerField(
        null=True, blank=True, help_text="Memory (MiB) PVE keeps for the VM's next start."
    )
    status = models.CharField(
        max_length=20, choices=ServerStatus.choices, default=ServerStatus.PROVISIONING
    )
    status_reason = models.TextField(blank=True)
    is_suspended = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["node", "vmid"], name="server_node_vmid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def pending_changes(self) -> dict[str, int]:
        """The sizes that change at the next (re)start, by their field names."""
        pending = {"cpu_cores": self.pending_cpu_cores, "memory_mib": self.pending_memory_mib}
        return {field: value for field, value in pending.items() if value is not None}

    @property
    def customer_status_reason(self) -> str:
        """What a customer reads beside the status: ``status_reason`` holds PVE's text and our
        reasons for staff (nodes, VMIDs, storages), so customers get a plain sentence, and only
        when the server is in error (a failed job's own sentence is on the job)."""
        if self.status != ServerStatus.ERROR:
            return ""
        return (
            "Something went wrong with this server and our staff can see what happened. "
            "Please contact support."
        )

    def after_restart(self, field: str) -> int:
        """``cpu_cores``/``memory_mib``/``disk_gib`` as the server will have it after its next
        start: the pending value if one waits, else what it runs with."""
        return self.pending_changes.get(field, getattr(self, field))
