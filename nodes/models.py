from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from panel.fields import EncryptedTextField

# PVE's own formats (pve-node, API token id); see pvesim/schema/pve-api.json.
PVE_NODE_NAME_RE = r"^[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$"
PVE_TOKEN_ID_RE = r"^[^\s@!:]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$"
SHA256_FINGERPRINT_RE = r"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$"
PVE_STORAGE_ID_RE = r"^[a-z][a-z0-9\-_.]*[a-z0-9]$"


class Node(models.Model):
    """A PVE node the panel places VMs on, with the API credentials to reach it."""

    name = models.CharField(
        max_length=100, unique=True, help_text="Display name, e.g. 'Frankfurt 1'."
    )
    location = models.CharField(
        max_length=100,
        blank=True,
        help_text="Where the node is, as customers read it (e.g. 'Frankfurt, DE'): shown as their "
        "servers' location. Customers never see the node's name; empty shows no location.",
    )
    api_url = models.URLField(
        help_text="PVE API base URL, https only, e.g. https://pve1.example.com:8006"
    )
    pve_node = models.CharField(
        "PVE node name",
        max_length=64,
        validators=[RegexValidator(PVE_NODE_NAME_RE, "Not a valid PVE node name.")],
    )
    token_id = models.CharField(
        "API token id",
        max_length=200,
        validators=[
            RegexValidator(
                PVE_TOKEN_ID_RE, "Use PVE's form user@realm!tokenid, e.g. panel@pve!panel."
            )
        ],
    )
    token_secret = EncryptedTextField("API token secret")
    verify_tls = models.BooleanField(
        default=True,
        help_text="Verify the certificate against trusted CAs, or against the pinned fingerprint.",
    )
    tls_fingerprint_sha256 = models.CharField(
        "pinned TLS fingerprint (SHA-256)",
        max_length=95,
        blank=True,
        validators=[
            RegexValidator(SHA256_FINGERPRINT_RE, "Use 32 colon-separated hex bytes, AB:CD:...")
        ],
        help_text="For PVE's self-signed certificate: pin it instead of turning verification off.",
    )
    vm_storage = models.CharField(
        max_length=100,
        default="local-lvm",
        validators=[RegexValidator(PVE_STORAGE_ID_RE, "Not a valid PVE storage id.")],
    )
    backup_storage = models.CharField(
        max_length=100,
        default="local",
        validators=[RegexValidator(PVE_STORAGE_ID_RE, "Not a valid PVE storage id.")],
    )
    max_vms = models.PositiveIntegerField(default=100)
    max_cpu_cores = models.PositiveIntegerField(default=256)
    max_memory_mib = models.PositiveIntegerField(default=512 * 1024)
    max_disk_gib = models.PositiveIntegerField(default=10 * 1024)
    max_concurrent_heavy_tasks = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1)],
        help_text="Clones, restores and backups running at once on this node; more wait in line.",
    )
    is_enabled = models.BooleanField(default=True)
    # VMIDs are unique across a PVE cluster, so the panel allocates them per cluster. Blank for a
    # standalone node; read from PVE (GET /cluster/status) when the node is tested, or by the
    # first clone on it. Until then (cluster_checked_at null) the node may share any cluster.
    cluster_name = models.CharField(max_length=100, blank=True, editable=False)
    cluster_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    pve_version = models.CharField(max_length=50, blank=True, editable=False)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Why the connection check on the last save failed (and the node was disabled); empty if it
    # passed.
    last_check_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Template(models.Model):
    """A PVE VM template (template: 1) that servers are cloned from."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="templates")
    vmid = models.PositiveIntegerField(validators=[MinValueValidator(100)])
    name = models.CharField(max_length=100)
    os_family = models.CharField(max_length=50, blank=True, help_text="e.g. debian, ubuntu")
    disk_gib = models.PositiveIntegerField(help_text="Size of the template's boot disk.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["node", "name"]
        constraints = [models.UniqueConstraint(fields=["node", "vmid"], name="template_node_vmid")]

    def __str__(self) -> str:
        return f"{self.name} ({self.node})"
