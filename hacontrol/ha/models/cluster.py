"""A Micetro Central HA cluster, and what hacontrol remembers of Central's decisions for it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from hacontrol.ha.fields import EncryptedTextField
from hacontrol.ha.models.choices import ACTIVE_JOB_STATUSES, OPEN_UPGRADE_STATUSES, DnsPolicy, State
from hacontrol.lib.central import Memory
from hacontrol.lib.dns import CENTRAL_PORT, addresses_of, make_resolver, parse_server
from hacontrol.lib.dnsupdate import ALGORITHMS, Resolve, Target, settings_problems
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

    Its round-robin name can be kept in step with the members by RFC 2136 updates, signed with a
    TSIG key, sent to the zone's primary server (``dns_zone``, ``dns_server``, ``dns_key_*``; the
    secret is encrypted at rest like the members' credentials). GSS-TSIG is not supported.

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
    dns_zone = models.CharField(
        "DNS zone", max_length=253, blank=True,
        help_text="The zone holding the name, e.g. example.com; empty: hacontrol only checks the name",
    )
    dns_server = models.CharField(
        "DNS server for updates", max_length=100, blank=True,
        help_text="IP address (optionally :port, or [IPv6]:port) of the zone's primary server, which takes "
                  "RFC 2136 updates",
    )
    dns_key_name = models.CharField(
        "TSIG key name", max_length=253, blank=True,
        help_text="The key the server lets update the name (BIND: allow-update or update-policy). GSS-TSIG "
                  "(Active Directory-integrated zones) is not supported",
    )
    dns_key_algorithm = models.CharField(
        "TSIG algorithm", max_length=20, default=ALGORITHMS[0], choices=[(a, a) for a in ALGORITHMS],
    )
    dns_key_secret = EncryptedTextField(
        "TSIG secret", blank=True, help_text="Base64, as in the key's secret line; stored encrypted",
    )
    dns_member_policy = models.CharField(
        "DNS record of an added or removed member", max_length=10, choices=DnsPolicy.choices, default=DnsPolicy.ASK,
        help_text="Whether adding or removing a member also adds or deletes its address in the name",
    )
    central_port = models.PositiveIntegerField(
        "Central's port", default=CENTRAL_PORT,
        help_text="Verifying the name connects to it at every address (Central listens on TCP 1231)",
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
    dns_verification = models.JSONField(
        default=dict, blank=True, help_text="The last look through the name: Central's port at each address",
    )
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
        if self.dns_resolver:
            try:
                parse_server(self.dns_resolver)
            except ValueError:
                problems["dns_resolver"] = "enter an IP address, optionally with :port ([IPv6]:port)"
        if not 1 <= (self.central_port or 0) <= 65535:
            problems["central_port"] = "a port is 1 to 65535"
        problems.update(self.dns_update_problems())
        problems.update(heartbeat_problems(self.heartbeat_interval, self.heartbeat_max_downtime))
        if problems:
            raise ValidationError(problems)

    DNS_UPDATE_FIELDS = ("dns_zone", "dns_server", "dns_key_name", "dns_key_secret")

    @property
    def dns_updates_on(self) -> bool:
        """Whether hacontrol may change the round-robin name (zone, server and key are set)."""
        return bool(self.dns_name and all(getattr(self, name) for name in self.DNS_UPDATE_FIELDS))

    def dns_update_problems(self) -> dict[str, str]:
        """Updates need every setting or none; set, they must be usable."""
        given = [name for name in self.DNS_UPDATE_FIELDS if getattr(self, name)]
        if not given:
            if self.dns_member_policy == DnsPolicy.ALWAYS:
                return {"dns_member_policy": "set the zone, server and TSIG key first: hacontrol cannot update the "
                                             "name without them"}
            return {}
        missing = [name for name in self.DNS_UPDATE_FIELDS if not getattr(self, name)]
        if missing:
            words = {"dns_zone": "the zone", "dns_server": "the server", "dns_key_name": "the TSIG key name",
                     "dns_key_secret": "the TSIG secret"}
            return {missing[0]: "DNS updates need " + ", ".join(words[name] for name in missing) + " too "
                                "(or clear every update setting)"}
        if not self.dns_name:
            return {"dns_name": "DNS updates need the round-robin name"}
        found = settings_problems(self.dns_zone, self.dns_server, self.dns_key_name, self.dns_key_algorithm,
                                  self.dns_key_secret, self.dns_name)
        fields = {"zone": "dns_zone", "server": "dns_server", "key_name": "dns_key_name",
                  "algorithm": "dns_key_algorithm", "secret": "dns_key_secret"}
        return {fields[key]: text for key, text in found.items()}

    def dns_target(self) -> Target:
        """Where and with which key the name is updated (only when :attr:`dns_updates_on`)."""
        return Target(self.dns_zone, self.dns_server, self.dns_key_name, self.dns_key_algorithm, self.dns_key_secret)

    def host_resolver(self) -> Resolve:
        """How a member given by host name is resolved: through the cluster's resolver (or the system's)."""
        resolver = make_resolver(self.dns_resolver)
        return lambda host: addresses_of(resolver, host)

    def updates_member_dns(self, answer: bool | None) -> bool:
        """Whether adding or removing a member changes the name too: the cluster's policy decides,
        ``answer`` (the administrator's, when it asks) only under 'ask'."""
        if not self.dns_updates_on:
            return False
        return {DnsPolicy.ALWAYS: True, DnsPolicy.NEVER: False}.get(DnsPolicy(self.dns_member_policy), bool(answer))

    def primary(self) -> Member | None:
        """The member with the lowest priority: the one Central chooses first (the vendor's
        "primary"). Which member is Active now is :attr:`active_member`."""
        return self.members.order_by("priority").first()

    def next_priority(self) -> int:
        """A sensible default for a new member: 10 for the first, then 10 above the highest."""
        highest = self.members.aggregate(models.Max("priority"))["priority__max"]
        return PRIMARY_PRIORITY if highest is None else highest + PRIORITY_STEP

    def secrets(self) -> list[str]:
        """Every credential stored for the cluster (its TSIG secret) and its members (their own and
        their saved credentials'), longest first, for redaction of output."""
        found: set[str] = {self.dns_key_secret} if len(self.dns_key_secret) >= 4 else set()
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
