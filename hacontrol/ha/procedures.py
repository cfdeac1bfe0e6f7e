"""The vendor's HA procedures as data: ordered steps, each an action, a check and an undo.

The job runner (:mod:`hacontrol.ha.jobs`) walks the steps, records each with its output, and on a
failure undoes the steps that ran (the failed one included) newest first, so the hosts are left
as they were.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from hacontrol.ha.models import Job, Member, State
from hacontrol.lib.prefs import Preferences, PreferencesError
from hacontrol.remote import CommandResult, HostKeyError, Remote, RemoteError, connect

NAME_KEY = "ClusterMemberName"


class StepFailed(Exception):
    """A step's action or check did not work; the message says what was found."""


@dataclass
class Step:
    """``gate`` steps are checks: a failed one is recorded, the next still runs, and the job
    fails at the end without undoing anything."""

    name: str
    action: Callable[[], None]
    check: Callable[[], None] | None = None
    undo: Callable[[], None] | None = None
    gate: bool = False


@dataclass
class Procedure:
    label: str
    build: Callable[[JobContext], list[Step]]
    description: str = ""


@dataclass
class HostSnapshot:
    """A member's host as found before the job touched it, for undo."""

    preferences: bytes = b""
    running: bool = False


class JobContext:
    """What steps use to act on hosts: every command and file change is logged to the step."""

    def __init__(self, job: Job, log: Callable[[str], None]):
        self.job = job
        self.cluster = job.cluster
        self.log = log
        self.snapshots: dict[int, HostSnapshot] = {}

    @property
    def member(self) -> Member:
        assert self.job.member is not None, "this procedure needs a member"
        return self.job.member

    def remember(self, member: Member, snapshot: HostSnapshot) -> None:
        """Keep how a host was before the job touched it, in memory for undo and in the job's
        row, so that hosts can be restored even if this process dies (see restore_after_crash)."""
        self.snapshots[member.pk] = snapshot
        saved = self.job.params.setdefault("snapshots", {})
        saved[str(member.pk)] = {"preferences": base64.b64encode(snapshot.preferences).decode(),
                                 "running": snapshot.running}
        Job.objects.filter(pk=self.job.pk).update(params=self.job.params)

    def remote(self, member: Member) -> Remote:
        """The member's connection; an unexpected host key is kept for the admin to review."""
        try:
            return connect(member.connection_settings())
        except HostKeyError as error:
            Member.objects.filter(pk=member.pk).update(presented_host_key=error.presented_key)
            if "form" in self.job.params:  # a failed add offers to retry with this key filled in
                self.job.params["form"]["host_key"] = error.presented_key
                self.job.params["presented_fingerprint"] = error.fingerprint
                Job.objects.filter(pk=self.job.pk).update(params=self.job.params)
            raise StepFailed(str(error)) from None
        except RemoteError as error:
            raise StepFailed(str(error)) from None

    def run(self, member: Member, command: str, *, must_succeed: bool = True,
            timeout: float | None = None) -> CommandResult:
        self.log(f"{member.name}$ {command}")
        try:
            result = self.remote(member).run_checked(command, timeout)
        except RemoteError as error:
            raise StepFailed(str(error)) from None
        for text in (result.stdout, result.stderr):
            if text.strip():
                self.log(text.rstrip())
        if must_succeed and not result.ok:
            raise StepFailed(f"on {member.name}: {result.describe()}")
        return result

    def read_preferences(self, member: Member) -> tuple[bytes, Preferences]:
        path = member.effective_preferences_path
        self.log(f"{member.name}: read {path}")
        try:
            data = self.remote(member).read_file(path)
            return data, Preferences.parse(data)
        except (RemoteError, PreferencesError) as error:
            raise StepFailed(f"{member.name}: {error}") from None

    def write_preferences(self, member: Member, data: bytes) -> None:
        path = member.effective_preferences_path
        try:
            backup = self.remote(member).write_file(path, data)
        except RemoteError as error:
            raise StepFailed(str(error)) from None
        self.log(f"{member.name}: wrote {path}" + (f" (previous copy kept as {backup})" if backup else ""))

    def is_running(self, member: Member) -> bool:
        commands = member.platform_commands
        result = self.run(member, commands.status, must_succeed=False)
        return commands.is_running(result.exit_code, result.stdout)

    def wait_for_service(self, member: Member, running: bool) -> None:
        """Poll the service until it is (not) running, up to HACONTROL_START_WAIT seconds."""
        deadline = time.monotonic() + settings.HACONTROL_START_WAIT
        while self.is_running(member) != running:
            if time.monotonic() >= deadline:
                word = "start" if running else "stop"
                raise StepFailed(f"Central on {member.name} did not {word} within {settings.HACONTROL_START_WAIT} s")
            time.sleep(1)

    def service(self, member: Member, action: str) -> None:
        commands = member.platform_commands
        self.run(member, getattr(commands, action))

    def restore_service(self, member: Member) -> None:
        snapshot = self.snapshots[member.pk]
        if self.is_running(member) != snapshot.running:
            self.service(member, "start" if snapshot.running else "stop")

    def original_preferences(self, member: Member) -> Callable[[], bytes]:
        """The member's preferences.cfg as the job found it (read once inspect_host has run)."""
        return lambda: self.snapshots[member.pk].preferences

    def restore_preferences(self, member: Member) -> None:
        self.write_preferences(member, self.snapshots[member.pk].preferences)

    def forget_member(self) -> None:
        """Delete the job's member record (the job keeps its name)."""
        member = self.member
        self.log(f"delete the record of {member.name} (priority {member.priority})")
        member.delete()
        self.job.member = None

    def states(self) -> dict[int, tuple[str, str]]:
        """Probe the whole cluster now and return each member's (state, reason)."""
        from hacontrol.ha.probe import probe_cluster

        members = probe_cluster(self.cluster)
        for member in members:
            self.log(f"{member.name}: {member.get_state_display()}" + (f" ({member.state_reason})" if member.state_reason else ""))
        return {member.pk: (member.state, member.state_reason) for member in members}


def restore_after_crash(job: Job, log: Callable[[str], None]) -> list[str]:
    """Put the hosts of a job whose process died back as its snapshots recorded them: the
    original preferences.cfg (when it differs) and the service state. Returns what was restored."""
    ctx = JobContext(job, log)
    restored = []
    for pk, saved in job.params.get("snapshots", {}).items():
        member = Member.objects.filter(pk=pk).first()
        if member is None:
            continue
        snapshot = HostSnapshot(preferences=base64.b64decode(saved["preferences"]), running=saved["running"])
        ctx.snapshots[member.pk] = snapshot
        try:
            if snapshot.preferences and ctx.read_preferences(member)[0] != snapshot.preferences:
                ctx.restore_preferences(member)
            ctx.restore_service(member)
            restored.append(member.name)
        except StepFailed as error:
            log(f"{member.name} could not be restored: {error}")
    if job.kind == "add" and job.member_id and Member.objects.filter(pk=job.member_id).exists():
        ctx.forget_member()  # the add never finished: like its undo, drop the record
    return restored


# Steps shared by several procedures -------------------------------------------------------

def inspect_host(ctx: JobContext, member: Member) -> Step:
    """Reach the host, check Central is installed and its database allows HA; remember it."""

    def action() -> None:
        commands = member.platform_commands
        version = ctx.run(member, commands.version, must_succeed=False)
        if not version.ok:
            raise StepFailed(f"Central does not seem installed on {member.name}: {version.describe()}")
        data, prefs = ctx.read_preferences(member)
        try:
            prefs.require_ha()
        except PreferencesError as error:
            raise StepFailed(f"{member.name}: {error}") from None
        ctx.remember(member, HostSnapshot(preferences=data, running=ctx.is_running(member)))
        ctx.log(f"{member.name}: database {prefs.database_type}, current name {prefs.get(NAME_KEY)!r}")

    return Step(f"Check {member.name}: reachable, Central installed, HA-capable database", action)


def write_preferences(ctx: JobContext, member: Member, source: Callable[[], bytes],
                      changes: dict[str, str | None], title: str) -> Step:
    """Write ``source()`` to the member's preferences with ``changes`` applied (None removes a
    key); the host's copy is backed up first and restored on undo."""

    def action() -> None:
        try:
            prefs = Preferences.parse(source())
            prefs.require_ha()
            for key, value in changes.items():
                if value is None:
                    prefs.remove(key)
                else:
                    prefs.set(key, value)
        except PreferencesError as error:
            raise StepFailed(f"{member.name}: {error}") from None
        ctx.write_preferences(member, prefs.to_bytes())

    def check() -> None:
        prefs = ctx.read_preferences(member)[1]
        for key, value in changes.items():
            if prefs.get(key) != value:
                raise StepFailed(f"{member.name}: preferences.cfg has {key}={prefs.get(key)!r}, expected {value!r}")

    return Step(title, action, check, lambda: ctx.restore_preferences(member))


def write_name(ctx: JobContext, member: Member, source: Callable[[], bytes], name: str | None) -> Step:
    """Set (or with None, remove) ClusterMemberName."""
    title = f"Set ClusterMemberName={name} on {member.name} (backup first)" if name else \
        f"Remove ClusterMemberName from {member.name} (backup first)"
    return write_preferences(ctx, member, source, {NAME_KEY: name}, title)


def service_step(ctx: JobContext, member: Member, action: str) -> Step:
    """Stop, start or restart Central on a member and check it took effect."""
    running = action != "stop"
    return Step(
        f"{action.capitalize()} Central on {member.name}",
        lambda: ctx.service(member, action),
        lambda: ctx.wait_for_service(member, running),
        lambda: ctx.restore_service(member),
    )


def expect_states(ctx: JobContext, wanted: dict[Member, set[str]], title: str) -> Step:
    """Probe the cluster and check the members are in the wanted states."""

    def check() -> None:
        states = ctx.states()
        for member, allowed in wanted.items():
            state, reason = states[member.pk]
            if state not in allowed:
                names = " or ".join(sorted(allowed))
                raise StepFailed(f"{member.name} is {state}{f' ({reason})' if reason else ''}, expected {names}")

    return Step(title, lambda: None, check)


# The procedures ---------------------------------------------------------------------------

def make_primary(ctx: JobContext) -> list[Step]:
    member = ctx.member
    return [
        inspect_host(ctx, member),
        write_name(ctx, member, ctx.original_preferences(member), member.name),
        service_step(ctx, member, "restart"),
        expect_states(ctx, {member: {State.ACTIVE}}, f"Check {member.name} runs: Active"),
    ]


def add_failover(ctx: JobContext) -> list[Step]:
    member = ctx.member
    primary = ctx.cluster.members.exclude(pk=member.pk).order_by("priority").first()
    assert primary is not None, "a failover needs a primary"
    copied: dict[str, bytes] = {}

    def read_primary() -> None:
        data, prefs = ctx.read_preferences(primary)
        try:
            prefs.require_ha()
        except PreferencesError as error:
            raise StepFailed(f"{primary.name}: {error}") from None
        copied["preferences"] = data

    return [
        inspect_host(ctx, member),
        Step(f"Read preferences.cfg from the primary {primary.name}", read_primary),
        service_step(ctx, member, "stop"),
        write_name(ctx, member, lambda: copied["preferences"], member.name),
        service_step(ctx, member, "start"),
        expect_states(
            ctx, {primary: {State.ACTIVE}, member: {State.STANDBY}},
            f"Check both run: {primary.name} Active, {member.name} Standby",
        ),
    ]


def remove_member(ctx: JobContext) -> list[Step]:
    member = ctx.member
    steps = [inspect_host(ctx, member)]
    if ctx.job.params.get("stop", True):
        steps.append(service_step(ctx, member, "stop"))
    steps.append(write_name(ctx, member, ctx.original_preferences(member), None))

    steps.append(Step(f"Remove {member.name} from the cluster's records", ctx.forget_member))
    return steps


def switchover(ctx: JobContext) -> list[Step]:
    """Make the chosen member primary: take the lowest priority, then stop the Active one so
    Central fails over to it, then start the old primary again as a Standby."""
    target = ctx.member
    members = list(ctx.cluster.members.order_by("priority"))
    old = members[0]
    original = {m.pk: m.priority for m in members}

    def check_ready() -> None:
        states = ctx.states()
        if states[target.pk][0] not in (State.ACTIVE, State.STANDBY):
            raise StepFailed(f"{target.name} is {states[target.pk][0]}: it must be running to take over")
        for member in members:
            ctx.remember(member, HostSnapshot(running=states[member.pk][0] in (State.ACTIVE, State.STANDBY)))

    def set_priorities(priorities: dict[int, int]) -> None:
        with transaction.atomic():
            # Park everyone above the range first so no intermediate state breaks uniqueness.
            top = max(max(priorities.values()), max(original.values()))
            for offset, member in enumerate(members, start=1):
                Member.objects.filter(pk=member.pk).update(priority=top + offset)
            for pk, priority in priorities.items():
                Member.objects.filter(pk=pk).update(priority=priority)
        for member in members:
            member.priority = priorities[member.pk]
        ctx.log(", ".join(f"{m.name}={priorities[m.pk]}" for m in members))

    def swap() -> None:
        swapped = dict(original)
        swapped[target.pk], swapped[old.pk] = original[old.pk], original[target.pk]
        set_priorities(swapped)

    steps = [
        Step(f"Check {target.name} is running and can take over", check_ready),
        Step(f"Give {target.name} priority {original[old.pk]} and {old.name} priority {original[target.pk]}",
             swap, undo=lambda: set_priorities(original)),
    ]
    if target.pk != old.pk:
        steps += [
            service_step(ctx, old, "stop"),
            expect_states(ctx, {target: {State.ACTIVE}}, f"Check {target.name} took over: Active"),
            service_step(ctx, old, "start"),
            expect_states(ctx, {target: {State.ACTIVE}, old: {State.STANDBY}},
                          f"Check {target.name} Active, {old.name} Standby"),
        ]
    return steps


def tune(ctx: JobContext) -> list[Step]:
    """Apply the cluster's heartbeat settings to every member: secondaries first (highest
    priority first), the primary last, so the Active member never stops while others wait."""
    cluster = ctx.cluster
    changes = {
        "HeartbeatInterval": str(cluster.heartbeat_interval) if cluster.heartbeat_interval else None,
        "HeartbeatMaxAllowedDowntime": str(cluster.heartbeat_max_downtime) if cluster.heartbeat_max_downtime else None,
    }
    described = ", ".join(f"{k}={v}" for k, v in changes.items() if v) or "Central's defaults"
    steps = []
    for member in cluster.members.order_by("-priority"):
        steps += [
            inspect_host(ctx, member),
            write_preferences(ctx, member, ctx.original_preferences(member), changes,
                              f"Set {described} on {member.name} (backup first)"),
            service_step(ctx, member, "restart"),
        ]
    return steps


def add_member(ctx: JobContext) -> list[Step]:
    """The first member becomes the primary; any later one a failover. The record made when
    the job was asked for is its first step, so a failed add leaves no member behind."""
    member = ctx.member
    record = Step(f"Record {member.name} with priority {member.priority}", lambda: None, undo=ctx.forget_member)
    if ctx.cluster.members.exclude(pk=member.pk).exists():
        return [record, *add_failover(ctx)]
    return [record, *make_primary(ctx)]


PROCEDURES: dict[str, Procedure] = {
    "add": Procedure("Add member", add_member, "configure the host and start it in the cluster"),
    "remove": Procedure("Remove member", remove_member, "take the name off the host and forget it"),
    "switchover": Procedure("Set Active", switchover, "make the chosen member the Active primary (a planned switchover)"),
    "tune": Procedure("HA tuning", tune, "apply heartbeat settings to every member"),
}


from hacontrol.ha.upgrade import UPGRADE_PROCEDURES  # noqa: E402 - the upgrade stages build on the above

PROCEDURES.update(UPGRADE_PROCEDURES)
