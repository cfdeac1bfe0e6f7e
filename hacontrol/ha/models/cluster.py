"""A Micetro Central HA cluster, and what hacontrol remembers of Central's decisions for it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from hacontrol.ha.models.choices import ACTIVE_JOB_STATUSES, OPEN_UPGRADE_STATUSES, State
from hacontrol.lib.central import Memory
from hacontrol.lib.names import HOST_ADDRESS

if TYPE_CHECKING:
    from hacontrol.ha.models.credential import Credential
    from hacontrol.ha.models.job import Job
    from hacontrol.ha.models.member import Member
    from hacontrol.ha.models.upgrade import Upgrade

PRIMARY_PRIORITY = 10
PRIORITY_STEP = 10
MAX_PRIORITY = 1_000_000
HEARTBEAT_INTERVAL_RANGE = (5, 15)
HEARTBEAT_DOWNTIME_RANGE = (20, 120)


def epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def moment(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, timezone.utc) if seconds is not None else None


class ClusterQuerySet(models.QuerySet):
    def with_member_counts(self) -> ClusterQuerySet:
        """Each cluster with how many members it has and how many are serving."""
        return self.annotate(
            member_count=models.Count("members"),
            serving_count=models.Count("members", filter=Q(members__state__in=[State.ACTIVE, State.STANDBY])),
        )


class Cluster(models.Model):
    """A Micetro Central HA cluster: members sharing one database, reached by one DNS name.

    Besides its settings it keeps hacontrol's memory of Central's decisions (which member Central
    made Active, when it was last seen so, since when it no longer serves): Central keeps the
    truth in its own database, which hacontrol cannot read, so the states it shows are derived
    from what the hosts show plus this memory (hacontrol.lib.central).
    """

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

    active_member = models.ForeignKey(
        "Member", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The member hacontrol knows Central made Active",
    )
    active_started = models.DateTimeField(null=True, blank=True, help_text="Its service start when last seen Active")
    active_seen = models.DateTimeField(null=True, blank=True, help_text="When it was last seen serving as Active")
    active_down_since = models.DateTimeField(null=True, blank=True, help_text="Since when it is seen not serving")
    ha_note = models.TextField(blank=True, help_text="What the cluster is doing, or what hacontrol cannot know")
    failover = models.JSONField(default=dict, blank=True, help_text="A failover in progress: from, to, by when")
    state_version = models.PositiveIntegerField(
        default=0, help_text="Bumped at every save of states, so an older observation never overwrites a newer one"
    )

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("cluster-detail", args=[self.pk])

    def clean(self) -> None:
        problems = {}
        if self.dns_name and not HOST_ADDRESS.fullmatch(self.dns_name):
            problems["dns_name"] = "enter a DNS name such as central.example.com"
        problems.update(heartbeat_problems(self.heartbeat_interval, self.heartbeat_max_downtime))
        if problems:
            raise ValidationError(problems)

    def primary(self) -> Member | None:
        """The member with the lowest priority: the one Central chooses first (the vendor's
        "primary"). Which member is Active now is :attr:`active_member`."""
        return self.members.order_by("priority").first()

    def next_priority(self) -> int:
        """A sensible default for a new member: 10 for the first, then 10 above the highest."""
        highest = self.members.aggregate(models.Max("priority"))["priority__max"]
        return PRIMARY_PRIORITY if highest is None else highest + PRIORITY_STEP

    def secrets(self) -> list[str]:
        """Every credential stored for the members (their own and their saved credentials'),
        longest first, for redaction of output."""
        found: set[str] = set()
        for member in self.members.select_related("credential"):
            found.update(member.secret_values())
        return sorted(found, key=len, reverse=True)

    def usual_credential(self) -> Credential | None:
        """The saved credential its members use most: the one a new member most likely uses."""
        from hacontrol.ha.models.credential import Credential

        return (Credential.objects.filter(members__cluster=self).annotate(uses=models.Count("members"))
                .order_by("-uses", "name").first())

    def running_job(self) -> Job | None:
        """The job holding the cluster (queued, running or waiting for an administrator)."""
        return self.jobs.filter(status__in=ACTIVE_JOB_STATUSES).first()

    def open_upgrade(self) -> Upgrade | None:
        return self.upgrades.filter(status__in=OPEN_UPGRADE_STATUSES).first()

    def memory(self) -> Memory:
        """hacontrol's memory of Central's decisions, for hacontrol.lib.central.derive."""
        return Memory(self.active_member_id, epoch(self.active_started), epoch(self.active_seen),
                      epoch(self.active_down_since))

    def remember(self, memory: Memory, note: str, failover: dict, *, version: int) -> bool:
        """Store a new memory unless another writer saved states since ``version`` was read;
        True when stored. The database compares, so two processes cannot both win."""
        fields = {
            "active_member_id": memory.active, "active_started": moment(memory.active_started),
            "active_seen": moment(memory.active_seen), "active_down_since": moment(memory.down_since),
            "ha_note": note, "failover": failover,
        }
        updated = Cluster.objects.filter(pk=self.pk, state_version=version).update(
            state_version=F("state_version") + 1, **fields)
        if updated:
            for name, value in fields.items():
                setattr(self, name, value)
            self.state_version = version + 1
        return bool(updated)


def heartbeat_problems(interval: int | None, max_downtime: int | None) -> dict[str, str]:
    """The vendor's ranges (ha_tweaks_central: interval 5-15, downtime 20-120), and a downtime
    that leaves room for at least two heartbeats, else one late heartbeat fails over."""
    problems = {}
    low, high = HEARTBEAT_INTERVAL_RANGE
    if interval is not None and not low <= interval <= high:
        problems["heartbeat_interval"] = f"HeartbeatInterval must be {low} to {high} seconds"
    low, high = HEARTBEAT_DOWNTIME_RANGE
    if max_downtime is not None and not low <= max_downtime <= high:
        problems["heartbeat_max_downtime"] = f"HeartbeatMaxAllowedDowntime must be {low} to {high} seconds"
    if not problems and interval and max_downtime and max_downtime < 2 * interval:
        problems["heartbeat_max_downtime"] = "HeartbeatMaxAllowedDowntime should be at least twice HeartbeatInterval"
    return problems
