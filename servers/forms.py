"""Forms for the customer pages. They check the shape of the input; the services decide the rest
(limits, grow-only disks, state), and their ValidationErrors are put back on these forms."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from nodes.models import Node, Template
from panel.forms import SshKeyChoiceField
from panel.models import SshKey
from panel.services import ssh_keys_text
from panel.templatetags.panel_ui import mib
from servers.models import Plan, PowerAction, Server, ServerStatus

# Actions that interrupt what the guest is doing: confirmed before they are sent.
POWER_CONFIRMATIONS = {
    PowerAction.STOP: "Stop {name} now? This powers it off at once, like pulling the plug: "
    "unsaved data in the guest is lost.",
    PowerAction.REBOOT: "Reboot {name} now? Its services are unavailable until it is back up.",
}

MEMORY_CHOICES_MIB = (512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 65536)


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError next to the fields it names, the rest above the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields else None
            if field == NON_FIELD_ERRORS:
                target = None
            for message in ValidationError(errors).messages:
                form.add_error(target, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _after_restart(pending: int | None, *, unit: str = "") -> str:
    return f", {pending}{unit} after the next restart" if pending is not None else ""


class ResizeForm(forms.Form):
    cpu_cores = forms.IntegerField(
        label="CPU cores", min_value=1, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    memory_mib = forms.IntegerField(
        label="Memory (MiB)",
        min_value=256,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "list": "memory-sizes"}),
    )
    disk_gib = forms.IntegerField(
        label="Disk (GiB)", min_value=1, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    restart = forms.BooleanField(
        label="Restart now to apply",
        required=False,
        help_text="A running server takes most CPU and memory changes at its next restart. "
        "Tick this to restart it at the end of the resize; it is briefly unavailable.",
    )

    def __init__(self, *args, server: Server, **kwargs):
        # What the server will have after its next start: a change still pending is shown as made.
        kwargs.setdefault(
            "initial",
            {
                "cpu_cores": server.after_restart("cpu_cores"),
                "memory_mib": server.after_restart("memory_mib"),
                "disk_gib": server.disk_gib,
            },
        )
        super().__init__(*args, **kwargs)
        if server.status != ServerStatus.RUNNING:
            del self.fields["restart"]  # a stopped server takes every change at once
        self.server = server
        plan = server.plan
        fields = self.fields
        fields["cpu_cores"].widget.attrs["max"] = plan.max_cpu_cores
        fields["memory_mib"].widget.attrs["max"] = plan.max_memory_mib
        if server.memory_mib and server.memory_mib % 256 == 0:
            fields["memory_mib"].widget.attrs["step"] = 256
        # PVE disks only grow: the browser refuses a smaller number, the service explains why.
        fields["disk_gib"].widget.attrs["min"] = max(server.disk_gib, 1)
        fields["disk_gib"].widget.attrs["max"] = plan.max_disk_gib
        fields["cpu_cores"].help_text = (
            f"Now {server.cpu_cores}{_after_restart(server.pending_cpu_cores)}; "
            f"your plan allows up to {plan.max_cpu_cores}."
        )
        fields["memory_mib"].help_text = (
            f"Now {server.memory_mib} MiB ({mib(server.memory_mib)})"
            f"{_after_restart(server.pending_memory_mib, unit=' MiB')}; "
            f"up to {plan.max_memory_mib} MiB ({mib(plan.max_memory_mib)}). 1 GiB = 1024 MiB."
        )
        fields[
            "disk_gib"
        ].help_text = (
            f"Now {server.disk_gib} GiB; up to {plan.max_disk_gib} GiB. Disks can only grow."
        )

    @property
    def memory_choices(self) -> list[tuple[int, str]]:
        limit = self.server.plan.max_memory_mib
        return [(size, mib(size)) for size in MEMORY_CHOICES_MIB if size <= limit]

    def changes(self) -> dict[str, int]:
        """Only the sizes that differ from what the server will have after its next start: what
        the service should change (it refuses an empty change, with the values in the message)."""
        return {
            name: self.cleaned_data[name]
            for name in ("cpu_cores", "memory_mib", "disk_gib")
            if self.cleaned_data.get(name) is not None
            and self.cleaned_data[name] != self.server.after_restart(name)
        }


BEYOND_PLAN_LABEL = "Go beyond the plan's limits"
BEYOND_PLAN_HELP = (
    "Staff only: the plan's limits are not applied (the node's still are). "
    "Recorded on the job and in the audit log as an override by you."
)


def beyond_plan_field() -> forms.BooleanField:
    return forms.BooleanField(label=BEYOND_PLAN_LABEL, required=False, help_text=BEYOND_PLAN_HELP)


class StaffResizeForm(ResizeForm):
    """Staff's resize (admin): the customer's form, plus the override of the plan's limits."""

    beyond_plan = beyond_plan_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in ("cpu_cores", "memory_mib", "disk_gib"):
            # The browser must not enforce the plan's maximum: staff may go beyond it.
            self.fields[field].widget.attrs.pop("max", None)


class PowerForm(forms.Form):
    action = forms.ChoiceField(choices=PowerAction.choices)
    confirmed = forms.BooleanField(required=False)

    @property
    def needs_confirmation(self) -> bool:
        action = self.cleaned_data.get("action")
        return action in POWER_CONFIRMATIONS and not self.cleaned_data.get("confirmed")


class TemplateChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Template) -> str:
        return obj.name  # the node is the server's own; no need to repeat it


class RebuildForm(forms.Form):
    template = TemplateChoiceField(
        queryset=Template.objects.none(), label="Operating system", empty_label=None
    )
    password = forms.CharField(
        label="New root password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to set no password (sign in with SSH keys).",
    )
    ssh_keys = SshKeyChoiceField(help_text="Keys from your account, installed for root.")
    confirm = forms.BooleanField(
        label="I understand that rebuilding erases everything on this server's disk."
    )

    def __init__(self, *args, server: Server, **kwargs):
        super().__init__(*args, **kwargs)
        self.server = server
        self.fields["template"].queryset = Template.objects.filter(
            node=server.node, is_active=True
        ).order_by("name")
        if server.template_id:
            self.fields["template"].initial = server.template_id
        # The owner's keys only: a key of another account is "not one of the choices".
        self.fields["ssh_keys"].queryset = SshKey.objects.owned_by(server.owner_id)


class ResetPasswordForm(forms.Form):
    password = forms.CharField(
        label="New root password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label="Repeat the password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password"), cleaned.get("password_again")
        if first and second and first != second:
            self.add_error("password_again", "The two passwords differ.")
        return cleaned


class OrderServerForm(forms.Form):
    """Staff's order for a new server (admin). The shape of the input only: the order itself,
    with the plan's limits and the node's room, is checked by ``services.server_create``."""

    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), help_text="The customer who owns the server."
    )
    plan = forms.ModelChoiceField(queryset=Plan.objects.none())
    node = forms.ModelChoiceField(queryset=Node.objects.none())
    template = forms.ModelChoiceField(
        queryset=Template.objects.none(), help_text="Must be on the chosen node."
    )
    name = forms.CharField(max_length=100)
    hostname = forms.CharField(max_length=253, help_text="e.g. web1.example.com")
    cpu_cores = forms.IntegerField(label="CPU cores", min_value=1)
    memory_mib = forms.IntegerField(
        label="Memory (MiB)", min_value=256, help_text="1 GiB = 1024 MiB."
    )
    disk_gib = forms.IntegerField(
        label="Disk (GiB)", min_value=1, help_text="At least the template's disk."
    )
    password = forms.CharField(
        label="Root password",
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Optional; set by cloud-init.",
    )
    ssh_keys = forms.CharField(
        label="SSH keys",
        required=False,
        max_length=16384,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional; authorized public keys, one a line.",
    )
    saved_ssh_keys = SshKeyChoiceField(
        label="The owner's SSH keys", help_text="Keys the customer keeps in their account."
    )
    vmid = forms.IntegerField(
        label="VMID",
        required=False,
        min_value=100,
        max_value=999_999_999,
        help_text="Optional; by default PVE's next free one.",
    )
    beyond_plan = beyond_plan_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = self.fields
        fields["owner"].queryset = (
            get_user_model().objects.filter(is_active=True).order_by("username")
        )
        fields["plan"].queryset = Plan.objects.filter(is_active=True).order_by("name")
        fields["node"].queryset = Node.objects.filter(is_enabled=True).order_by("name")
        fields["template"].queryset = (
            Template.objects.filter(is_active=True).select_related("node").order_by("node", "name")
        )
        fields["saved_ssh_keys"].queryset = SshKey.objects.select_related("owner")
        fields["saved_ssh_keys"].label_from_instance = lambda key: (
            f"{key.owner.get_username()}: {key.name} ({key.fingerprint})"
        )

    def clean(self):
        cleaned = super().clean()
        node, template = cleaned.get("node"), cleaned.get("template")
        if node is not None and template is not None and template.node_id != node.pk:
            self.add_error(
                "template", f"The template {template.name} is not on the node {node.name}."
            )
        owner = cleaned.get("owner")
        keys = cleaned.get("saved_ssh_keys") or ()
        if owner is not None and any(key.owner_id != owner.pk for key in keys):
            self.add_error(
                "saved_ssh_keys",
                f"Only keys of {owner.get_username()} can be installed on their server.",
            )
        return cleaned

    def order(self) -> dict:
        """The keyword arguments for ``services.server_create`` (all but ``requested_by``)."""
        data = dict(self.cleaned_data)
        data["password"] = data.get("password") or ""
        saved = ssh_keys_text(data.pop("saved_ssh_keys", None) or ())
        data["ssh_keys"] = "\n".join(part for part in (data.get("ssh_keys"), saved) if part)
        return data
