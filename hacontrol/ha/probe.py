"""Look at every member of a cluster and derive its state by Central's rules.

Looking at a host is pure remote work, done for all members at once in a bounded thread pool (each
host limited by its own timeouts, so one dead host never delays the others), and nothing that
goes wrong looking at one member can stop the others: any failure makes that member Offline with
the reason. Deriving and saving states happens afterwards in the calling thread, which alone
touches the database, and only if no newer states were saved meanwhile (a job's, say).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone as django_timezone
from django.utils.crypto import salted_hmac
from django.views.decorators.debug import sensitive_variables

from hacontrol.ha.models import AuditEvent, Cluster, Member, State, StateChange
from hacontrol.ha.notify import announce
from hacontrol.lib import central
from hacontrol.lib.dns import check_round_robin, verify_through_name
from hacontrol.lib.masking import mask_preferences, mask_value, secret_settings
from hacontrol.lib.prefs import Preferences, PreferencesError
from hacontrol.remote import HostKeyError, HostReport, RemoteError, call, open_connection

logger = logging.getLogger("hacontrol.probe")
HEARTBEAT_KEYS = ("HeartbeatInterval", "HeartbeatMaxAllowedDowntime")
DATABASE_KEYS = ("DatabaseServer", "DatabaseUsername")
# A clock that moved less than this since the last probe is not worth a write.
SKEW_RESOLUTION = 0.5
# Seconds a page may wait for a backup read on demand.
READ_TIMEOUT = 15
# Looks probe_cluster takes when others keep saving first.
RELOOKS = 5


@dataclass
class Observation:
    """What one look at a host found: ``error`` when the host could not be looked at, ``problem``
    when it could but its preferences cannot be read."""

    at: float
    report: HostReport | None = None
    preferences: Preferences | None = None
    error: str = ""
    problem: str = ""
    presented_key: str = ""
    findings: dict = field(default_factory=dict)
    masked: str | None = None

    @property
    def running(self) -> bool:
        return self.report is not None and self.report.service.running

    def started_at(self) -> float | None:
        """When Central's service started, on the console's clock."""
        if self.report is None or self.report.service.started_at is None:
            return None
        return self.report.service.started_at - (self.report.clock_skew or 0.0)


def observe(member: Member) -> Observation:
    """Look at ``member``'s host once. Never raises: whatever goes wrong is the observation."""
    try:
        report = call(member.connection_settings(), lambda remote: remote.report())
    except HostKeyError as error:
        return Observation(time.time(), error=str(error), presented_key=error.presented_key)
    except RemoteError as error:
        return Observation(time.time(), error=str(error))
    except ImproperlyConfigured as error:
        return Observation(time.time(), error=f"hacontrol cannot use this member's settings: {error}")
    except Exception as error:  # noqa: BLE001 - one broken member must never stop the others
        logger.exception("looking at %s failed", member.address)
        return Observation(time.time(), error=f"internal error looking at the host: {error!r}")
    at = (report.before + report.after) / 2
    found = {"backups": report.backups, **report.extra}
    if report.preferences is None:
        return Observation(at, report, problem=report.preferences_error, findings=found)
    masked = mask_preferences(report.preferences)
    try:
        prefs = Preferences.parse(report.preferences)
    except PreferencesError as error:
        return Observation(at, report, problem=f"preferences.cfg: {error}", findings=found, masked=masked)
    return Observation(at, report, prefs, findings={**found, **findings_of(prefs, report.preferences)}, masked=masked)


def findings_of(prefs: Preferences, data: bytes) -> dict:
    """What the preferences say about how the member is set up, without a secret: values are
    masked, and each secret setting is kept as a keyed digest, to tell equal from different."""
    return {
        "name_on_host": prefs.get("ClusterMemberName"),
        "format": prefs.format.value,
        "database_type": prefs.database_type,
        **{key: mask_value(prefs.get(key) or "") for key in DATABASE_KEYS},
        "secret_digests": {key.lower(): secret_digest(value) for key, value in secret_settings(data).items()},
    }


def secret_digest(value: str) -> str:
    """A digest that tells two secret values equal or different, and nothing else: keyed with
    the console's SECRET_KEY, so it cannot be tried against guesses elsewhere."""
    return salted_hmac("hacontrol.secret-digest", value).hexdigest()[:16]


def observe_all(members: list[Member]) -> dict[int, Observation]:
    """Observe every member in parallel, at most HACONTROL_PROBE_CONCURRENCY at a time."""
    if not members:
        return {}
    workers = min(settings.HACONTROL_PROBE_CONCURRENCY, len(members))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {member.pk: pool.submit(observe, member) for member in members}
        return {pk: future.result() for pk, future in futures.items()}


def epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def facts_of(member: Member, seen: Observation | None) -> central.Facts:
    """The facts Central's rules need about ``member``, from one observation."""
    skew = seen.report.clock_skew if seen is not None and seen.report is not None else None
    known = central.Facts(key=member.pk, name=member.name, priority=member.priority, registered=member.registered,
                          last_valid=epoch(member.last_seen), valid_since=epoch(member.serving_since),
                          clock_skew=skew if skew is not None else member.clock_skew)
    if seen is None:
        return replace(known, observed=False)
    if seen.report is None:
        return replace(known, reachable=False, error=seen.error)
    if not seen.report.installed:
        return replace(known, installed=False)
    prefs = seen.preferences
    if prefs is None:
        return replace(known, running=seen.running, started_at=seen.started_at(), problem=seen.problem)
    return replace(
        known, running=seen.running, started_at=seen.started_at(), name_on_host=prefs.get("ClusterMemberName"),
        database_type=prefs.database_type,
        database=f"{prefs.database_type.lower()} {prefs.get('DatabaseServer') or ''}".strip(),
        timing=central.Timing.from_settings(*(prefs.get(key) for key in HEARTBEAT_KEYS)),
    )


def probe_cluster(cluster: Cluster, *, quiet: set[int] | None = None) -> list[Member]:
    """Observe and update every member of ``cluster`` now, and return the members as this look
    found them. A look that another one beat to saving is older news and dropped (``record``):
    its members would still carry the states loaded before it began, so it is taken again. A job
    deciding on the result (is it Standby yet?) thus never decides on states from before it asked:
    the monitor's look at a stopped Central, saved just after the job started it, once failed a
    Set Active whose members were all running again."""
    for _ in range(RELOOKS):
        recorded: set[int] = set()
        members = _probe_clusters([cluster], quiet, recorded)[cluster.pk]
        if cluster.pk in recorded:
            return members
    # Every look of ours was beaten: the states saved meanwhile come from looks that began after
    # our first one did, which is all a caller needs.
    cluster.refresh_from_db()
    return list(Member.objects.filter(cluster=cluster).select_related("cluster"))


def probe_clusters(clusters: list[Cluster], *, quiet: set[int] | None = None) -> dict[int, list[Member]]:
    """Observe the members of all ``clusters`` at once (so a hung host in one cluster never
    delays another), then update each cluster whose states nobody saved meanwhile. ``quiet``
    members are being worked on by a job: no alarm is raised about them."""
    return _probe_clusters(clusters, quiet, set())


def _probe_clusters(clusters: list[Cluster], quiet: set[int] | None, recorded: set[int]) -> dict[int, list[Member]]:
    """probe_clusters, adding to ``recorded`` the clusters whose states this look saved."""
    versions = dict(Cluster.objects.filter(pk__in=[c.pk for c in clusters]).values_list("pk", "state_version"))
    members = list(Member.objects.filter(cluster__in=clusters).select_related("cluster"))
    seen = observe_all(members)
    by_cluster: dict[int, list[Member]] = {cluster.pk: [] for cluster in clusters}
    for member in members:
        by_cluster[member.cluster_id].append(member)
    for cluster in clusters:
        try:
            if record(cluster, by_cluster[cluster.pk], seen, version=versions.get(cluster.pk, 0), quiet=quiet):
                recorded.add(cluster.pk)
        except Exception:  # noqa: BLE001 - one cluster's failure must not stop the others
            logger.exception("saving the states of %s failed", cluster.name)
    return by_cluster


OBSERVED_FIELDS = ["state", "state_reason", "last_error", "version", "clock_skew", "heartbeat_settings",
                   "presented_host_key", "findings", "preferences_masked", "service_started", "serving_since"]


def record(cluster: Cluster, members: list[Member], seen: dict[int, Observation], *, version: int,
           quiet: set[int] | None = None) -> bool:
    """Derive and save one cluster's states, history and failovers, unless states newer than
    ``version`` were saved meanwhile (then this observation is older news: dropped). In a steady
    cluster nothing but the time of the check changes: two plain UPDATEs."""
    now = time.time()
    fresh = Cluster.objects.filter(pk=cluster.pk).first()
    if fresh is None or fresh.state_version != version:
        return False
    running = fresh.running_job()
    quiet = set(quiet or ()) | set(running.affected if running else ())
    verdict = central.derive([facts_of(m, seen.get(m.pk)) for m in members], fresh.memory(), now)
    moment = django_timezone.now()
    transitions, dirty = [], []
    for member in members:
        observation = seen.get(member.pk)
        state, reason = verdict.states[member.pk]
        if state != member.state:
            transitions.append(StateChange(member=member, when=moment, from_state=member.state, to_state=state, reason=reason[:500]))
        before = [getattr(member, name) for name in OBSERVED_FIELDS]
        member.state, member.state_reason = state, reason[:500]
        member.last_checked = moment
        if observation is not None:
            apply_observation(member, observation)
        if member.pk in verdict.valid:
            member.last_seen = moment
            member.serving_since = member.serving_since or moment
        else:
            member.serving_since = None
        if before != [getattr(member, name) for name in OBSERVED_FIELDS]:
            dirty.append(member)
    failover = {}
    if verdict.failover:
        names = {m.pk: m.name for m in members}
        failover = {"from": names[verdict.failover.from_key], "to": [names[k] for k in verdict.failover.candidates],
                    "earliest": verdict.failover.earliest, "latest": verdict.failover.latest}
    serving = [m.pk for m in members if m.pk in verdict.valid]
    with transaction.atomic():
        if not fresh.remember(verdict.memory, verdict.note, failover, version=version):
            return False
        Member.objects.filter(pk__in=serving).update(last_checked=moment, last_seen=moment)
        Member.objects.filter(cluster=cluster).exclude(pk__in=serving).update(last_checked=moment)
        if dirty:
            Member.objects.bulk_update(dirty, OBSERVED_FIELDS)
        StateChange.objects.bulk_create(transitions)
        Cluster.objects.filter(pk=cluster.pk).update(last_checked=moment)
        for change in transitions:
            if change.to_state == State.OFFLINE and change.member.pk not in quiet:
                announce(fresh, "offline", f"{change.member.name} is Offline: {change.reason}",
                         {"member": change.member.name, "from": change.from_state, "reason": change.reason})
        if verdict.took_over and verdict.took_over[0] not in quiet:
            record_failover(fresh, members, verdict.took_over)
    for name in ("ha_note", "failover", "active_member_id", "state_version", "active_seen", "active_down_since"):
        setattr(cluster, name, getattr(fresh, name))
    cluster.last_checked = moment
    return True


def apply_observation(member: Member, observation: Observation) -> None:
    """Copy what a look found onto the member (keeping what it could not see)."""
    member.last_error = observation.error or observation.problem
    member.presented_host_key = observation.presented_key or member.presented_host_key
    report = observation.report
    if report is None:
        return
    member.version = report.version or member.version
    skew = report.clock_skew
    if skew is not None and (member.clock_skew is None or abs(skew - member.clock_skew) >= SKEW_RESOLUTION):
        member.clock_skew = skew
    started = observation.started_at()
    member.service_started = datetime.fromtimestamp(started, timezone.utc) if started and report.service.running else None
    if observation.preferences is not None:
        member.heartbeat_settings = {key: observation.preferences.get(key) for key in HEARTBEAT_KEYS
                                     if observation.preferences.get(key) is not None}
    if observation.findings:
        member.findings = observation.findings
    if observation.masked is not None:
        member.preferences_masked = observation.masked


def record_failover(cluster: Cluster, members: list[Member], took_over: tuple[int, tuple[int, ...]]) -> None:
    """Audit and announce a failover Central has certainly done (the successor may be uncertain)."""
    names = {m.pk: m.name for m in members}
    previous, successors = names[took_over[0]], [names[key] for key in took_over[1]]
    target = " or ".join(successors)
    detail = f"Central failed over from {previous} to {target}"
    AuditEvent.record(None, "failover", cluster=cluster, member_name=target, detail=detail)
    announce(cluster, "failover", detail, {"member": target, "previous": previous})


@sensitive_variables()  # the file as read, before it is masked
def read_backup(member: Member, name: str) -> str:
    """A backup hacontrol kept on the member's host, read now, with every secret masked. It uses
    a connection of its own, closed at once (a web process keeps none open), and a short time
    limit; a failure is the remote layer's error."""
    member.check_backup_name(name)
    host = replace(member.connection_settings(), timeout=min(settings.HACONTROL_COMMAND_TIMEOUT, READ_TIMEOUT))
    connection = open_connection(host)
    try:
        return mask_preferences(connection.read_file(member.backup_path(name)))
    finally:
        connection.close()


def check_dns(cluster: Cluster) -> dict:
    """Compare the cluster's round-robin DNS name with its members, and verify it leads to the
    Active Central (``cluster.dns_verification``); store both and return the comparison."""
    report: dict = {}
    verification: dict = {}
    if cluster.dns_name:
        members = list(cluster.members.values_list("name", "address"))
        report = check_round_robin(cluster.dns_name, members, cluster.dns_resolver).as_dict()
        active_id = Cluster.objects.filter(pk=cluster.pk).values_list("active_member_id", flat=True).first()
        active = Member.objects.filter(pk=active_id).values_list("name", flat=True).first() or "" if active_id else ""
        verification = verify_through_name(cluster.dns_name, members, active, cluster.central_port,
                                           cluster.dns_resolver).as_dict()
    cluster.dns_report, cluster.dns_verification, cluster.dns_checked = report, verification, django_timezone.now()
    Cluster.objects.filter(pk=cluster.pk).update(dns_report=report, dns_verification=verification,
                                                 dns_checked=cluster.dns_checked)
    return report
