"""Find out what every member of a cluster is doing, and derive its HA state from that.

Observing a host is pure remote work, done for all members at once in a bounded thread pool
(each host limited by its own timeouts, so one dead host never delays the others); deriving and
saving states happens afterwards in the calling thread, which alone touches the database.
"""

from __future__ import annotations

import re
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hacontrol.ha.models import AuditEvent, Cluster, Member, State, StateChange
from hacontrol.lib.prefs import Preferences, PreferencesError
from hacontrol.remote import FileNotFound, HostKeyError, HostSettings, RemoteError, connect
from hacontrol.remote.commands import parse_clock

VERSION = re.compile(r"\d+(?:\.\d+)+")
HEARTBEAT_KEYS = ("HeartbeatInterval", "HeartbeatMaxAllowedDowntime")


@dataclass
class Observation:
    """What one look at a host found; ``error`` set means it could not be reached."""

    running: bool = False
    name_on_host: str | None = None
    version: str = ""
    clock_skew: float | None = None
    heartbeat: dict | None = None
    error: str = ""
    presented_key: str = ""


def observe(host: HostSettings) -> Observation:
    """Ask the host whether Central runs, under which name and version, and read its clock:
    one batch of commands (a single round trip over SSH)."""
    commands = host.platform_commands
    path = shlex.quote(host.preferences_path) if host.platform == "linux" else host.preferences_path
    try:
        remote = connect(host)
        before = time.time()
        status, clock, version, prefs_text = remote.run_batch(
            [commands.status, commands.clock, commands.version, commands.read_file.format(path=path)]
        )
        after = time.time()
        if not prefs_text.ok:
            raise FileNotFound(f"{host.address}: cannot read {host.preferences_path}: {prefs_text.stdout.strip()}")
        prefs = Preferences.parse(prefs_text.stdout.encode("utf-8", "surrogateescape"))
    except HostKeyError as error:
        return Observation(error=str(error), presented_key=error.presented_key)
    except RemoteError as error:
        # The pooled connection stays: connect() replaces it once it is dead, and a job may be
        # using it this very moment.
        return Observation(error=str(error))
    except PreferencesError as error:
        return Observation(error=f"preferences.cfg: {error}")
    skew = None
    if clock.ok:
        try:
            skew = parse_clock(clock.stdout) - (before + after) / 2
        except ValueError:
            pass
    found = VERSION.search(version.stdout) if version.ok else None
    return Observation(
        running=commands.is_running(status.exit_code, status.stdout),
        name_on_host=prefs.get("ClusterMemberName"),
        version=found.group(0) if found else "",
        clock_skew=skew,
        heartbeat={key: prefs.get(key) for key in HEARTBEAT_KEYS if prefs.get(key) is not None},
    )


def observe_all(members: list[Member]) -> dict[int, Observation]:
    """Observe every member in parallel, at most HACONTROL_PROBE_CONCURRENCY at a time."""
    if not members:
        return {}
    hosts = {member.pk: member.connection_settings() for member in members}
    workers = min(settings.HACONTROL_PROBE_CONCURRENCY, len(hosts))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pk: pool.submit(observe, host) for pk, host in hosts.items()}
        return {pk: future.result() for pk, future in futures.items()}


def derive_states(members: list[Member], seen: dict[int, Observation]) -> dict[int, tuple[str, str]]:
    """Each member's (state, reason) as domain.md defines them: the running, correctly named
    member with the lowest priority is Active, the other running ones Standby."""
    states: dict[int, tuple[str, str]] = {}
    serving = []
    for member in members:
        observation = seen.get(member.pk)
        if observation is None:
            states[member.pk] = (State.UNKNOWN, "not checked yet")
        elif observation.error:
            states[member.pk] = (State.OFFLINE, f"host unreachable: {observation.error}")
        elif not observation.running:
            states[member.pk] = (State.OFFLINE, "service stopped")
        elif observation.name_on_host is None:
            states[member.pk] = (State.OFFLINE, "name missing: preferences.cfg has no ClusterMemberName")
        elif observation.name_on_host != member.name:
            states[member.pk] = (State.OFFLINE, f"name mismatch: the host calls itself {observation.name_on_host!r}")
        else:
            serving.append(member)
    for rank, member in enumerate(sorted(serving, key=lambda m: m.priority)):
        states[member.pk] = (State.ACTIVE, "") if rank == 0 else (State.STANDBY, "")
    return states


def probe_cluster(cluster: Cluster) -> list[Member]:
    """Observe and update every member of ``cluster``; record state changes and failovers."""
    return probe_clusters([cluster])[cluster.pk]


def probe_clusters(clusters: list[Cluster]) -> dict[int, list[Member]]:
    """Observe the members of all ``clusters`` at once (so a hung host in one cluster never
    delays another), then update each cluster."""
    members = list(Member.objects.filter(cluster__in=clusters).select_related("cluster"))
    seen = observe_all(members)
    by_cluster: dict[int, list[Member]] = {cluster.pk: [] for cluster in clusters}
    for member in members:
        by_cluster[member.cluster_id].append(member)
    for cluster in clusters:
        record(cluster, by_cluster[cluster.pk], seen)
    return by_cluster


OBSERVED_FIELDS = ["state", "state_reason", "last_error", "version", "clock_skew", "heartbeat_settings",
                   "presented_host_key"]
# A clock that moved less than this since the last probe is not worth a write.
SKEW_RESOLUTION = 0.5


def record(cluster: Cluster, members: list[Member], seen: dict[int, Observation]) -> None:
    """Save what was seen of one cluster's members: states, history, failovers.

    In a steady cluster nothing but the time of the check changes, so the timestamps go out as
    two plain UPDATEs and only members that changed are written one by one."""
    states = derive_states(members, seen)
    now = timezone.now()
    previously_active = next((m for m in members if m.state == State.ACTIVE), None)
    transitions, dirty = [], []
    for member in members:
        observation = seen[member.pk]
        state, reason = states[member.pk]
        if state != member.state:
            transitions.append(StateChange(member=member, when=now, from_state=member.state, to_state=state, reason=reason))
        before = [getattr(member, name) for name in OBSERVED_FIELDS]
        member.state, member.state_reason, member.last_error = state, reason, observation.error
        member.version = observation.version or member.version
        if observation.clock_skew is not None and (
                member.clock_skew is None or abs(observation.clock_skew - member.clock_skew) >= SKEW_RESOLUTION):
            member.clock_skew = observation.clock_skew
        member.presented_host_key = observation.presented_key or member.presented_host_key
        if observation.heartbeat is not None:
            member.heartbeat_settings = observation.heartbeat
        member.last_checked = now
        if state in (State.ACTIVE, State.STANDBY):
            member.last_seen = now
        if before != [getattr(member, name) for name in OBSERVED_FIELDS]:
            dirty.append(member)
    serving = [m.pk for m in members if m.state in (State.ACTIVE, State.STANDBY)]
    with transaction.atomic():
        Member.objects.filter(pk__in=serving).update(last_checked=now, last_seen=now)
        Member.objects.filter(cluster=cluster).exclude(pk__in=serving).update(last_checked=now)
        if dirty:
            Member.objects.bulk_update(dirty, OBSERVED_FIELDS)
        StateChange.objects.bulk_create(transitions)
        for change in transitions:
            if change.to_state == State.OFFLINE:
                announce(cluster, "offline", f"{change.member.name} is Offline: {change.reason}",
                         {"member": change.member.name, "from": change.from_state, "reason": change.reason})
        Cluster.objects.filter(pk=cluster.pk).update(last_checked=now)
        cluster.last_checked = now
        now_active = next((m for m in members if m.state == State.ACTIVE), None)
        if previously_active and now_active and now_active.pk != previously_active.pk \
                and previously_active.state != State.ACTIVE:
            detail = (f"{now_active.name} took over from {previously_active.name} "
                      f"({previously_active.state_reason or previously_active.state})")
            AuditEvent.record(None, "failover", cluster=cluster, member_name=now_active.name, detail=detail)
            announce(cluster, "failover", detail, {"member": now_active.name, "previous": previously_active.name})


def announce(cluster: Cluster, event: str, summary: str, detail: dict) -> None:
    """Notify once the state is saved, so a rolled-back probe never sends a false alarm."""
    if cluster.notify_email or cluster.notify_webhook:
        from hacontrol.ha.notify import notify

        transaction.on_commit(lambda: notify(cluster, event, summary, detail))


def check_dns(cluster: Cluster) -> dict:
    """Compare the cluster's round-robin DNS name with its members; store and return the report."""
    from hacontrol.lib.dns import check_round_robin

    if not cluster.dns_name:
        report = {}
    else:
        members = list(cluster.members.values_list("name", "address"))
        report = check_round_robin(cluster.dns_name, members, cluster.dns_resolver).as_dict()
    cluster.dns_report, cluster.dns_checked = report, timezone.now()
    Cluster.objects.filter(pk=cluster.pk).update(dns_report=report, dns_checked=cluster.dns_checked)
    return report
