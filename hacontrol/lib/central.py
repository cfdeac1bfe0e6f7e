"""Central's high-availability rules, as the vendor documents them, applied to what hacontrol sees.

Central decides which member is Active, in its own database, and hacontrol cannot read that
decision. What it sees is each host: whether Central runs there and since when, under which
name, against which database, with which heartbeat settings. This module turns those facts, plus
what hacontrol remembered from earlier looks, into each member's state by the vendor's rules:

- ``ha_tweaks_central`` (Micetro docs, "Micetro Central HA Tweaks"): every member writes a heartbeat
  timestamp to the shared database every ``HeartbeatInterval`` seconds (default 10, allowed 5-15);
  "When the current time [UTC - heartbeat timestamp UTC] > [HeartbeatMaxAllowedDowntime] an
  automatic failover is triggered" (default 30, allowed 20-120) "to the next valid Central in the
  list (Valid meaning ... a HA cluster member and is writing its heartbeat timestamp)".
- ``health_bar_information`` ("High availability failure state"): after a failover "the Standby
  server ... becomes the active server and vice versa. The former active server will be in failed
  state until it is fixed or restarted": Active is sticky, a returning former Active is Standby.
- ``central_ha``: members and their priorities are registered in Micetro's High Availability
  configuration; a Central that is not registered there is not a valid member. HA needs an MSSQL or
  PostgreSQL database ("High Availability mode is not available for other database types").

When the facts cannot decide (no history, a restart hacontrol did not see, a failover whose
successor the vendor's words leave open), the state says so instead of guessing. Everything here
is pure: times are seconds since the epoch on the console's clock, hosts' times already corrected
for their clock skew.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

# ha_tweaks_central: "every 10 seconds ... can be tweaked between values of 5 and 15".
DEFAULT_INTERVAL, INTERVAL_RANGE = 10, (5, 15)
# ha_tweaks_central: "The default maximum downtime is set for 30 seconds ... 20-120 seconds".
DEFAULT_MAX_DOWNTIME, MAX_DOWNTIME_RANGE = 30, (20, 120)
# Timers on the hosts and the moment of a look are never exact: a second of slack on every bound.
SLACK = 2.0
# Two readings of a service's start time closer than this are the same start.
SAME_START = 2.0

ACTIVE, STANDBY, TAKING_OVER, OFFLINE, UNKNOWN = "active", "standby", "taking_over", "offline", "unknown"


@dataclass(frozen=True)
class Timing:
    """The heartbeat settings in force, as bounds: a value outside the vendor's range may be
    clamped or ignored by Central (the documentation does not say), so both are allowed for."""

    interval_low: float = DEFAULT_INTERVAL
    interval_high: float = DEFAULT_INTERVAL
    downtime_low: float = DEFAULT_MAX_DOWNTIME
    downtime_high: float = DEFAULT_MAX_DOWNTIME

    @classmethod
    def from_settings(cls, interval: str | None, max_downtime: str | None) -> Timing:
        """Bounds from the preferences' ``HeartbeatInterval`` and ``HeartbeatMaxAllowedDowntime``."""
        interval_low, interval_high = _bounds(interval, DEFAULT_INTERVAL, INTERVAL_RANGE)
        downtime_low, downtime_high = _bounds(max_downtime, DEFAULT_MAX_DOWNTIME, MAX_DOWNTIME_RANGE)
        return cls(interval_low, interval_high, downtime_low, downtime_high)

    @classmethod
    def of_cluster(cls, timings: Iterable[Timing]) -> Timing:
        """Bounds that hold whichever member writes or checks the heartbeats."""
        found = list(timings) or [cls()]
        return cls(min(t.interval_low for t in found), max(t.interval_high for t in found),
                   min(t.downtime_low for t in found), max(t.downtime_high for t in found))

    @property
    def earliest_failover(self) -> float:
        """Seconds after the Active member was last seen running before anyone can take over:
        its last heartbeat was at most one interval before, and it must be older than the
        allowed downtime."""
        return max(0.0, self.downtime_low - self.interval_high - SLACK)

    @property
    def latest_failover(self) -> float:
        """Seconds after the Active member stopped by which Central has failed over: its last
        heartbeat was at or before the stop, and the members check on each of their heartbeats."""
        return self.downtime_high + self.interval_high + SLACK

    @property
    def first_check(self) -> float:
        """Seconds after a member starts by which it has written a heartbeat and looked around."""
        return self.interval_high + SLACK


def _bounds(raw: str | None, default: int, allowed: tuple[int, int]) -> tuple[float, float]:
    if raw is None or not raw.strip():
        return default, default
    try:
        value = int(raw.strip())
    except ValueError:
        return default, default
    low, high = allowed
    if low <= value <= high:
        return value, value
    clamped = min(max(value, low), high)
    return min(clamped, default), max(clamped, default)


@dataclass(frozen=True)
class Facts:
    """What hacontrol knows of one member now (from its last look at the host)."""

    key: int
    name: str
    priority: int
    registered: bool = True
    observed: bool = True
    reachable: bool = True
    error: str = ""
    installed: bool = True
    running: bool = False
    started_at: float | None = None
    problem: str = ""
    name_on_host: str | None = None
    database_type: str = ""
    database: str = ""
    timing: Timing = field(default_factory=Timing)
    last_valid: float | None = None
    valid_since: float | None = None
    clock_skew: float | None = None

    @property
    def since(self) -> float | None:
        """When it started serving: its service's start, else the first look that found it valid."""
        return self.started_at if self.started_at is not None else self.valid_since

    @property
    def ha_database(self) -> bool:
        return self.database_type.strip().lower() in ("mssql", "postgresql")


@dataclass(frozen=True)
class Memory:
    """What hacontrol remembers of the cluster between looks: the member it knows Central made
    Active, that member's service start when it was last seen Active, when that was, and since
    when it is seen not serving (None while it serves)."""

    active: int | None = None
    active_started: float | None = None
    active_seen: float | None = None
    down_since: float | None = None


@dataclass(frozen=True)
class Failover:
    """Central is (or may be) failing over: from whom, to whom, and when it happens at the latest."""

    from_key: int
    candidates: tuple[int, ...]
    earliest: float
    latest: float


@dataclass
class Verdict:
    """Each member's (state, reason), the new memory, and what the cluster as a whole is doing."""

    states: dict[int, tuple[str, str]]
    memory: Memory
    note: str = ""
    failover: Failover | None = None
    took_over: tuple[int, tuple[int, ...]] | None = None
    valid: frozenset[int] = frozenset()

    @property
    def active(self) -> int | None:
        return next((key for key, (state, _) in self.states.items() if state == ACTIVE), None)


def invalid_reason(facts: Facts, database: str) -> tuple[str, str] | None:
    """Why a member is not a valid HA member right now, as (state, reason); None when it is one."""
    if not facts.observed:
        return UNKNOWN, "not checked yet"
    if not facts.reachable:
        return OFFLINE, f"host unreachable: {facts.error}"
    if not facts.installed:
        return OFFLINE, "Central is not installed on this host"
    if not facts.running:
        return OFFLINE, "service stopped"
    if facts.problem:
        return OFFLINE, facts.problem
    if facts.name_on_host is None:
        return OFFLINE, "name missing: preferences.cfg has no ClusterMemberName"
    if facts.name_on_host != facts.name:
        return OFFLINE, f"name mismatch: the host calls itself {facts.name_on_host!r}"
    if not facts.ha_database:
        # central_ha: "High Availability mode is not available for other database types."
        return OFFLINE, f"Central uses the {facts.database_type or 'default (SQLite)'} database, not MSSQL or PostgreSQL"
    if database and facts.database != database:
        return OFFLINE, f"uses another Central database ({facts.database}; the cluster uses {database})"
    if not facts.registered:
        # central_ha steps 3-6: only names added in Micetro's High Availability configuration count.
        return OFFLINE, "not registered in Micetro's High Availability configuration"
    return None


def successors(failed: Facts, valid: list[Facts]) -> tuple[int, ...]:
    """Whom Central may fail over to from ``failed``: "the next valid Central in the list".

    The list is ordered by priority. Read as "the valid member with the lowest priority" and as
    "the next valid member after the failed one" (wrapping round), the words agree unless the
    failed member was not first; then both are possible and both are returned.
    """
    others = sorted((f for f in valid if f.key != failed.key), key=lambda f: f.priority)
    if not others:
        return ()
    lowest = others[0]
    after = next((f for f in others if f.priority > failed.priority), lowest)
    return tuple(dict.fromkeys([lowest.key, after.key]))


def cluster_database(facts: list[Facts], memory: Memory) -> str:
    """The database the cluster shares: the one the Active member uses, else the most common."""
    by_key = {f.key: f for f in facts}
    if memory.active in by_key and by_key[memory.active].database:
        return by_key[memory.active].database
    seen = [f.database for f in facts if f.database and f.running]
    return max(sorted(set(seen)), key=seen.count) if seen else ""


def derive(facts: list[Facts], memory: Memory, now: float) -> Verdict:
    """Each member's state by Central's rules, from the facts and what hacontrol remembered."""
    database = cluster_database(facts, memory)
    states: dict[int, tuple[str, str]] = {}
    valid: list[Facts] = []
    for member in facts:
        problem = invalid_reason(member, database)
        if problem is None:
            valid.append(member)
        else:
            states[member.key] = problem
    timing = Timing.of_cluster(f.timing for f in facts if f.observed)
    by_key = {f.key: f for f in facts}
    if memory.active not in by_key:
        verdict = _without_history(facts, valid, states, timing, now)
    else:
        verdict = _with_active(by_key[memory.active], facts, valid, states, memory, timing, now)
    verdict.valid = frozenset(f.key for f in valid)
    return verdict


def _standby_all(valid: Iterable[Facts], states: dict[int, tuple[str, str]], but: Iterable[int] = ()) -> None:
    skip = set(but)
    for member in valid:
        if member.key not in skip:
            states[member.key] = (STANDBY, "")


def _could_serve_during(member: Facts, valid_now: bool, start: float, end: float) -> bool:
    """Whether ``member`` may have been a valid member at some moment in [start, end]: it was
    seen valid at or after ``start``, or it is valid now and has been since before ``end``."""
    if member.last_valid is not None and member.last_valid >= start:
        return True
    return valid_now and (member.since is None or member.since <= end)


def _without_history(facts: list[Facts], valid: list[Facts], states: dict[int, tuple[str, str]],
                     timing: Timing, now: float) -> Verdict:
    """No member is known to be Active: only a lone valid member can be told apart."""
    if not valid:
        note = "No member serves: Central runs nowhere as a valid HA member." if facts else ""
        return Verdict(states, Memory(), note)
    if len(valid) > 1:
        reason = ("running; hacontrol does not know which member Central made Active (it was not "
                  "watching when Central chose): see Micetro's High Availability panel, or use Set Active")
        for member in valid:
            states[member.key] = (UNKNOWN, reason)
        return Verdict(states, Memory(), "hacontrol does not know which member is Active.")
    (lone,) = valid
    # A member that served recently may still hold Active in Central's database with a fresh
    # heartbeat: the lone member takes over only once that heartbeat is too old.
    blockers = [f.last_valid for f in facts if f.key != lone.key and f.last_valid is not None]
    ready = max([(lone.since if lone.since is not None else now) + timing.first_check,
                 *[seen + timing.latest_failover for seen in blockers]])
    if now >= ready:
        states[lone.key] = (ACTIVE, "")
        return Verdict(states, Memory(lone.key, lone.started_at, now, None))
    states[lone.key] = (TAKING_OVER, f"the only valid member: Central makes it Active by {_clock(ready)}")
    return Verdict(states, Memory(), f"{lone.name} is expected to be Active by {_clock(ready)}.",
                   Failover(lone.key, (lone.key,), now, ready))


def _with_active(active: Facts, facts: list[Facts], valid: list[Facts], states: dict[int, tuple[str, str]],
                 memory: Memory, timing: Timing, now: float) -> Verdict:
    serving = active.key not in states
    seen = memory.active_seen if memory.active_seen is not None else now
    if serving:
        ahead = [f for f in valid if f.key != active.key and _lead(f, active) > timing.earliest_failover]
        if ahead:
            # ha_tweaks_central: "The local time of the cluster member machines are used to update the
            # heartbeat timestamp ... It's crucial that the cluster member machines have a synchronized
            # time." A member whose clock leads the Active one's by more than the allowed downtime
            # (less a heartbeat) sees its heartbeats as old, and may take over on its own.
            reason = (f"{', '.join(f.name for f in ahead)}'s clock is ahead of {active.name}'s by more than "
                      "HeartbeatMaxAllowedDowntime allows: Central may have failed over on its own; hacontrol "
                      "cannot tell which member is Active")
            for member in [active, *ahead]:
                states[member.key] = (UNKNOWN, reason)
            _standby_all([f for f in valid if f.key not in states], states)
            return Verdict(states, Memory(), reason + ". Synchronise the clocks.")
        restarted = (memory.active_started is not None and active.started_at is not None
                     and abs(active.started_at - memory.active_started) > SAME_START)
        if memory.down_since is None and not restarted:
            states[active.key] = (ACTIVE, "")
            _standby_all(valid, states, [active.key])
            return Verdict(states, replace(memory, active_seen=now, active_started=active.started_at))
        back = active.started_at if active.started_at is not None else now
        others = [f for f in facts if f.key != active.key]
        valid_keys = {f.key for f in valid}
        possible = [f for f in others if _could_serve_during(f, f.key in valid_keys, seen, back)]
        if back - seen < timing.earliest_failover or not possible:
            # Back before any heartbeat was old enough, or nobody was there to take over.
            states[active.key] = (ACTIVE, "")
            _standby_all(valid, states, [active.key])
            return Verdict(states, Memory(active.key, active.started_at, now, None))
        reason = (f"{active.name} was down from about {_clock(seen)} to {_clock(back)}, long enough for Central "
                  "to fail over; hacontrol cannot tell which member is Active now")
        for member in [active, *possible]:
            if member.key not in states:
                states[member.key] = (UNKNOWN, reason)
        _standby_all([f for f in valid if f.key not in states], states)
        return Verdict(states, Memory(), reason + ".")

    down_since = memory.down_since if memory.down_since is not None else now
    memory = replace(memory, down_since=down_since)
    candidates = successors(active, valid)
    earliest = seen + timing.earliest_failover
    if not active.reachable:
        # Central may still be running there, unseen: never conclude, say what may happen.
        if now < earliest or not candidates:
            _standby_all(valid, states)
        else:
            names = _names(candidates, facts)
            for key in candidates:
                states[key] = (UNKNOWN, f"Standby, or Active if Central stopped on {active.name} "
                                        "(hacontrol cannot reach that host)")
            _standby_all([f for f in valid if f.key not in states], states)
            return Verdict(states, memory, f"{active.name} does not answer: if Central stopped there, "
                                           f"Central has failed over to {names}.")
        return Verdict(states, memory, f"{active.name} does not answer; it was Active when last seen.")
    if not candidates:
        return Verdict(states, memory, f"No Active member: Central stopped on {active.name} and no other "
                                       "valid member runs to take over.")
    starts = [f.since for f in valid if f.key in candidates and f.since is not None]
    # A successor whose clock is behind the failed member's sees its last heartbeat as younger.
    lag = max([0.0, *[-_lead(f, active) for f in valid if f.key in candidates]])
    latest = max([down_since + timing.latest_failover + lag, *[start + timing.first_check for start in starts]])
    failover = Failover(active.key, candidates, earliest, latest)
    names = _names(candidates, facts)
    if now < latest:
        _standby_all(valid, states)
        if now >= earliest:
            for key in candidates:
                states[key] = (TAKING_OVER, f"Central is failing over from {active.name}: "
                                            f"expected Active by {_clock(latest)}")
        return Verdict(states, memory, f"Failing over from {active.name} to {names} by {_clock(latest)}.", failover)
    if len(candidates) == 1:
        (winner,) = candidates
        states[winner] = (ACTIVE, "")
        _standby_all(valid, states, [winner])
        started = next(f.started_at for f in valid if f.key == winner)
        return Verdict(states, Memory(winner, started, now, None), took_over=(active.key, candidates))
    for key in candidates:
        states[key] = (UNKNOWN, f"Central failed over from {active.name} to {names}; the vendor's rule "
                                "(\"the next valid Central in the list\") does not say which")
    _standby_all([f for f in valid if f.key not in states], states)
    return Verdict(states, Memory(), f"Central failed over from {active.name} to {names}.",
                   took_over=(active.key, candidates))


def _lead(member: Facts, other: Facts) -> float:
    """Seconds ``member``'s clock is ahead of ``other``'s (0 when either is unknown)."""
    if member.clock_skew is None or other.clock_skew is None:
        return 0.0
    return member.clock_skew - other.clock_skew


def _names(keys: Iterable[int], facts: list[Facts]) -> str:
    by_key = {f.key: f.name for f in facts}
    return " or ".join(by_key[key] for key in keys)


def _clock(moment: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(moment, timezone.utc).strftime("%H:%M:%S UTC")


def stop_before(target: Facts, active: Facts | None, valid: list[Facts]) -> list[Facts]:
    """The running members to stop so that Central can only fail over to ``target``: the Active
    one and every valid member Central might choose before it under either reading of "the next
    valid Central in the list". With the Active member unknown, every other valid member."""
    others = [f for f in valid if f.key != target.key]
    if active is None:
        return sorted(others, key=lambda f: f.priority)
    chosen = {f.key for f in others if f.priority < target.priority}
    low, high = active.priority, target.priority
    for member in others:
        between = low < member.priority < high if low < high else (member.priority > low or member.priority < high)
        if between:
            chosen.add(member.key)
    chosen.add(active.key)
    by_key = {f.key: f for f in [active, *others]}
    return sorted((by_key[key] for key in chosen), key=lambda f: f.priority)
