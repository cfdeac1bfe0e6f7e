"""Forms for clusters and members; the rules themselves live on the models."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError

from hacontrol.ha.models import MAX_PRIORITY, Cluster, Member
from hacontrol.remote.commands import PlatformCommands

SECRET_FIELDS = ("password", "private_key", "key_passphrase")


class SecretTextarea(forms.Textarea):
    """A textarea for a private key that, like a password input, never renders the value back."""

    def format_value(self, value):
        return None


class ClusterForm(forms.ModelForm):
    notify_webhook = forms.URLField(required=False, assume_scheme="https", label="Notify webhook",
                                    help_text="Receives a JSON POST on each event")

    class Meta:
        model = Cluster
        fields = ["name", "dns_name", "dns_resolver", "notes", "notify_email", "notify_webhook"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}


class MemberForm(forms.ModelForm):
    """Add or edit a member. Secrets are never rendered back; left blank on edit, they stay."""

    priority = forms.IntegerField(min_value=1, max_value=MAX_PRIORITY)
    reason = forms.CharField(required=False, max_length=500, help_text="Kept in the audit log")

    class Meta:
        model = Member
        fields = [
            "name", "priority", "address", "platform", "port", "username", "password",
            "private_key", "key_passphrase", "host_key", "use_sudo", "preferences_path",
            "winrm_https", "winrm_auth", "winrm_ca_file", "commands",
        ]
        widgets = {
            "password": forms.PasswordInput(render_value=False),
            "key_passphrase": forms.PasswordInput(render_value=False),
            "private_key": SecretTextarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
            "host_key": forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        }

    def __init__(self, *args, cluster: Cluster, **kwargs):
        super().__init__(*args, **kwargs)
        self.cluster = cluster
        self.instance.cluster = cluster
        editing = self.instance.pk is not None
        if editing:
            # Renaming means reconfiguring the host: remove and add the member instead.
            self.fields["name"].disabled = True
            self.fields["name"].help_text = "To rename a member, remove it and add it again."
            for name in SECRET_FIELDS:
                self.fields[name].help_text = "Stored encrypted; leave blank to keep the current one."
        elif "priority" not in self.initial:
            self.fields["priority"].initial = cluster.next_priority()
        self.fields["preferences_path"].help_text = "Empty for the platform's default path"
        self.fields["host_key"].help_text = (
            "'ssh-ed25519 AAAA…' as in known_hosts (ssh-keyscan prints it). Left empty, the first "
            "attempt stops at the key the host presents and offers it to you to check and pin."
        )
        self.fields["commands"].required = False
        self.fields["commands"].label = "Command overrides (JSON)"
        self.fields["commands"].help_text = (
            "Optional, e.g. {\"status\": \"systemctl is-active mmcentral\"}. Names: "
            + ", ".join(PlatformCommands.names()) + ". Empty uses the platform's defaults."
        )
        self.fields["port"].widget.attrs["placeholder"] = "22 (SSH) or 5985 (WinRM)"

    def clean_commands(self) -> dict:
        """Overrides of the platform's commands: known names only, one line each."""
        commands = self.cleaned_data.get("commands") or {}
        if not isinstance(commands, dict) or not all(isinstance(v, str) for v in commands.values()):
            raise ValidationError('give a JSON object of command lines, e.g. {"status": "systemctl is-active mmcentral"}')
        if any("\n" in value or "\r" in value or "\x00" in value for value in commands.values()):
            raise ValidationError("a command is one line")
        try:
            PlatformCommands.for_platform(self.cleaned_data.get("platform") or "linux", commands)
        except ValueError as error:
            raise ValidationError(f"{error}; known: {', '.join(PlatformCommands.names())}") from None
        return commands

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip() if not self.fields["name"].disabled else self.instance.name

    def clean_priority(self) -> int:
        priority = self.cleaned_data["priority"]
        others = self.cluster.members.exclude(pk=self.instance.pk)
        clash = others.filter(priority=priority).first()
        if clash:
            raise ValidationError(f"priority {priority} is already {clash.name}'s; priorities are unique in a cluster")
        primary = others.order_by("priority").first()
        if self.instance.pk is None and primary and priority <= primary.priority:
            raise ValidationError(
                f"a failover's priority must be higher than the primary {primary.name}'s ({primary.priority}); "
                "use Set Active to change the primary"
            )
        return priority

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            for name in SECRET_FIELDS:
                if not data.get(name):
                    data.pop(name, None)
        return data


class TuningForm(forms.ModelForm):
    """HeartbeatInterval and HeartbeatMaxAllowedDowntime, applied to every member by a job."""

    reason = forms.CharField(required=False, max_length=500, help_text="Kept in the audit log")

    class Meta:
        model = Cluster
        fields = ["heartbeat_interval", "heartbeat_max_downtime"]

    def clean(self):
        data = super().clean()
        interval, downtime = data.get("heartbeat_interval"), data.get("heartbeat_max_downtime")
        if interval and downtime and downtime < 2 * interval:
            raise ValidationError("HeartbeatMaxAllowedDowntime should be at least twice HeartbeatInterval")
        return data


class RemoveMemberForm(forms.Form):
    stop = forms.BooleanField(required=False, initial=True, label="Stop Central on the host first")
    confirm_primary = forms.BooleanField(
        required=False, label="Yes, remove the primary even though failovers depend on it"
    )
    reason = forms.CharField(required=False, max_length=500, help_text="Kept in the audit log")

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.member = member
        self.needs_confirmation = member.is_primary and member.cluster.members.count() > 1
        if not self.needs_confirmation:
            del self.fields["confirm_primary"]

    def clean(self):
        data = super().clean()
        if self.needs_confirmation and not data.get("confirm_primary"):
            raise ValidationError(
                f"{self.member.name} is the primary and other members fail over to it: "
                "tick the confirmation to remove it"
            )
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500, help_text="Kept in the audit log")


class UpgradeForm(forms.Form):
    """Start an upgrade: an installer uploaded here, or one already on the hosts."""

    installer = forms.FileField(required=False, help_text="e.g. micetro-central-11.1.0.linux.x64.tgz")
    installer_host_path = forms.CharField(
        required=False, max_length=500, label="Or: installer path already on every host",
        help_text="Absolute path, e.g. /srv/installers/micetro-central-11.1.0.linux.x64.tgz",
    )
    target_version = forms.RegexField(
        regex=r"^\d+(\.\d+)+$", required=False, max_length=50,
        help_text="Read from the installer's name when left empty",
        error_messages={"invalid": "a version looks like 11.1.0"},
    )

    def clean_installer_host_path(self) -> str:
        path = self.cleaned_data["installer_host_path"].strip()
        if path and (not (path.startswith("/") or re.match(r"^[A-Za-z]:\\", path)) or re.search(r"[\x00-\x1f\"'`$;&|<>]", path)):
            raise ValidationError("give an absolute path without quotes or shell characters")
        return path

    def clean(self):
        data = super().clean()
        if bool(data.get("installer")) == bool(data.get("installer_host_path")):
            raise ValidationError("upload an installer or give its path on the hosts (one of the two)")
        return data
