"""The audit trail, the state history, sign-in failures and leases."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from hacontrol.ha.models.choices import Outcome, State
from hacontrol.ha.models.cluster import Cluster
from hacontrol.ha.models.member import Member


class AuditEvent(models.Model):
    """Who did what, when, to which cluster or member, and how it ended. Never deleted with them."""

    OK, FAILED, REFUSED = Outcome.OK, Outcome.FAILED, Outcome.REFUSED
    when = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150, help_text="user name, cli:<os user>, or 'system' for the monitor")
    action = models.CharField(max_length=100)
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.SET_NULL)
    cluster_name = models.CharField(max_length=100, blank=True)
    member_name = models.CharField(max_length=63, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    reason = models.TextField(blank=True, help_text="Why the administrator did it")

    class Meta:
        ordering = ["-when", "-pk"]

    @classmethod
    def record(cls, actor, action: str, *, cluster: Cluster | None = None, member_name: str = "",
               outcome: str = Outcome.OK, detail: str = "", reason: str = "") -> AuditEvent:
        """Write one event; ``actor`` is a user, a name, or None for the system."""
        if actor is None:
            actor_name = "system"
        elif isinstance(actor, str):
            actor_name = actor
        else:
            actor_name = actor.get_username() or "anonymous"
        return cls.objects.create(
            actor=actor_name[:150], action=action, cluster=cluster,
            cluster_name=cluster.name if cluster else "", member_name=member_name,
            outcome=outcome, detail=detail, reason=reason,
        )


class StateChangeQuerySet(models.QuerySet):
    def prune(self) -> int:
        """Forget changes older than HACONTROL_HISTORY_DAYS; returns how many went."""
        cutoff = timezone.now() - timedelta(days=settings.HACONTROL_HISTORY_DAYS)
        return self.filter(when__lt=cutoff).delete()[0]


class StateChange(models.Model):
    """A member moved from one state to another, as a look at the hosts found it."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="state_changes")
    when = models.DateTimeField(default=timezone.now, db_index=True)
    from_state = models.CharField(max_length=12, choices=State.choices)
    to_state = models.CharField(max_length=12, choices=State.choices)
    reason = models.CharField(max_length=500, blank=True)

    objects = StateChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-when"]


class SignInFailure(models.Model):
    """A failed sign-in, kept to throttle password guessing per user name and per address.

    A user name with five failures in fifteen minutes is locked for the rest of them. An address
    (the client's, behind a trusted proxy: hacontrol.lib.clients) is never locked, since every user
    behind one NAT or proxy would be: after twenty failures each further attempt from it waits, 1 s
    after the last failure, then 2, 4 ... up to a minute, which slows guessing to one a minute and
    lets the others in after at most that.
    """

    when = models.DateTimeField(default=timezone.now, db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    address = models.CharField(max_length=45, db_index=True)

    WINDOW = timedelta(minutes=15)
    LIMIT = 5
    ADDRESS_FREE = 20
    ADDRESS_MAX_DELAY = 60

    @classmethod
    def record(cls, username: str, address: str) -> None:
        """Keep one failure; failures older than the window no longer matter and are dropped."""
        cls.objects.filter(when__lt=timezone.now() - cls.WINDOW).delete()
        cls.objects.create(username=username, address=address)

    @classmethod
    def refusal(cls, username: str, address: str) -> str | None:
        """Why a sign-in may not be tried now, or None when it may."""
        now = timezone.now()
        recent = cls.objects.filter(when__gte=now - cls.WINDOW)
        if recent.filter(username=username).count() >= cls.LIMIT:
            return "Too many failed sign-ins: wait 15 minutes, or ask an administrator to check the audit log."
        from_address = recent.filter(address=address).aggregate(count=models.Count("pk"), last=models.Max("when"))
        if from_address["count"] >= cls.ADDRESS_FREE:
            delay = min(2 ** (from_address["count"] - cls.ADDRESS_FREE), cls.ADDRESS_MAX_DELAY)
            wait = (from_address["last"] + timedelta(seconds=delay) - now).total_seconds()
            if wait > 0:
                return (f"Too many failed sign-ins from your address: wait {math.ceil(wait)} s before trying "
                        "again.")
        return None


class Lease(models.Model):
    """A named lease held by one process at a time (the state monitor's), taken over by another
    once it expires: several workers, on several machines, probe the hosts exactly once.

    Its holder also keeps here how its rounds go (how many, how long the last took), so /metrics,
    served by any web process, reads them from the database whichever worker probes now."""

    name = models.CharField(max_length=50, unique=True)
    owner = models.CharField(max_length=200, blank=True)
    expires = models.DateTimeField(null=True, blank=True)
    rounds = models.PositiveBigIntegerField(default=0, help_text="Rounds done under this lease, by any holder")
    last_round_seconds = models.FloatField(null=True, blank=True, help_text="How long the last round took")
    last_round_finished = models.DateTimeField(null=True, blank=True)
