"""The vendor's member procedures (central_ha, "Configure High Availability for Micetro Central"):
make the first member, add a failover, remove, forget, change a priority.

Steps done in Micetro's own High Availability configuration (registering a name and priority,
removing it, changing a priority) have no documented API: they wait for an administrator to do
them and confirm, in the vendor's order.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from hacontrol.ha.models import SERVING_STATES, JobKind, Member, State
from hacontrol.ha.procedures import dns
from hacontrol.ha.procedures.base import NAME_KEY, JobContext, Procedure, Snapshot, Step, StepFailed
from hacontrol.lib.prefs import Preferences, PreferencesError
from hacontrol.lib.versions import format_problem, versions_problem


def inspect_host(ctx: JobContext, member: Member, *, require_ha: bool) -> Step:
    """Reach the host, check Central is installed, keep how the host is (for undo). With
    ``require_ha``, its own preferences must name an MSSQL or PostgreSQL database (central_ha:
    "High Availability mode is not available for other database types")."""

    def action() -> None:
        report = ctx.on(member, lambda remote: remote.report())
        if not report.installed:
            raise StepFailed(f"Central is not installed on {member.address} (no service runs mmcentral)")
        version = report.version
        if not version:
            raise StepFailed(f"Central does not seem installed on {member.name}: it reports no version")
        data, prefs = ctx.read_preferences(member)
        if require_ha:
            try:
                prefs.require_ha()
            except PreferencesError as error:
                raise StepFailed(f"{member.name}: {error}") from None
        running = ctx.service_state(member).running
        ctx.remember(member, Snapshot(preferences=data, running=running))
        ctx.keep(f"version:{member.pk}", version)
        ctx.log(f"{member.name}: Central {version}, {'running' if running else 'stopped'}, database "
                f"{prefs.database_type}, ClusterMemberName {prefs.get(NAME_KEY)!r}")

    what = "HA-capable database" if require_ha else "its preferences kept for undo"
    return Step(f"Check {member.name}: reachable, Central installed, {what}", action)


def write_preferences(ctx: JobContext, member: Member, source: Callable[[], bytes],
                      changes: dict[str, str | None], title: str) -> Step:
    """Write ``source()`` to the member's preferences with ``changes`` applied (None removes a
    key); the host's copy is backed up first and restored on undo. Central rewrites a
    ``plaintext:`` DatabasePassword when it starts (central_postgresql), so the check reads only
    the keys written."""

    def action() -> None:
        try:
            prefs = Preferences.parse(source())
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

    return Step(title, action, check, lambda: ctx.restore_preferences(member, reload=True))


def original(ctx: JobContext, member: Member) -> Callable[[], bytes]:
    """The member's preferences.cfg as the job found it."""

    def read() -> bytes:
        data = ctx.snapshot(member).preferences
        if data is None:
            raise StepFailed(f"{member.name}: its preferences.cfg was not read before")
        return data

    return read


def service_step(ctx: JobContext, member: Member, action: str) -> Step:
    """Stop, start or restart Central on a member and check it took effect."""
    return Step(
        f"{action.capitalize()} Central on {member.name}",
        lambda: ctx.control(member, action),
        lambda: ctx.wait_for_service(member, action != "stop"),
        lambda: ctx.restore_service(member),
    )


def micetro_step(ctx: JobContext, member: Member, action: str, *, priority: int | None = None,
                 old_priority: int | None = None) -> Step:
    """A step an administrator does in Micetro's HA configuration; the job waits for the confirm.
    Its undo cannot be done by hacontrol either: it becomes a follow-up on the job."""
    titles = {
        "register": f"In Micetro: add {member.name} with priority {priority} to the High Availability configuration",
        "unregister": f"In Micetro: remove {member.name} from the High Availability configuration",
        "set-priority": f"In Micetro: change {member.name}'s priority from {old_priority} to {priority}",
    }
    reverse = {
        "register": f"Remove the member {member.name} from Micetro's High Availability configuration",
        "unregister": f"Add the member {member.name} back to Micetro's High Availability configuration "
                      f"with priority {member.priority}",
        "set-priority": f"Set {member.name}'s priority in Micetro's High Availability configuration back to {old_priority}",
    }
    registered_after = {"register": True, "unregister": False, "set-priority": True}[action]

    def act() -> None:
        ctx.ask_administrator(action, member.name, priority, old_priority)

    def undo() -> None:
        Member.objects.filter(pk=member.pk).update(registered=not registered_after)
        ctx.follow_up(reverse[action])

    return Step(titles[action], act, undo=undo)


def record_step(ctx: JobContext, member: Member) -> Step:
    """The record made when the job was asked for; its undo drops it, so a failed add leaves none."""

    def forget() -> None:
        ctx.log(f"delete the record of {member.name} (priority {member.priority})")
        Member.objects.filter(pk=member.pk).delete()

    return Step(f"Record {member.name} with priority {member.priority}", lambda: None, undo=forget)


def delete_record_step(ctx: JobContext, member: Member) -> Step:
    def delete() -> None:
        ctx.log(f"delete the record of {member.name} (priority {member.priority})")
        Member.objects.filter(pk=member.pk).delete()

    return Step(f"Remove {member.name} from hacontrol's records", delete)


def expect_active(ctx: JobContext, member: Member) -> Step:
    return Step(f"Check {member.name} runs as the Active member",
                lambda: ctx.wait_for_states({member: {State.ACTIVE}}, "Active"))


# The procedures ----------------------------------------------------------------------------

def add_member(ctx: JobContext) -> list[Step]:
    """The first member becomes the primary; any later one a failover (params['first'] was
    decided when the job was asked for)."""
    member = ctx.member
    steps = make_primary(ctx, member) if ctx.job.params.get("first") else add_failover(ctx, member)
    return [record_step(ctx, member), *steps, *name_steps(ctx, member)]


def name_steps(ctx: JobContext, member: Member) -> list[Step]:
    """central_ha steps 11 and 12 for a new member: its address into the round-robin name (when
    the cluster's policy or the administrator said so), then the name verified. Neither fails
    the add: the member already serves, and a DNS problem is left as a task on the job."""
    steps = []
    if ctx.job.params.get("dns"):
        steps.append(dns.member_step(ctx, member, add=True))
    if ctx.cluster.dns_name:
        steps.append(dns.verify_step(ctx))
    return steps


def make_primary(ctx: JobContext, member: Member) -> list[Step]:
    """central_ha steps 1-8: name it, restart, register it with priority 10, restart, check Active.
    A member already registered needs one restart only."""
    steps = [
        inspect_host(ctx, member, require_ha=True),
        write_preferences(ctx, member, original(ctx, member), {NAME_KEY: member.name},
                          f"Set ClusterMemberName={member.name} on {member.name} (backup first)"),
        service_step(ctx, member, "restart"),
    ]
    if not ctx.job.params.get("registered"):
        steps += [micetro_step(ctx, member, "register", priority=member.priority),
                  mark_registered(ctx, member), service_step(ctx, member, "restart")]
    return [*steps, expect_active(ctx, member)]


def mark_registered(ctx: JobContext, member: Member) -> Step:
    def action() -> None:
        Member.objects.filter(pk=member.pk).update(registered=True)
        member.registered = True

    return Step(f"Record that {member.name} is registered in Micetro", action)


def add_failover(ctx: JobContext, member: Member) -> list[Step]:
    """central_ha steps 9-13: register it, stop Central on the new host, copy the preferences of a
    running member with the new name, start it, check it is Standby beside an Active member.

    The new host may be freshly installed, with Central's defaults (SQLite): its own file is only
    backed up; the copy being installed is the one that must name an HA database."""
    source = ctx.members([ctx.job.params["source"]])[0]
    steps = []
    if not ctx.job.params.get("registered"):
        steps += [micetro_step(ctx, member, "register", priority=member.priority), mark_registered(ctx, member)]

    def read_source() -> None:
        data, prefs = ctx.read_preferences(source)
        try:
            prefs.require_ha()
        except PreferencesError as error:
            raise StepFailed(f"{source.name}'s preferences.cfg cannot be copied: {error}") from None
        theirs = ctx.on(source, lambda remote: remote.report()).version
        ours = ctx.vault.get(f"version:{member.pk}", "")
        problem = versions_problem(source.name, theirs, member.name, ours) or format_problem(prefs.format.value, ours, member.name)
        if problem:
            raise StepFailed(problem)
        ctx.keep("copied", base64.b64encode(data).decode())
        ctx.log(f"{source.name}: Central {theirs}, database {prefs.database_type}; {member.name}: Central {ours}")

    return [
        *steps,
        inspect_host(ctx, member, require_ha=False),
        Step(f"Read preferences.cfg from {source.name}; check it can serve {member.name}", read_source),
        service_step(ctx, member, "stop"),
        write_preferences(ctx, member, lambda: base64.b64decode(ctx.vault["copied"]), {NAME_KEY: member.name},
                          f"Write {source.name}'s preferences.cfg to {member.name} as {member.name} (backup first)"),
        service_step(ctx, member, "start"),
        Step(f"Check {member.name} runs as a Standby beside an Active member",
             lambda: expect_standby_beside_active(ctx, member)),
    ]


def expect_standby_beside_active(ctx: JobContext, member: Member) -> None:
    ctx.wait_for_states({member: {State.STANDBY, State.ACTIVE}}, "Standby")
    active = ctx.cluster.active_member_id
    if active is None:
        raise StepFailed(f"{member.name} runs, but hacontrol cannot tell which member is Active: {ctx.cluster.ha_note}")
    if active == member.pk:
        ctx.log(f"{member.name} is the Active member: no other member was serving")


def remove_member(ctx: JobContext) -> list[Step]:
    """Stop it (optional), take its ClusterMemberName out, unregister it in Micetro, drop the record."""
    member = ctx.member
    steps = [inspect_host(ctx, member, require_ha=False)]
    if ctx.job.params.get("dns"):
        # Out of the name first, so no client is sent to a host about to stop.
        steps.append(dns.member_step(ctx, member, add=False))
    if ctx.job.params.get("stop", True):
        steps.append(service_step(ctx, member, "stop"))
    steps.append(write_preferences(ctx, member, original(ctx, member), {NAME_KEY: None},
                                   f"Remove ClusterMemberName from {member.name} (backup first)"))
    if not ctx.job.params.get("unregistered"):
        steps.append(micetro_step(ctx, member, "unregister"))
    return [*steps, delete_record_step(ctx, member)]


def forget_member(ctx: JobContext) -> list[Step]:
    """A member whose host is gone for good: unregister it in Micetro and drop the record,
    without touching the host."""
    member = ctx.member
    steps = [dns.member_step(ctx, member, add=False)] if ctx.job.params.get("dns") else []
    if not ctx.job.params.get("unregistered"):
        steps.append(micetro_step(ctx, member, "unregister"))
    return [*steps, delete_record_step(ctx, member)]


def change_priority(ctx: JobContext) -> list[Step]:
    """Micetro's list holds the priorities; hacontrol's mirror follows once it is changed there."""
    member = ctx.member
    old, new = ctx.job.params["old_priority"], ctx.job.params["priority"]

    def save() -> None:
        Member.objects.filter(pk=member.pk).update(priority=new)

    def restore() -> None:
        Member.objects.filter(pk=member.pk).update(priority=old)

    asked = [] if ctx.job.params.get("registered") else [
        micetro_step(ctx, member, "set-priority", priority=new, old_priority=old)]
    return [*asked, Step(f"Record {member.name}'s priority {new}", save, undo=restore)]


def restore_backup(ctx: JobContext) -> list[Step]:
    """Put back a preferences.cfg that hacontrol kept on the host (params['backup'], beside the
    file): check the copy can serve as this member, write it under the member's own name (the
    current file is backed up first), restart Central and check it serves again. Undo writes the
    current file back, then restarts Central on it (or leaves it stopped, if it was): a Central
    left running on the restored copy would not match the file on disk."""
    member = ctx.member
    name = ctx.job.params["backup"]
    path = member.backup_path(name)

    def read_backup() -> None:
        ctx.log(f"{member.name}: read {path}")
        data = ctx.on(member, lambda remote: remote.read_file(path))
        try:
            Preferences.parse(data).require_ha()
        except PreferencesError as error:
            raise StepFailed(f"{name} cannot serve {member.name}: {error}") from None
        ctx.keep("restore", base64.b64encode(data).decode())

    def expect_serving() -> None:
        ctx.wait_for_states({member: set(SERVING_STATES)}, "serving")

    def restart() -> None:
        ctx.keep("restarted", True)
        ctx.control(member, "restart")

    def back_as_found() -> None:
        """Undone last, once the current file is back: Central reads it again if the job restarted it."""
        if not ctx.vault.get("restarted"):
            return
        if ctx.snapshot(member).running:
            ctx.control(member, "restart")
            ctx.wait_for_service(member, True)
        else:
            ctx.restore_service(member)

    return [
        inspect_host(ctx, member, require_ha=False),
        Step(f"Read {name} on {member.name}; check it can serve as {member.name}", read_backup, undo=back_as_found),
        write_preferences(ctx, member, lambda: base64.b64decode(ctx.vault["restore"]), {NAME_KEY: member.name},
                          f"Write {name} as {member.name}'s preferences.cfg, named {member.name} (backup first)"),
        Step(f"Restart Central on {member.name}", restart, lambda: ctx.wait_for_service(member, True)),
        Step(f"Check {member.name} serves again", expect_serving),
    ]


PROCEDURES = [
    Procedure(JobKind.ADD, add_member, "configure the host and start it in the cluster"),
    Procedure(JobKind.REMOVE, remove_member, "take the name off the host, unregister it in Micetro and forget it"),
    Procedure(JobKind.FORGET, forget_member, "unregister it in Micetro and forget it, without touching its host",
              scope="none"),
    Procedure(JobKind.EDIT_PRIORITY, change_priority, "change its priority in Micetro, then in hacontrol",
              scope="none"),
    Procedure(JobKind.RESTORE, restore_backup, "put back a preferences.cfg kept on the host (the current one "
              "backed up first), restart Central and check it serves again"),
]
