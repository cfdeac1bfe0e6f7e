"""Clusters of Micetro Central, their members, the jobs that change them and the audit trail."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from hacontrol.ha.fields import EncryptedTextField
from hacontrol.lib.names import address_problem, member_name_problem
from hacontrol.remote.commands import PlatformCommands

PRIMARY_PRIORITY = 10
PRIORITY_STEP = 10
MAX_PRIORITY = 1_000_000


class ClusterQuerySet(models.QuerySet):
    def with_member_counts(self) -> ClusterQuerySet:
        """Each cluster with how many members it has and how many are serving."""
        return self.annotate(
            member_count=models.Count("members"),
            serving_count=models.Count("members", filter=Q(members__state__in=["active", "standby"])),
        )


class Cluster(models.Model):
    """A Micetro Central HA cluster: members sharing one database, reached by one DNS name."""

    name = models.CharField(max_length=100, unique=True)
    dns_name = models.CharField(
        "round-robin DNS name", max_length=253, blank=True,
        help_text="The name with an A/AAAA record per member, e.g. central.example.com",
    )
    dns_resolver = models.CharField(
        "DNS resolver", max_length=100, blank=True,
        help_text="IP address (optionally :port) of the resolver to ask; empty for the system's",
    )
    notes = models.TextField(blank=True)
    heartbeat_interval = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="HeartbeatInterval, 5-15 s (Central's default is 10)"
    )
    heartbeat_max_downtime = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="HeartbeatMaxAllowedDowntime, 20-120 s (default 30)"
    )
    notify_email = models.CharField(max_length=500, blank=True, help_text="Comma-separated addresses")
    notify_webhook = models.URLField(blank=True, help_text="Receives a JSON POST on each event")
    last_checked = models.DateTimeField(null=True, blank=True)
    dns_report = models.JSONField(default=dict, blank=True)
    dns_checked = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("cluster-detail", args=[self.pk])

    def clean(self) -> None:
        from hacontrol.lib.names import HOST_ADDRESS

        if self.dns_name and not HOST_ADDRESS.fullmatch(self.dns_name):
            raise ValidationError({"dns_name": "enter a DNS name such as central.example.com"})
        problems = {}
        if self.heartbeat_interval is not None and not 5 <= self.heartbeat_interval <= 15:
            problems["heartbeat_interval"] = "HeartbeatInterval must be 5 to 15 seconds"
        if self.heartbeat_max_downtime is not None and not 20 <= self.heartbeat_max_downtime <= 120:
            problems["heartbeat_max_downtime"] = "HeartbeatMaxAllowedDowntime must be 20 to 120 seconds"
        if problems:
            raise ValidationError(problems)

    def primary(self) -> Member | None:
        """The member with the lowest priority: the one Central makes Active when it runs."""
        return self.members.order_by("priority").first()

    def next_priority(self) -> int:
        """A sensible default for a new member: 10 for the first, then 10 above the highest."""
        highest = self.members.aggregate(models.Max("priority"))["priority__max"]
        return PRIMARY_PRIORITY if highest is None else highest + PRIORITY_STEP

    def secrets(self) -> list[str]:
        """Every credential stored for the members, longest first, for redaction of output."""
        found: set[str] = set()
        for member in self.members.all():
            found.update(v for v in (member.password, member.key_passphrase) if v and len(v) >= 4)
            found.update(line for line in member.private_key.splitlines() if len(line) >= 16 and "PRIVATE KEY" not in line)
        return sorted(found, key=len, reverse=True)

    def running_job(self) -> Job | None:
        return self.jobs.filter(status__in=Job.ACTIVE_STATUSES).first()

    def timeline(self, members: list[Member], hours: int = 24) -> list[tuple[Member, list]]:
        """Each member's states over the last ``hours`` as bars, from one query."""
        from hacontrol.lib.timeline import segments

        end = timezone.now()
        start = end - timedelta(hours=hours)
        changes: dict[int, list] = {m.pk: [] for m in members}
        for change in StateChange.objects.filter(member__cluster=self, when__gte=start).order_by("when"):
            changes[change.member_id].append((change.when, change.from_state, change.to_state))
        return [(m, segments(m.state, changes[m.pk], start, end)) for m in members]

    def heartbeat_disagreement(self, members: list[Member]) -> list[Member]:
        """Members whose heartbeat settings differ from the cluster's (or from each other's)."""
        wanted = {k: str(v) for k, v in [("HeartbeatInterval", self.heartbeat_interval),
                                         ("HeartbeatMaxAllowedDowntime", self.heartbeat_max_downtime)] if v}
        seen = [m for m in members if m.last_checked]
        if wanted:
            return [m for m in seen if any(m.heartbeat_settings.get(k) != v for k, v in wanted.items())]
        distinct = {tuple(sorted(m.heartbeat_settings.items())) for m in seen}
        return seen if len(distinct) > 1 else []

    def panel(self, fragment: bool = False) -> dict:
        """Everything the Manage High Availability panel shows, in a fixed number of queries;
        the live ``fragment`` (the members table) needs neither jobs nor the change list."""
        members = list(self.members.for_display())
        running = self.running_job()
        busy = running.members_in_maintenance() if running else set()
        for member in members:
            member.in_maintenance = member.pk in busy
        context = {
            "members": members,
            "timeline": self.timeline(members),
            "heartbeat_disagreement": self.heartbeat_disagreement(members),
            "running_job": running,
            "open_upgrade": self.upgrades.filter(status__in=Upgrade.OPEN_STATUSES).first(),
            "skewed": [m for m in members if m.clock_skew_warning],
        }
        if not fragment:
            context["recent_jobs"] = list(self.jobs.all()[:5])
            context["recent_changes"] = list(
                StateChange.objects.filter(member__cluster=self).select_related("member")[:10]
            )
        return context


class Platform(models.TextChoices):
    LINUX = "linux", "Linux"
    WINDOWS = "windows", "Windows"


class State(models.TextChoices):
    ACTIVE = "active", "Active"
    STANDBY = "standby", "Standby"
    OFFLINE = "offline", "Offline"
    UNKNOWN = "unknown", "Unknown"
    MAINTENANCE = "maintenance", "Maintenance"


DEFAULT_PREFERENCES_PATH = {
    Platform.LINUX: "/var/mmsuite/mmcentral/preferences.cfg",
    Platform.WINDOWS: r"C:\ProgramData\Men and Mice\Central\preferences.cfg",
}
DEFAULT_PORT = {Platform.LINUX: 22, Platform.WINDOWS: 5985}


class MemberQuerySet(models.QuerySet):
    def for_display(self) -> MemberQuerySet:
        """Only what the panel shows: credentials are neither loaded nor decrypted."""
        return self.only(
            "cluster_id", "name", "priority", "address", "platform", "state", "state_reason", "version",
            "clock_skew", "heartbeat_settings", "last_checked", "last_seen", "host_key", "presented_host_key",
        )


class Member(models.Model):
    """One Central instance in a cluster, named on its host by ``ClusterMemberName``."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="members")
    name = models.CharField("ClusterMemberName", max_length=63)
    priority = models.PositiveIntegerField(
        help_text="Unique in the cluster; the lowest (10 by convention) is the primary"
    )
    address = models.CharField(max_length=253, help_text="Host name or IP address")
    port = models.PositiveIntegerField(null=True, blank=True, help_text="22 for SSH, 5985 for WinRM")
    platform = models.CharField(max_length=10, choices=Platform.choices, default=Platform.LINUX)
    username = models.CharField(max_length=100, default="root")
    password = EncryptedTextField(blank=True)
    private_key = EncryptedTextField("SSH private key", blank=True)
    key_passphrase = EncryptedTextField("SSH key passphrase", blank=True)
    host_key = models.TextField(
        "pinned SSH host key", blank=True, help_text="'ssh-ed25519 AAAA…' as in known_hosts"
    )
    presented_host_key = models.TextField(
        blank=True, help_text="The key the host last offered that did not match the pinned one"
    )
    use_sudo = models.BooleanField(default=False, help_text="Run commands through sudo -n")
    winrm_https = models.BooleanField("WinRM over HTTPS", default=False)
    winrm_auth = models.CharField(
        "WinRM authentication", max_length=10, default="ntlm",
        choices=[("ntlm", "NTLM"), ("kerberos", "Kerberos"), ("basic", "Basic")],
    )
    winrm_ca_file = models.CharField("WinRM CA bundle", max_length=500, blank=True)
    preferences_path = models.CharField(max_length=500, blank=True)
    commands = models.JSONField(default=dict, blank=True, help_text="Overrides of platform commands")
    state = models.CharField(max_length=12, choices=State.choices, default=State.UNKNOWN)
    state_reason = models.CharField(max_length=500, blank=True)
    version = models.CharField(max_length=50, blank=True)
    clock_skew = models.FloatField(null=True, blank=True, help_text="Host clock minus ours, seconds")
    heartbeat_settings = models.JSONField(default=dict, blank=True)
    last_checked = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
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
            models.CheckConstraint(
                condition=Q(priority__gte=1) & Q(priority__lte=MAX_PRIORITY),
                name="member_priority_in_range",
                violation_error_message=f"Priority must be between 1 and {MAX_PRIORITY}.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"

    def clean(self) -> None:
        problems = {}
        if problem := member_name_problem(self.name or ""):
            problems["name"] = problem
        if problem := address_problem(self.address or ""):
            problems["address"] = problem
        if self.port is not None and not 1 <= self.port <= 65535:
            problems["port"] = "a port is 1 to 65535"
        if self.host_key and len(self.host_key.split()) < 2:
            problems["host_key"] = "paste the key as 'TYPE BASE64', e.g. 'ssh-ed25519 AAAAC3Nz…'"
        if any(c in self.preferences_path for c in "\r\n\x00"):
            problems["preferences_path"] = "a path cannot hold line breaks"
        if problems:
            raise ValidationError(problems)

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORT[Platform(self.platform)]

    @property
    def effective_preferences_path(self) -> str:
        return self.preferences_path or DEFAULT_PREFERENCES_PATH[Platform(self.platform)]

    @property
    def platform_commands(self) -> PlatformCommands:
        """The commands that control Central on this member: platform defaults, overridden."""
        return PlatformCommands.for_platform(self.platform, self.commands)

    @property
    def is_primary(self) -> bool:
        return not self.cluster.members.filter(priority__lt=self.priority).exists()

    @property
    def clock_skew_warning(self) -> bool:
        return self.clock_skew is not None and abs(self.clock_skew) > settings.HACONTROL_CLOCK_SKEW_WARNING

    @property
    def host_key_fingerprint(self) -> str:
        from hacontrol.remote.ssh import fingerprint_of_line

        return fingerprint_of_line(self.host_key) if self.host_key else ""

    @property
    def presented_key_fingerprint(self) -> str:
        from hacontrol.remote.ssh import fingerprint_of_line

        return fingerprint_of_line(self.presented_host_key) if self.presented_host_key else ""

    def accept_presented_host_key(self) -> tuple[str, str]:
        """Pin the key the host offered; returns the (old, new) fingerprints for the audit."""
        old, new = self.host_key_fingerprint, self.presented_key_fingerprint
        self.host_key, self.presented_host_key = self.presented_host_key, ""
        self.save(update_fields=["host_key", "presented_host_key"])
        return old, new

    def connection_settings(self):
        """What the remote layer needs to reach this member's host."""
        from hacontrol.remote import HostSettings

        return HostSettings(
            platform=self.platform, address=self.address, port=self.effective_port,
            username=self.username, password=self.password, private_key=self.private_key,
            key_passphrase=self.key_passphrase, host_key=self.host_key,
            preferences_path=self.effective_preferences_path, use_sudo=self.use_sudo,
            winrm_https=self.winrm_https, winrm_auth=self.winrm_auth,
            winrm_ca_file=self.winrm_ca_file, commands=self.commands,
            timeout=settings.HACONTROL_COMMAND_TIMEOUT,
            connect_timeout=settings.HACONTROL_CONNECT_TIMEOUT,
        )


class StateChangeQuerySet(models.QuerySet):
    def prune(self) -> int:
        """Forget changes older than HACONTROL_HISTORY_DAYS; returns how many went."""
        cutoff = timezone.now() - timedelta(days=settings.HACONTROL_HISTORY_DAYS)
        return self.filter(when__lt=cutoff).delete()[0]


class StateChange(models.Model):
    """A member moved from one state to another, as a probe saw it."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="state_changes")
    when = models.DateTimeField(default=timezone.now, db_index=True)
    from_state = models.CharField(max_length=12, choices=State.choices)
    to_state = models.CharField(max_length=12, choices=State.choices)
    reason = models.CharField(max_length=500, blank=True)

    objects = StateChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-when"]


class AuditEvent(models.Model):
    """Who did what, when, to which cluster or member, and how it ended. Never deleted with them."""

    OK, FAILED, REFUSED = "ok", "failed", "refused"
    when = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150, help_text="user name, or 'system' for the monitor")
    action = models.CharField(max_length=100)
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.SET_NULL)
    cluster_name = models.CharField(max_length=100, blank=True)
    member_name = models.CharField(max_length=63, blank=True)
    outcome = models.CharField(max_length=10, choices=[(OK, "ok"), (FAILED, "failed"), (REFUSED, "refused")])
    detail = models.TextField(blank=True)
    reason = models.TextField(blank=True, help_text="Why the administrator did it")

    class Meta:
        ordering = ["-when", "-pk"]

    @classmethod
    def record(cls, actor, action: str, *, cluster: Cluster | None = None, member_name: str = "",
               outcome: str = OK, detail: str = "", reason: str = "") -> AuditEvent:
        """Write one event; ``actor`` is a user, a name, or None for the system."""
        if actor is None:
            actor_name = "system"
        elif isinstance(actor, str):
            actor_name = actor
        else:
            actor_name = actor.get_username() or "anonymous"
        return cls.objects.create(
            actor=actor_name, action=action, cluster=cluster,
            cluster_name=cluster.name if cluster else "", member_name=member_name,
            outcome=outcome, detail=detail, reason=reason,
        )


class Job(models.Model):
    """A procedure run on a cluster's hosts, step by step, by the worker or the CLI."""

    QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
    ACTIVE_STATUSES = [QUEUED, RUNNING]
    STATUS_CHOICES = [(s, s.capitalize()) for s in (QUEUED, RUNNING, SUCCEEDED, FAILED)]

    kind = models.CharField(max_length=30)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="jobs")
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    member_name = models.CharField(max_length=63, blank=True)
    upgrade = models.ForeignKey("Upgrade", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED)
    started_by = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=100, blank=True, help_text="host:pid running it")

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            # The database, not the application, guarantees one job at a time per cluster,
            # whatever the number of web processes and workers.
            models.UniqueConstraint(
                fields=["cluster"], condition=Q(status__in=["queued", "running"]),
                name="one_active_job_per_cluster",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("job-detail", args=[self.pk])

    @property
    def title(self) -> str:
        from hacontrol.ha.procedures import PROCEDURES

        label = PROCEDURES[self.kind].label if self.kind in PROCEDURES else self.kind
        return f"{label} {self.member_name}".strip()

    @property
    def description(self) -> str:
        from hacontrol.ha.procedures import PROCEDURES

        return PROCEDURES[self.kind].description if self.kind in PROCEDURES else ""

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    def members_in_maintenance(self) -> set[int]:
        """The members this job is working on, which the panel shows as Maintenance."""
        if not self.is_active:
            return set()
        if self.kind in ("switchover", "tune", "upgrade-stop"):
            return set(self.cluster.members.values_list("pk", flat=True))
        return {self.member_id} if self.member_id else set()

    @property
    def progress(self) -> int:
        """Percent of steps finished, for the progress bar."""
        steps = list(self.steps.all())
        if not steps:
            return 100 if not self.is_active else 0
        done = sum(1 for step in steps if step.status != JobStep.PENDING and step.status != JobStep.RUNNING)
        return round(100 * done / len(steps))


class JobStep(models.Model):
    """One step of a job: what ran on which host, its output, and how it ended."""

    PENDING, RUNNING, SUCCEEDED, FAILED, UNDONE, SKIPPED = (
        "pending", "running", "succeeded", "failed", "undone", "skipped",
    )
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, default=PENDING)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    output = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="step_position_unique")]


class Upgrade(models.Model):
    """A guided update of Central on every member, stage by stage, each stage a job.

    Stages: pre-flight checks, stop every secondary, upgrade the primary, upgrade each
    secondary in turn, final check. The wizard's state lives here, so it resumes at the same
    stage after a browser, web server or worker restart, and whoever signs in next.
    """

    PREPARING, FAILED, SUCCEEDED, ABORTED = "preparing", "failed", "succeeded", "aborted"
    RUNNING = "running"
    OPEN_STATUSES = [PREPARING, RUNNING, FAILED]
    STATUS_CHOICES = [(s, s.capitalize()) for s in (PREPARING, RUNNING, FAILED, SUCCEEDED, ABORTED)]

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="upgrades")
    started_by = models.CharField(max_length=150)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=PREPARING)
    stage = models.PositiveSmallIntegerField(default=0, help_text="Index into stages()")
    installer_name = models.CharField(max_length=255)
    installer_file = models.CharField(max_length=500, blank=True, help_text="Uploaded copy on the console")
    installer_host_path = models.CharField(max_length=500, blank=True, help_text="Or a path already on the hosts")
    installer_sha256 = models.CharField(max_length=64, blank=True)
    installer_size = models.BigIntegerField(default=0)
    target_version = models.CharField(max_length=50)
    member_order = models.JSONField(default=list, help_text="Member ids: primary first, then secondaries")
    versions_before = models.JSONField(default=dict, blank=True)
    versions_after = models.JSONField(default=dict, blank=True)
    stopped = models.JSONField(default=list, blank=True, help_text="Secondaries this upgrade stopped")
    overridden = models.TextField(blank=True, help_text="Why failed pre-flight checks were overridden")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster"], condition=Q(status__in=["preparing", "running", "failed"]),
                name="one_open_upgrade_per_cluster",
            ),
        ]

    def __str__(self) -> str:
        return f"upgrade #{self.pk} of {self.cluster} to {self.target_version}"

    def get_absolute_url(self) -> str:
        return reverse("upgrade-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def members(self) -> list[Member]:
        """The members in upgrade order (primary first), as they were when it started."""
        found = {m.pk: m for m in self.cluster.members.filter(pk__in=self.member_order)}
        return [found[pk] for pk in self.member_order if pk in found]

    def stages(self) -> list[tuple[str, Member | None]]:
        """(job kind, member) for each stage, in order."""
        members = self.members()
        return [
            ("upgrade-preflight", None),
            ("upgrade-stop", None),
            *[("upgrade-member", member) for member in members],
            ("upgrade-final", None),
        ]


class SignInFailure(models.Model):
    """A failed sign-in, kept to throttle password guessing per user name and per address."""

    when = models.DateTimeField(default=timezone.now, db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    address = models.CharField(max_length=45, db_index=True)

    WINDOW = timedelta(minutes=15)
    LIMIT = 5

    @classmethod
    def record(cls, username: str, address: str) -> None:
        """Keep one failure; failures older than the window no longer matter and are dropped."""
        cls.objects.filter(when__lt=timezone.now() - cls.WINDOW).delete()
        cls.objects.create(username=username, address=address)

    @classmethod
    def too_many(cls, username: str, address: str) -> bool:
        """Five failures in fifteen minutes for the name, or twenty for the address, lock it."""
        since = timezone.now() - cls.WINDOW
        recent = cls.objects.filter(when__gte=since)
        return recent.filter(username=username).count() >= cls.LIMIT or \
            recent.filter(address=address).count() >= 4 * cls.LIMIT
