"""A member of a cluster: one Central instance, its host, how to reach it, what was last seen."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from hacontrol.ha.errors import Refused
from hacontrol.ha.fields import EncryptedTextField
from hacontrol.ha.models.choices import SERVING_STATES, Platform, State
from hacontrol.ha.models.cluster import MAX_PRIORITY, Cluster
from hacontrol.ha.models.credential import Credential, secret_values
from hacontrol.lib.hostkeys import (
    HostKeyFormatError,
    fingerprint,
    normalise_certificate_fingerprint,
    normalise_host_key,
)
from hacontrol.lib.names import address_problem, member_name_problem
from hacontrol.remote import HostSettings, parse_backups
from hacontrol.remote.commands import PlatformCommands

DEFAULT_PREFERENCES_PATH = {
    Platform.LINUX: "/var/mmsuite/mmcentral/preferences.cfg",
    Platform.WINDOWS: r"C:\ProgramData\Men and Mice\Central\preferences.cfg",
}
SSH_PORT, WINRM_HTTP_PORT, WINRM_HTTPS_PORT = 22, 5985, 5986


class MemberQuerySet(models.QuerySet):
    def for_display(self) -> MemberQuerySet:
        """Only what the panel shows: credentials are neither loaded nor decrypted (a saved
        credential only for its name and kind)."""
        return self.select_related("credential").only(
            "cluster_id", "name", "priority", "address", "platform", "state", "state_reason", "version",
            "clock_skew", "heartbeat_settings", "findings", "last_checked", "last_seen", "host_key",
            "presented_host_key", "winrm_certificate", "registered", "winrm_https", "winrm_auth",
            "winrm_allow_http_basic",
            "credential__name", "credential__kind",
        )


class Member(models.Model):
    """One Central instance in a cluster, named on its host by ``ClusterMemberName``.

    ``registered`` records that an administrator confirmed the name and priority are entered in
    Micetro's own High Availability configuration (no documented API does it): Central counts
    only registered names as HA members.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="members")
    name = models.CharField("ClusterMemberName", max_length=63)
    priority = models.PositiveIntegerField(
        help_text="Unique in the cluster; the lowest (10 by convention) is the primary"
    )
    address = models.CharField(max_length=253, help_text="Host name or IP address")
    port = models.PositiveIntegerField(null=True, blank=True, help_text="22 for SSH; 5985 (HTTP) or 5986 (HTTPS) for WinRM")
    platform = models.CharField(max_length=10, choices=Platform.choices, default=Platform.LINUX)
    credential = models.ForeignKey(
        Credential, null=True, blank=True, on_delete=models.PROTECT, related_name="members",
        help_text="A saved credential; empty for the member's own login below",
    )
    username = models.CharField(max_length=100, default="root")
    password = EncryptedTextField(blank=True)
    private_key = EncryptedTextField("SSH private key", blank=True)
    key_passphrase = EncryptedTextField("SSH key passphrase", blank=True)
    host_key = models.TextField(
        "pinned SSH host key", blank=True, help_text="'ssh-ed25519 AAAA…' as in known_hosts"
    )
    presented_host_key = models.TextField(
        blank=True, help_text="What the host last offered that did not match the pinned one: an SSH host key, or "
                              "a WinRM TLS certificate's SHA256 fingerprint"
    )
    use_sudo = models.BooleanField(default=False, help_text="Run commands through sudo -n")
    winrm_https = models.BooleanField("WinRM over HTTPS", default=False)
    winrm_auth = models.CharField(
        "WinRM authentication", max_length=10, default="ntlm",
        choices=[("ntlm", "NTLM"), ("kerberos", "Kerberos"), ("basic", "Basic")],
    )
    winrm_ca_file = models.CharField("WinRM CA bundle", max_length=500, blank=True)
    winrm_certificate = models.CharField(
        "pinned WinRM TLS certificate", max_length=200, blank=True,
        help_text="SHA256 fingerprint of the HTTPS listener's certificate, 'SHA256:' and 64 hex digits",
    )
    winrm_allow_http_basic = models.BooleanField(
        "allow Basic authentication over plain HTTP", default=False,
        help_text="Sends the password readable by anyone on the path; only for a lab",
    )
    preferences_path = models.CharField(max_length=500, blank=True)
    commands = models.JSONField(default=dict, blank=True, help_text="Overrides of platform commands")
    registered = models.BooleanField(
        "registered in Micetro", default=False,
        help_text="Its name and priority are entered in Micetro's High Availability configuration",
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.UNKNOWN)
    state_reason = models.CharField(max_length=500, blank=True)
    version = models.CharField(max_length=50, blank=True)
    clock_skew = models.FloatField(null=True, blank=True, help_text="Host clock minus ours, seconds")
    heartbeat_settings = models.JSONField(default=dict, blank=True)
    findings = models.JSONField(default=dict, blank=True, help_text="What the last look at the host found")
    preferences_masked = models.TextField(
        blank=True, help_text="Its preferences.cfg as last read, every secret value masked")
    service_started = models.DateTimeField(null=True, blank=True, help_text="When Central's service last started")
    serving_since = models.DateTimeField(null=True, blank=True, help_text="First look of the current serving streak")
    last_checked = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True, help_text="Last look that found it serving as itself")
    last_error = models.TextField(blank=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        ordering = ["priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"], name="member_name_unique_in_cluster",
                violation_error_message="A member with this name already exists in the cluster.",
            ),
            models.UniqueConstraint(
                fields=["cluster", "priority"], name="member_priority_unique_in_cluster",
                violation_error_message="Another member of the cluster has this priority.",
            ),
            models.UniqueConstraint(
                fields=["cluster", "address"], name="member_address_unique_in_cluster",
                violation_error_message="Another member of the cluster has this address.",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1) & Q(priority__lte=MAX_PRIORITY),
                name="member_priority_in_range",
                violation_error_message=f"Priority must be between 1 and {MAX_PRIORITY}.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"

    def get_absolute_url(self) -> str:
        return reverse("member-detail", args=[self.cluster_id, self.pk])

    def clean(self) -> None:
        problems = {}
        if problem := member_name_problem(self.name or ""):
            problems["name"] = problem
        if problem := address_problem(self.address or ""):
            problems["address"] = problem
        if self.port is not None and not 1 <= self.port <= 65535:
            problems["port"] = "a port is 1 to 65535"
        if self.host_key:
            try:
                self.host_key = normalise_host_key(self.host_key)
            except HostKeyFormatError as error:
                problems["host_key"] = str(error)
        if self.winrm_certificate:
            try:
                self.winrm_certificate = normalise_certificate_fingerprint(self.winrm_certificate)
            except HostKeyFormatError as error:
                problems["winrm_certificate"] = str(error)
        if any(c in self.preferences_path for c in "\r\n\x00\"") or (
                self.platform == Platform.WINDOWS and any(c in self.preferences_path for c in "%^&|<>")):
            problems["preferences_path"] = "a path cannot hold line breaks, quotes or (on Windows) % ^ & | < >"
        try:
            PlatformCommands.check_overrides(self.platform, self.commands)
        except ValueError as error:
            problems["commands"] = str(error)
        if self.credential is not None and self.credential.platform != self.platform:
            problems["credential"] = (f"{self.credential.name} is a {self.credential.get_kind_display()} credential: "
                                      f"a {Platform(self.platform).label} member cannot use it")
        if self.insecure_transport and not self.winrm_allow_http_basic:
            problems["credential" if self.credential is not None else "winrm_auth"] = (
                "Basic authentication over plain HTTP sends the password in clear: use HTTPS, NTLM or Kerberos, or "
                "tick 'allow Basic authentication over plain HTTP'")
        if problems:
            raise ValidationError(problems)

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        if self.platform == Platform.WINDOWS:
            return WINRM_HTTPS_PORT if self.winrm_https else WINRM_HTTP_PORT
        return SSH_PORT

    @property
    def effective_preferences_path(self) -> str:
        return self.preferences_path or DEFAULT_PREFERENCES_PATH[Platform(self.platform)]

    @property
    def platform_commands(self) -> PlatformCommands:
        """The commands that control Central on this member: platform defaults, overridden."""
        return PlatformCommands.for_platform(self.platform, self.commands)

    @property
    def is_primary(self) -> bool:
        """Whether it has the lowest priority (the vendor's "primary")."""
        return not self.cluster.members.filter(priority__lt=self.priority).exists()

    @property
    def is_serving(self) -> bool:
        return self.state in SERVING_STATES

    @property
    def clock_skew_warning(self) -> bool:
        return self.clock_skew is not None and abs(self.clock_skew) > settings.HACONTROL_CLOCK_SKEW_WARNING

    @property
    def login(self) -> Member | Credential:
        """Where its user name, secrets, sudo and WinRM authentication come from: its saved
        credential, or its own fields."""
        return self.credential if self.credential_id is not None and self.credential is not None else self

    @property
    def insecure_transport(self) -> bool:
        """Basic authentication over plain HTTP: the password crosses the network readable."""
        return self.platform == Platform.WINDOWS and self.login.winrm_auth == "basic" and not self.winrm_https

    @property
    def identity_kind(self) -> str:
        """What pins the host: a Windows member over HTTPS its TLS certificate, else its SSH host key."""
        return "TLS certificate" if self.platform == Platform.WINDOWS else "SSH host key"

    @property
    def host_key_fingerprint(self) -> str:
        """The pinned identity's fingerprint: the SSH host key's, or the WinRM certificate's."""
        if self.platform == Platform.WINDOWS:
            return self.winrm_certificate
        return _fingerprint_or_blank(self.host_key)

    @property
    def presented_key_fingerprint(self) -> str:
        if self.presented_host_key.startswith("SHA256:"):
            return self.presented_host_key  # a WinRM certificate is kept by its fingerprint
        return _fingerprint_or_blank(self.presented_host_key)

    def pin_presented(self) -> str:
        """Pin what the host presented (as ``presented_host_key`` holds it) in the field that
        pins this member's identity; returns that field's name."""
        name = "winrm_certificate" if self.platform == Platform.WINDOWS else "host_key"
        setattr(self, name, self.presented_host_key)
        self.presented_host_key = ""
        return name

    @sensitive_variables()
    def secret_values(self) -> set[str]:
        """The stored credentials as they could appear in output (its own and its saved
        credential's): whole values, key lines."""
        found = secret_values(self.password, self.key_passphrase, self.private_key)
        if self.credential_id is not None and self.credential is not None:
            found |= self.credential.secret_values()
        return found

    def is_backup_name(self, name: str) -> bool:
        """Whether ``name`` is one of the copies hacontrol keeps of its preferences.cfg (a bare
        file name: nothing that could point elsewhere on the host)."""
        return bool(parse_backups([{"name": name}], self.effective_preferences_path))

    def check_backup_name(self, name: str) -> None:
        """Refuse (``backup-name``) a name that is not one of the copies hacontrol keeps: the one
        rule for reading a backup and for restoring one."""
        if not self.is_backup_name(name):
            raise Refused("backup-name", f"{name!r} is not a copy hacontrol keeps beside "
                                         f"{self.effective_preferences_path}", field="backup")

    def backup(self, name: str) -> dict | None:
        """The backup named ``name`` as the last look at the host listed it, or None."""
        return next((b for b in self.findings.get("backups", []) if b.get("name") == name), None)

    def backup_path(self, name: str) -> str:
        """Where a backup named ``name`` lies: beside its preferences.cfg."""
        path = self.effective_preferences_path
        separator = "\\" if self.platform == Platform.WINDOWS else "/"
        return path.rsplit(separator, 1)[0] + separator + name

    @sensitive_variables()
    def connection_settings(self) -> HostSettings:
        """What the remote layer needs to reach this member's host."""
        login = self.login
        return HostSettings(
            platform=self.platform, address=self.address, port=self.effective_port,
            username=login.username, password=login.password, private_key=login.private_key,
            key_passphrase=login.key_passphrase, host_key=self.host_key,
            preferences_path=self.effective_preferences_path, use_sudo=login.use_sudo,
            winrm_https=self.winrm_https, winrm_auth=login.winrm_auth,
            winrm_ca_file=self.winrm_ca_file, winrm_certificate=self.winrm_certificate, commands=self.commands,
            timeout=settings.HACONTROL_COMMAND_TIMEOUT,
            connect_timeout=settings.HACONTROL_CONNECT_TIMEOUT,
        )


def _fingerprint_or_blank(line: str) -> str:
    try:
        return fingerprint(line) if line else ""
    except HostKeyFormatError:
        return "(not a valid key)"
