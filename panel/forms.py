"""Forms of the account pages: the shape of the input; the services check the rest."""

from __future__ import annotations

from django import forms

from panel.models import SshKey, TokenScope


class SshKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="To tell your keys apart, e.g. the computer the key is on."
    )
    public_key = forms.CharField(
        label="Public key",
        max_length=16384,
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "spellcheck": "false",
                "placeholder": "ssh-ed25519 AAAA... you@laptop",
            }
        ),
        help_text="The contents of your .pub file, e.g. ~/.ssh/id_ed25519.pub.",
    )


class SshKeyChoiceField(forms.ModelMultipleChoiceField):
    """The account's keys as checkboxes, for the builds (create, rebuild) that install them."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", SshKey.objects.none())
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "SSH keys")
        super().__init__(**kwargs)

    def label_from_instance(self, obj: SshKey) -> str:
        return f"{obj.name} ({obj.fingerprint})"


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. a backup script.")
    scope = forms.ChoiceField(
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        help_text="A read-only token can look but never change anything.",
    )
    days = forms.IntegerField(
        label="Valid for (days)",
        min_value=1,
        max_value=30,
        initial=30,
        help_text="The token stops working after this many days.",
    )
