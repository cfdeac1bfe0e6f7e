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

from hacontrol.ha import display
from hacontrol.ha.models import (
    AuditEvent,
    Cluster,
    Credential,
    Job,
    JobStep,
    Member,
    State,
    StateChange,
    StepStatus,
    Upgrade,
)
from hacontrol.lib.dnsupdate import Plan

# Output ---------------------------------------------------------------------------------------


class ClusterSerializer(serializers.ModelSerializer):
    """A cluster's settings and what hacontrol last saw of it; its TSIG secret never leaves the
    console (``dns_key_secret_set`` says whether one is stored)."""

    url = serializers.HyperlinkedIdentityField(view_name="api:cluster-detail")
    member_count = serializers.IntegerField(read_only=True)
    serving_count = serializers.IntegerField(read_only=True, help_text="Members Active or Standby")
    dns_key_secret_set = serializers.SerializerMethodField(help_text="Whether a TSIG secret is stored (never shown)")
    dns_updates_on = serializers.BooleanField(read_only=True, help_text="Zone, server and TSIG key are set: Fix DNS "
                                                                        "and the member policy may change the name")

    class Meta:
        model = Cluster
        fields = ["id", "url", "name", "dns_name", "dns_resolver", "central_port", "dns_zone", "dns_server",
                  "dns_key_name", "dns_key_algorithm", "dns_key_secret_set", "dns_member_policy", "dns_updates_on",
                  "notes", "notify_email", "notify_webhook", "heartbeat_interval", "heartbeat_max_downtime",
                  "active_member", "ha_note", "failover", "last_checked", "dns_report", "dns_verification",
                  "dns_checked", "created", "member_count", "serving_count"]

    def get_dns_key_secret_set(self, cluster: Cluster) -> bool:
        return bool(cluster.dns_key_secret)


class ClusterDetailSerializer(ClusterSerializer):
    """A cluster with the configuration drift between its members, as the panel warns of it."""

    drift = serializers.SerializerMethodField(help_text="Settings the members must share that differ, each with "
                                                        "its members grouped by value (secrets: equal or not)")

    class Meta(ClusterSerializer.Meta):
        fields = ClusterSerializer.Meta.fields + ["drift"]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_drift(self, cluster: Cluster) -> list[dict]:
        return [difference.as_dict() for difference in display.drift(cluster, list(cluster.members.all()))]


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
        fields = ["id", "url", "cluster", "name", "priority", "address", "port", "platform", "credential", "username",
                  "use_sudo", "preferences_path", "winrm_https", "winrm_auth", "winrm_certificate",
                  "winrm_allow_http_basic", "commands", "registered", "state", "state_reason", "version", "clock_skew",
                  "clock_skew_warning", "heartbeat_settings", "last_checked", "last_seen", "last_error",
                  "host_key_fingerprint", "presented_key_fingerprint"]

    @extend_schema_field(serializers.ChoiceField(choices=State.choices))
    def get_state(self, member: Member) -> str:
        return State.MAINTENANCE if member.pk in self.context.get("maintenance", ()) else member.state


class MemberDetailsSerializer(serializers.Serializer):
    """What a member's page shows, as data (``ha member show --json`` gives the same): what the last
    look at its host found, its command overrides beside the defaults they replace, its
    preferences.cfg as last read (every secret value masked) and the diff against the reference
    member's (the Active one; ClusterMemberName aside), the drift that concerns it, the backups on
    its host, its 7-day state timeline and its jobs. No secret value, not even a digest."""

    name = serializers.CharField()
    cluster = serializers.CharField(help_text="The cluster's name")
    priority = serializers.IntegerField()
    address = serializers.CharField()
    state = serializers.ChoiceField(choices=State.choices)
    reason = serializers.CharField()
    login = serializers.CharField(help_text="'credential NAME' or 'own (USER)'")
    version = serializers.CharField()
    clock_skew = serializers.FloatField(allow_null=True)
    heartbeat = serializers.DictField(child=serializers.CharField(), help_text="Heartbeat settings as read")
    last_checked = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    name_on_host = serializers.CharField(allow_null=True, help_text="ClusterMemberName in its preferences.cfg")
    format = serializers.CharField(allow_null=True, help_text="tags (up to 11.1) or ini (from 11.2)")
    database = serializers.DictField(help_text="type, server and username as read; password: set or not, and the "
                                               "same as the reference member's or not")
    windows_service = serializers.DictField(allow_null=True, help_text="Central's service on Windows: key name, "
                                                                       "display name, path")
    overrides = serializers.ListField(child=serializers.DictField(), help_text="name, command, default")
    drift = serializers.ListField(child=serializers.DictField())
    backups = serializers.ListField(child=serializers.DictField(), help_text="name, size, modified: restore one "
                                                                           "with POST …/restore/")
    timeline = serializers.ListField(child=serializers.DictField(), help_text="state, start, end over 7 days")
    jobs = serializers.ListField(child=serializers.DictField(), help_text="id, title, status, created")
    reference = serializers.CharField(allow_null=True, help_text="The member it is compared with")
    preferences = serializers.CharField(help_text="Its preferences.cfg as last read, secrets masked")
    diff = serializers.ListField(child=serializers.DictField(), allow_null=True,
                                 help_text="kind (' ' same, '-' only the reference's, '+' only its own, '~' a secret "
                                           "that differs) and text")


class BackupSerializer(serializers.Serializer):
    name = serializers.CharField()
    text = serializers.CharField(help_text="The backup read now from the host, every secret value masked")


class CredentialSerializer(serializers.ModelSerializer):
    """A saved credential; its secrets never leave the console (``has_*`` say which are stored)."""

    url = serializers.HyperlinkedIdentityField(view_name="api:credential-detail")
    uses = serializers.IntegerField(read_only=True, help_text="How many members use it")
    used_by = serializers.SerializerMethodField(help_text="The members using it: id, cluster, name")
    has_password = serializers.BooleanField(read_only=True)
    has_private_key = serializers.BooleanField(read_only=True)
    has_key_passphrase = serializers.BooleanField(read_only=True)

    class Meta:
        model = Credential
        fields = ["id", "url", "name", "kind", "username", "use_sudo", "description", "has_password", "has_private_key",
                  "has_key_passphrase", "created", "changed", "uses", "used_by"]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_used_by(self, credential: Credential) -> list[dict]:
        """From the members prefetched in the cluster's order (see CredentialViewSet)."""
        return [{"id": m.pk, "cluster": m.cluster.name, "name": m.name} for m in credential.members.all()]


class DnsChangeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["add", "delete"])
    type = serializers.ChoiceField(choices=["A", "AAAA"])
    address = serializers.CharField()
    why = serializers.CharField()


class DnsPlanSerializer(serializers.Serializer):
    """What Fix DNS would change now, read from the zone's primary server. Start it with POST
    dns/fix/ giving ``digest`` as ``seen`` (and ``confirm_deletions`` when it deletes records)."""

    name = serializers.CharField()
    server = serializers.CharField(help_text="The zone's primary server the records were read from")
    digest = serializers.CharField(help_text="Names this exact plan: POST it to dns/fix/ as `seen`")
    before = serializers.DictField(help_text="The A and AAAA records as read: {type: {ttl, addresses}}")
    changes = DnsChangeSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField(), help_text="e.g. a member given by host name, "
                                                                         "resolved")
    after = serializers.DictField(help_text="The records once the update is applied")
    confirm_deletions = serializers.BooleanField(help_text="It deletes records of no member: dns/fix/ needs "
                                                           "confirm_deletions")


def dns_plan(cluster: Cluster, plan: Plan) -> dict:
    """A plan as DnsPlanSerializer shows it."""
    return {**plan.as_json(), "server": cluster.dns_server, "digest": plan.digest(), "after": plan.after().as_json(),
            "confirm_deletions": bool(plan.deletions)}


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
    """A cluster's settings. DNS updates need the zone, the server and the TSIG key together (or
    none of them); the secret is write-only, and left out or blank on an edit it stays as stored."""

    name = text()
    dns_name = text(help_text="The round-robin name with an A/AAAA record per member")
    dns_resolver = text(help_text="IP address (optionally :port) of the resolver to ask; empty for the system's")
    central_port = serializers.IntegerField(required=False, allow_null=True,
                                            help_text="Central's TCP port, tried through the name (null: 1231)")
    dns_zone = text(help_text="The zone holding the name (DNS updates); empty: hacontrol only checks the name")
    dns_server = text(help_text="The zone's primary server for RFC 2136 updates: IP[:PORT] or [IPv6]:PORT")
    dns_key_name = text(help_text="The TSIG key the server lets update the name (GSS-TSIG is not supported)")
    dns_key_algorithm = text(help_text="hmac-sha256 (empty: the default), hmac-sha512, ...")
    # Trimmed, unlike the other texts: a secret read from a file (curl's name@file) ends in a newline.
    dns_key_secret = serializers.CharField(required=False, allow_blank=True, write_only=True,
                                           help_text="The TSIG secret (base64); stored encrypted, never shown")
    dns_member_policy = text(help_text="ask (default), always or never: whether adding or removing a member updates "
                                       "the name too")
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
    credential = serializers.PrimaryKeyRelatedField(
        queryset=Credential.objects.all(), required=False, allow_null=True,
        help_text="A saved credential (its user, secrets and sudo are used; the login fields below are ignored); "
                  "null: the member's own login")
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


def update_dns(doing: str) -> Flag:
    return flag(help_text=f"Also {doing} the round-robin name (asked only under the cluster's 'ask' policy; "
                          "'always' and 'never' decide by themselves)")


class MemberAddInput(MemberFields):
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.all())
    registered = flag(help_text="Already in Micetro's High Availability configuration: the job does not wait for it")
    update_dns = update_dns("add its address to")


class MemberEditInput(MemberFields):
    registered = flag(help_text="The new priority is already set in Micetro")


class RemoveInput(ReasonInput):
    stop = Flag(default=True, help_text="Stop Central on the host first")
    confirm_active = flag(help_text="Remove the Active member although others depend on it")
    unregistered = flag(help_text="Already removed from Micetro's High Availability configuration")
    update_dns = update_dns("delete its address from")


class ForgetInput(ReasonInput):
    confirm = flag(help_text="Its host is gone for good: hacontrol does not touch it")
    unregistered = flag(help_text="Already removed from Micetro's High Availability configuration")
    update_dns = update_dns("delete its address from")


class RestoreInput(ReasonInput):
    backup = text(help_text="A backup's name, as the member's details list them")


class DnsFixInput(ReasonInput):
    seen = text(help_text="The digest of the plan you were shown (GET dns/plan/): refused if the plan is no longer "
                          "that one. Empty: whatever the plan is now")
    confirm_deletions = flag(help_text="Delete the records that belong to no member, if the plan does")


class CredentialInput(serializers.Serializer):
    """A saved credential; secrets are write-only, and left out or blank on an edit they stay."""

    name = text()
    kind = text(help_text="ssh-key (default), ssh-password, winrm-basic, winrm-ntlm or winrm-kerberos")
    username = text(help_text="root by default")
    password = text(write_only=True, help_text="SSH password, or the WinRM account's")
    private_key = text(write_only=True, help_text="For an SSH key: the private key (OpenSSH or PEM)")
    key_passphrase = text(write_only=True, help_text="Only if the private key is encrypted")
    use_sudo = flag(help_text="Run commands through sudo -n (SSH)")
    description = text()


class CredentialEditInput(CredentialInput, ReasonInput):
    pass


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
