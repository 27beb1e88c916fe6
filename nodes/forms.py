from django import forms
from django.core.exceptions import ValidationError

from nodes.models import Node
from nodes.validation import (
    MSG_TLS_OFF_WITHOUT_PIN,
    normalise_api_url,
    normalise_fingerprint,
    normalise_token_id,
)

MSG_SECRET_REQUIRED = "Enter the API token's secret (shown once by PVE when the token is created)."
MSG_SECRET_WHITESPACE = "A PVE token secret contains no spaces; check what was pasted."
SECRET_HELP_ADD = "Write-only: stored encrypted and never shown again."
SECRET_HELP_CHANGE = (
    "Write-only: the stored secret is never shown. "
    "Leave empty to keep it; enter a new one to replace it."
)


class NodeForm(forms.ModelForm):
    """Staff's form for a node: canonical URL and fingerprint, a write-only token secret.

    The secret is not a model field of this form, so the stored value never reaches ``initial``,
    the widget or the page.
    """

    token_secret = forms.CharField(
        label="API token secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    # No max_length here: openssl's "sha256 Fingerprint=..." output is longer than the stored form.
    tls_fingerprint_sha256 = forms.CharField(
        label="Pinned TLS fingerprint (SHA-256)",
        required=False,
        widget=forms.TextInput(
            attrs={"class": "vTextField", "placeholder": "AB:CD:EF:...", "spellcheck": "false"}
        ),
        help_text="For PVE's self-signed certificate: paste the SHA-256 fingerprint from "
        "`pvenode cert info` (any case, with or without colons). The certificate must then match "
        "it exactly; CA verification is replaced by the pin.",
    )

    class Meta:
        model = Node
        fields = [
            "name",
            "location",
            "api_url",
            "pve_node",
            "token_id",
            "verify_tls",
            "tls_fingerprint_sha256",
            "vm_storage",
            "backup_storage",
            "max_vms",
            "max_cpu_cores",
            "max_memory_mib",
            "max_disk_gib",
            "max_concurrent_heavy_tasks",
            "is_enabled",
        ]
        # Never a model field of this form, even when admin lists it in its fieldsets: the stored
        # secret must not reach `initial`, and an empty input must not overwrite it.
        exclude = ["token_secret"]  # noqa: DJ006 (fields is explicit too; this is a guard)
        # Our own https-only normalisation replaces forms.URLField's (which assumes http).
        field_classes = {"api_url": forms.CharField}
        help_texts = {
            "api_url": "https only; port 8006 is added when none is given, "
            "e.g. https://pve1.example.com:8006",
            "token_id": "user@realm!tokenid, e.g. panel@pve!panel",
        }
        labels = {
            "api_url": "API URL",
            "pve_node": "PVE node name",
            "verify_tls": "Verify the TLS certificate",
            "vm_storage": "Storage for VM disks",
            "backup_storage": "Storage for backups",
            "max_vms": "Max VMs",
            "max_cpu_cores": "Max CPU cores",
            "max_memory_mib": "Max memory (MiB)",
            "max_disk_gib": "Max disk (GiB)",
        }
        widgets = {
            "api_url": forms.TextInput(
                attrs={"placeholder": "https://pve1.example.com:8006", "class": "vTextField"}
            )
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._editing = bool(self.instance and self.instance.pk)
        self.fields["token_secret"].help_text = (
            SECRET_HELP_CHANGE if self._editing else SECRET_HELP_ADD
        )

    def _get_validation_exclusions(self):
        # clean_api_url checks the URL more precisely than the model's URLValidator, which refuses
        # single-label host names (https://pve1:8006) for want of a TLD.
        exclude = super()._get_validation_exclusions()
        exclude.add("api_url")
        return exclude

    def clean_api_url(self) -> str:
        return normalise_api_url(self.cleaned_data.get("api_url", ""))

    def clean_token_id(self) -> str:
        return normalise_token_id(self.cleaned_data.get("token_id", ""))

    def clean_tls_fingerprint_sha256(self) -> str:
        return normalise_fingerprint(self.cleaned_data.get("tls_fingerprint_sha256", ""))

    def clean_token_secret(self) -> str:
        secret = self.cleaned_data.get("token_secret", "")
        if not secret and not self._editing:
            raise ValidationError(MSG_SECRET_REQUIRED, code="required")
        if any(ch.isspace() for ch in secret):
            raise ValidationError(MSG_SECRET_WHITESPACE, code="invalid")
        return secret

    def clean(self):
        cleaned = super().clean()
        # Verification off is only acceptable when a pin replaces the CA check; never off entirely.
        if (
            cleaned.get("verify_tls") is False
            and not cleaned.get("tls_fingerprint_sha256")
            and "tls_fingerprint_sha256" not in self.errors
        ):
            self.add_error("verify_tls", MSG_TLS_OFF_WITHOUT_PIN)
        return cleaned

    def _post_clean(self):
        # Set the secret before the model's full_clean so an add passes the model's own check.
        secret = self.cleaned_data.get("token_secret")
        if secret:
            self.instance.token_secret = secret
        super()._post_clean()
