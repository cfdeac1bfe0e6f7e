"""Forms: the inputs of the actions, typed and labelled. The rules themselves live in the actions
(and the models they call), so the web, the CLI and the API refuse the same input the same way."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone

from hacontrol.ha.actions import SECRET_FIELDS
from hacontrol.ha.errors import Refused
from hacontrol.ha.models import MAX_PRIORITY, ApiToken, Cluster, Credential, DnsPolicy, Member
from hacontrol.remote.commands import PlatformCommands


class ShowsRefusals:
    """Shows an action's refusal on the field it names (or above the form)."""

    fields: dict

    def show(self, refusal: Refused) -> None:
        errors = getattr(refusal, "errors", None) or {refusal.field: [refusal.message]}
        for field, texts in errors.items():
            self.add_error(field if field in self.fields else None, " ".join(texts))  # type: ignore[attr-defined]


class ActionForm(ShowsRefusals, forms.ModelForm):
    """A model's fields as inputs, without the model's validation: the action validates."""

    def _post_clean(self) -> None:
        """Skip ModelForm's model validation: the action does it (one place for every door)."""


class SecretTextarea(forms.Textarea):
    """A textarea for a private key that, like a password input, never renders the value back."""

    def format_value(self, value):
        return None


class ClusterForm(ActionForm):
    """A cluster's settings. The TSIG secret is never rendered back; left blank on edit, it stays."""

    notify_webhook = forms.URLField(required=False, assume_scheme="https", label="Notify webhook",
                                    help_text="Receives a JSON POST on each event")

    class Meta:
        model = Cluster
        fields = ["name", "dns_name", "dns_resolver", "central_port", "dns_zone", "dns_server", "dns_key_name",
                  "dns_key_algorithm", "dns_key_secret", "dns_member_policy", "notes", "notify_email",
                  "notify_webhook"]
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            "dns_key_secret": forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left empty, they keep their defaults (the action decides), like every door.
        for name in ("central_port", "dns_member_policy", "dns_key_algorithm"):
            self.fields[name].required = False
        if self.instance.pk and self.instance.dns_key_secret:
            self.fields["dns_key_secret"].help_text = "Stored encrypted; leave blank to keep the current one."
        self.fields["dns_server"].widget.attrs["placeholder"] = "192.0.2.53 or 192.0.2.53:5353"


class MemberForm(ActionForm):
    """Add or edit a member. Secrets are never rendered back; left blank on edit, they stay."""

    priority = forms.IntegerField(min_value=1, max_value=MAX_PRIORITY)
    registered = forms.BooleanField(
        required=False, label="Already registered in Micetro",
        help_text="Its name and priority are already in Micetro's High Availability configuration; "
                  "otherwise the job stops and asks you to do it there",
    )
    reason = forms.CharField(required=False, max_length=500, help_text="Kept in the audit log")

    class Meta:
        model = Member
        fields = [
            "name", "priority", "address", "platform", "port", "credential", "username", "password",
            "private_key", "key_passphrase", "host_key", "use_sudo", "preferences_path",
            "winrm_https", "winrm_auth", "winrm_ca_file", "winrm_certificate", "winrm_allow_http_basic", "commands",
        ]
        widgets = {
            "password": forms.PasswordInput(render_value=False),
            "key_passphrase": forms.PasswordInput(render_value=False),
            "private_key": SecretTextarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
            "host_key": forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        }

    # Shown only while the platform they belong to is chosen (app.js); hidden ones are still sent.
    PLATFORM_ONLY = {
        "linux": ["private_key", "key_passphrase", "host_key", "use_sudo"],
        "windows": ["winrm_https", "winrm_auth", "winrm_ca_file", "winrm_certificate", "winrm_allow_http_basic"],
    }

    def __init__(self, *args, cluster: Cluster, **kwargs):
        super().__init__(*args, **kwargs)
        self.cluster = cluster
        for platform, names in self.PLATFORM_ONLY.items():
            for name in names:
                self.fields[name].platform_only = platform  # type: ignore[attr-defined]
        editing = self.instance.pk is not None
        if editing:
            # Renaming means reconfiguring the host: remove the member and add it again.
            self.fields["name"].disabled = True
            self.fields["name"].help_text = "To rename a member, remove it and add it again."
            self.fields["priority"].help_text = ("Changing it waits for you to change it in Micetro's High "
                                                 "Availability configuration first")
            del self.fields["registered"]
            for name in SECRET_FIELDS:
                self.fields[name].help_text = "Stored encrypted; leave blank to keep the current one."
        else:
            if "priority" not in self.initial:
                self.fields["priority"].initial = cluster.next_priority()
            if "credential" not in self.initial:
                self.fields["credential"].initial = cluster.usual_credential()
        self.fields["credential"].empty_label = "None: its own login, entered below"
        self.fields["credential"].help_text = (
            "A saved credential (Credentials page): its user, password or key and sudo are used, and the fields "
            "below are ignored. Editing the credential applies to every member that uses it.")
        self.fields["preferences_path"].help_text = "Empty for the platform's default path"
        self.fields["host_key"].help_text = (
            "'ssh-ed25519 AAAA…' as in known_hosts (ssh-keyscan prints it). Left empty, the first "
            "attempt stops at the key the host presents and offers it to you to check and pin."
        )
        self.fields["winrm_certificate"].help_text = (
            "Windows over HTTPS: the listener certificate's SHA256 fingerprint. Left empty (and no CA bundle), the "
            "first attempt stops at the certificate the host presents and offers it to you to check and pin."
        )
        self.fields["commands"].required = False
        self.fields["commands"].label = "Command overrides (JSON)"
        self.fields["commands"].help_text = (
            "Optional; they run as root on the host, so a change needs a reason. Names: "
            + ", ".join(PlatformCommands.names()) + ". Empty uses the platform's defaults."
        )
        self.fields["port"].widget.attrs["placeholder"] = "22 (SSH), 5985 (WinRM) or 5986 (WinRM HTTPS)"
        if not editing:
            offer_dns(self, cluster, f"Also add its address to {cluster.dns_name} (the vendor's step 11)")

    def action_values(self) -> dict:
        """The cleaned values the action takes (secrets left blank on edit are not passed)."""
        values = {name: self.cleaned_data.get(name) for name in self.Meta.fields if name in self.cleaned_data}
        values["name"] = (values.get("name") or "").strip()
        values["commands"] = values.get("commands") or {}
        if self.instance.pk:
            values.pop("name")
            for name in SECRET_FIELDS:
                if not values.get(name):
                    values.pop(name, None)
        return values


class CredentialForm(ActionForm):
    """Add or edit a saved credential. Secrets are never rendered back; left blank on edit, they stay."""

    reason = forms.CharField(required=False, max_length=500, help_text="Kept in the audit log")

    class Meta:
        model = Credential
        fields = ["name", "kind", "username", "password", "private_key", "key_passphrase", "use_sudo", "description"]
        widgets = {
            "password": forms.PasswordInput(render_value=False),
            "key_passphrase": forms.PasswordInput(render_value=False),
            "private_key": SecretTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = "SSH password, or the WinRM account's password"
        self.fields["private_key"].help_text = "For an SSH key: the private key (OpenSSH or PEM; ed25519, ECDSA or RSA)"
        self.fields["key_passphrase"].help_text = "Only if the private key is encrypted"
        if self.instance.pk:
            for name in SECRET_FIELDS:
                self.fields[name].help_text = "Stored encrypted; leave blank to keep the current one."
        else:
            del self.fields["reason"]

    def action_values(self) -> dict:
        """The cleaned values the action takes (blank secrets on edit keep the stored ones)."""
        values = {name: self.cleaned_data.get(name) for name in self.Meta.fields if name in self.cleaned_data}
        values["name"] = (values.get("name") or "").strip()
        if self.instance.pk:
            for name in SECRET_FIELDS:
                if not values.get(name):
                    values.pop(name, None)
        return values


class TuningForm(ShowsRefusals, forms.Form):
    """HeartbeatInterval and HeartbeatMaxAllowedDowntime, applied to every member by a job."""

    heartbeat_interval = forms.IntegerField(required=False, label="HeartbeatInterval (s)",
                                            help_text="5-15; empty for Central's default (10)")
    heartbeat_max_downtime = forms.IntegerField(required=False, label="HeartbeatMaxAllowedDowntime (s)",
                                                help_text="20-120; empty for Central's default (30)")
    reason = forms.CharField(required=False, max_length=500, help_text="Kept in the audit log")


class ReasonForm(ShowsRefusals, forms.Form):
    reason = forms.CharField(required=False, max_length=500, help_text="Kept in the audit log")


def offer_dns(form: forms.BaseForm, cluster: Cluster, label: str) -> None:
    """The 'update_dns' question, asked only when the cluster's policy is 'ask' (the action
    applies 'always' and 'never' by itself)."""
    if cluster.dns_updates_on and cluster.dns_member_policy == DnsPolicy.ASK:
        form.fields["update_dns"] = forms.BooleanField(
            required=False, initial=True, label=label,
            help_text=f"One signed DNS update to {cluster.dns_server}, only if the name's records are still as read")


def dns_note(cluster: Cluster, doing: str) -> str:
    """What happens to the name without asking, under 'always'."""
    if cluster.dns_updates_on and cluster.dns_member_policy == DnsPolicy.ALWAYS:
        return f"Its address is then {doing} {cluster.dns_name} by a DNS update (cluster setting: always)."
    return ""


class RemoveMemberForm(ReasonForm):
    stop = forms.BooleanField(required=False, initial=True, label="Stop Central on the host first")
    confirm_active = forms.BooleanField(
        required=False, label="Yes, remove the Active member even though the others depend on it")
    unregistered = forms.BooleanField(
        required=False, label="Already removed from Micetro's High Availability configuration")

    def __init__(self, *args, needs_confirmation: bool, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        if not needs_confirmation:
            del self.fields["confirm_active"]
        offer_dns(self, member.cluster, f"Also delete its record {member.address} from {member.cluster.dns_name}")


class ForgetMemberForm(ReasonForm):
    confirm = forms.BooleanField(required=False, label="Yes, its host is gone for good: forget it without touching it")
    unregistered = forms.BooleanField(
        required=False, label="Already removed from Micetro's High Availability configuration")
    # Required, but by the action (forget_member), so the page refuses it in the API's and CLI's words.
    reason = forms.CharField(required=False, max_length=500, help_text="Required; kept in the audit log")

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        offer_dns(self, member.cluster, f"Also delete its record {member.address} from {member.cluster.dns_name}")


class DnsFixForm(ReasonForm):
    """Fix DNS: the plan shown is confirmed; deleting records needs its own tick."""

    confirm_deletions = forms.BooleanField(
        required=False, label="Yes, delete the records that belong to no member")


class AcceptKeyForm(ReasonForm):
    fingerprint = forms.CharField(widget=forms.HiddenInput)



class UpgradeForm(ShowsRefusals, forms.Form):
    """Start an upgrade: an installer uploaded here, or one already on the hosts."""

    installer = forms.FileField(required=False, help_text="e.g. micetro-central-11.1.0.linux.x64.tgz")
    installer_host_path = forms.CharField(
        required=False, max_length=500, label="Or: installer path already on every host",
        help_text="Absolute path, e.g. /srv/installers/micetro-central-11.1.0.linux.x64.tgz",
    )
    target_version = forms.RegexField(
        regex=r"^\d+(\.\d+)+$", required=False, max_length=50,
        help_text="Read from the installer when left empty",
        error_messages={"invalid": "a version looks like 11.1.0"},
    )


class TokenForm(forms.ModelForm):
    """A new API token: what it is for, and how long it lives."""

    LIFETIMES = [("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "Never expires")]
    lifetime = forms.ChoiceField(choices=LIFETIMES, initial="90", required=False, label="Expires after")

    class Meta:
        model = ApiToken
        fields = ["name"]

    def expires(self) -> datetime | None:
        days = self.cleaned_data["lifetime"]
        return timezone.now() + timedelta(days=int(days)) if days else None
