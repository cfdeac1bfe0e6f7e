"""What the API shows (read serializers over the models) and what it takes (input serializers).

Input serializers only give each value its type: every rule (names, ranges, uniqueness, what a
cluster's state allows) is the actions', so an input the web or the CLI would refuse is refused
here with the same words. No serializer saves anything.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from hacontrol.ha.models import (
    AuditEvent,
    Cluster,
    Job,
    JobStep,
    Member,
    State,
    StateChange,
    StepStatus,
    Upgrade,
)

# Output ---------------------------------------------------------------------------------------


class ClusterSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:cluster-detail")
    member_count = serializers.IntegerField(read_only=True)
    serving_count = serializers.IntegerField(read_only=True, help_text="Members Active or Standby")

    class Meta:
        model = Cluster
        fields = ["id", "url", "name", "dns_name", "dns_resolver", "notes", "heartbeat_interval",
                  "heartbeat_max_downtime", "active_member", "ha_note", "failover", "last_checked", "dns_report",
                  "dns_checked", "created", "member_count", "serving_count"]


class MemberSerializer(serializers.ModelSerializer):
    """A member as the panel shows it; its credentials never leave the console."""

    url = serializers.HyperlinkedIdentityField(view_name="api:member-detail")
    state = serializers.SerializerMethodField(help_text="As the panel shows it: Maintenance while a job works on it")
    host_key_fingerprint = serializers.CharField(
        read_only=True, help_text="The pinned SSH host key's fingerprint (Windows: the pinned TLS certificate's)")
    presented_key_fingerprint = serializers.CharField(
        read_only=True, help_text="A new key (or WinRM TLS certificate) the host presented; accept it with "
                                  "accept-host-key")
    clock_skew_warning = serializers.BooleanField(read_only=True)

    class Meta:
        model = Member
        fields = ["id", "url", "cluster", "name", "priority", "address", "port", "platform", "username", "use_sudo",
                  "preferences_path", "winrm_https", "winrm_auth", "winrm_certificate", "winrm_allow_http_basic",
                  "commands", "registered", "state", "state_reason", "version", "clock_skew", "clock_skew_warning",
                  "heartbeat_settings", "last_checked", "last_seen", "last_error", "host_key_fingerprint",
                  "presented_key_fingerprint"]

    @extend_schema_field(serializers.ChoiceField(choices=State.choices))
    def get_state(self, member: Member) -> str:
        return State.MAINTENANCE if member.pk in self.context.get("maintenance", ()) else member.state


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobStep
        fields = ["position", "name", "status", "started", "finished", "output", "error", "instructions", "deadline"]


class JobSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:job-detail")
    title = serializers.CharField(read_only=True)

    class Meta:
        model = Job
        fields = ["id", "url", "kind", "title", "status", "cluster", "member", "member_name", "upgrade", "started_by",
                  "reason", "created", "started", "finished", "error", "follow_up", "cancel_requested_by",
                  "cancel_reason"]


class JobDetailSerializer(JobSerializer):
    """A job with its steps and their output; ``waiting`` is what it waits for an administrator
    to do in Micetro (then POST confirm/)."""

    progress = serializers.IntegerField(read_only=True, help_text="Percent of steps finished")
    waiting = serializers.SerializerMethodField()
    steps = StepSerializer(many=True, read_only=True)

    class Meta(JobSerializer.Meta):
        fields = JobSerializer.Meta.fields + ["progress", "waiting", "steps"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_waiting(self, job: Job) -> dict | None:
        step = next((s for s in job.steps.all() if s.status == StepStatus.WAITING), None)
        return {"step": step.name, **step.instructions} if step else None


class UpgradeSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:upgrade-detail")
    stages = serializers.SerializerMethodField(help_text="Each stage's job kind and member; `stage` indexes it")

    class Meta:
        model = Upgrade
        fields = ["id", "url", "cluster", "status", "stage", "stages", "started_by", "created", "finished",
                  "installer_name", "installer_host_path", "installer_sha256", "installer_size", "installer_platform",
                  "target_version", "versions_before", "versions_after", "stopped", "overridden", "error"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_stages(self, upgrade: Upgrade) -> list[dict]:
        return [{"kind": kind, "member": member.pk if member else None} for kind, member in upgrade.stages()]


class StateChangeSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.name", read_only=True)
    cluster = serializers.IntegerField(source="member.cluster_id", read_only=True)

    class Meta:
        model = StateChange
        fields = ["id", "when", "cluster", "member", "member_name", "from_state", "to_state", "reason"]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "when", "actor", "action", "cluster", "cluster_name", "member_name", "outcome", "detail",
                  "reason"]


class RefusalSerializer(serializers.Serializer):
    """Every error: the check that failed (stable, for scripts), what it means, and the field concerned."""

    check = serializers.CharField(help_text="e.g. priority-taken, cluster-not-empty, not-authenticated")
    detail = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class AcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class HostKeyAcceptedSerializer(serializers.Serializer):
    old = serializers.CharField(help_text="Fingerprint of the key pinned before (empty when none)")
    new = serializers.CharField(help_text="Fingerprint of the key pinned now")


# Input: types only -----------------------------------------------------------------------------


def text(**kwargs) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, **kwargs)


class Flag(serializers.BooleanField):
    """A yes or no. Left out of a form-encoded request (curl -d) it is not given, so what is stored
    or the action's default holds, rather than REST framework's reading of a missing HTML checkbox
    as "no" (which would switch off sudo on every form-encoded edit)."""

    default_empty_html = empty


def flag(**kwargs) -> Flag:
    return Flag(required=False, **kwargs)


class ReasonInput(serializers.Serializer):
    reason = text(help_text="Kept in the audit log")


class ClusterInput(serializers.Serializer):
    name = text()
    dns_name = text(help_text="The round-robin name with an A/AAAA record per member")
    dns_resolver = text(help_text="IP address (optionally :port) of the resolver to ask; empty for the system's")
    notes = text()
    notify_email = text(help_text="Comma-separated addresses")
    notify_webhook = text(help_text="Receives a JSON POST on each event")


class ClusterEditInput(ClusterInput, ReasonInput):
    pass


class MemberFields(ReasonInput):
    """A member's settings; secrets are write-only, and left out on edit they stay as stored."""

    name = text(help_text="ClusterMemberName")
    priority = serializers.IntegerField(required=False, help_text="Unique; the primary has the lowest (default: "
                                                                  "10 for the first member, then 10 above the highest)")
    address = text()
    port = serializers.IntegerField(required=False, allow_null=True)
    platform = text(help_text="linux (default) or windows")
    username = text()
    password = text(write_only=True)
    private_key = text(write_only=True, help_text="An SSH private key (OpenSSH or PEM)")
    key_passphrase = text(write_only=True)
    host_key = text(help_text="'ssh-ed25519 AAAA…' as in known_hosts")
    use_sudo = flag()
    preferences_path = text()
    winrm_https = flag()
    winrm_auth = text(help_text="ntlm, kerberos or basic")
    winrm_ca_file = text()
    winrm_certificate = text(help_text="SHA256 fingerprint of the WinRM HTTPS listener's certificate, to pin")
    winrm_allow_http_basic = flag()
    commands = serializers.JSONField(required=False, help_text="Overrides of the platform's commands")


class MemberAddInput(MemberFields):
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.all())
    registered = flag(help_text="Already in Micetro's High Availability configuration: the job does not wait for it")


class MemberEditInput(MemberFields):
    registered = flag(help_text="The new priority is already set in Micetro")


class RemoveInput(ReasonInput):
    stop = Flag(default=True, help_text="Stop Central on the host first")
    confirm_active = flag(help_text="Remove the Active member although others depend on it")
    unregistered = flag(help_text="Already removed from Micetro's High Availability configuration")


class ForgetInput(ReasonInput):
    confirm = flag(help_text="Its host is gone for good: hacontrol does not touch it")
    unregistered = flag(help_text="Already removed from Micetro's High Availability configuration")


class AcceptKeyInput(ReasonInput):
    fingerprint = text(help_text="The SHA256 fingerprint of the presented key (or TLS certificate) you checked")


class TuneInput(ReasonInput):
    heartbeat_interval = serializers.IntegerField(required=False, allow_null=True, help_text="5-15 s; null: default")
    heartbeat_max_downtime = serializers.IntegerField(required=False, allow_null=True,
                                                      help_text="20-120 s; null: default")


class UpgradeInput(serializers.Serializer):
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.all())
    installer = serializers.FileField(required=False, help_text="The installer, uploaded (multipart)")
    installer_host_path = text(help_text="Or the installer's absolute path, already on every host")
    target_version = text(help_text="Read from the installer's name when left empty")
