"""The stages of the vendor's "Updating Central in High Availability setup", as procedures:
1. stop Central on each secondary; 2. upgrade the primary with the installer; 3. upgrade each
secondary (the service starts again afterwards); 4. check every member is upgraded and HA is back.
Before them, pre-flight checks; after a failure, abort (start again what the upgrade stopped,
unless the primary already upgraded the database).
"""

from __future__ import annotations

from django.conf import settings

from hacontrol.ha.models import Job, JobKind, Member, State, Upgrade
from hacontrol.ha.procedures.base import JobContext, Procedure, Snapshot, Step, StepFailed
from hacontrol.ha.procedures.members import service_step
from hacontrol.ha.upgrades import primary_upgraded
from hacontrol.remote import Remote

AUTO_UPDATE_KEYS = ("AutoUpdate", "AutomaticUpdate", "AutomaticUpdates", "EnableAutoUpdate")
TRUE_WORDS = {"1", "true", "yes", "on"}
# Room for the installer, its unpacked copy and the install itself.
DISK_FACTOR = 3


def upgrade_of(ctx: JobContext) -> Upgrade:
    assert ctx.job.upgrade_id is not None, "an upgrade stage belongs to an upgrade"
    return Upgrade.objects.get(pk=ctx.job.upgrade_id)


def gate(name: str, check) -> Step:
    """A pre-flight check: recorded pass/fail, and the next check runs either way."""
    return Step(name, check, gate=True)


def preflight(ctx: JobContext) -> list[Step]:
    upgrade = upgrade_of(ctx)
    members = upgrade.members()
    seen: dict[int, tuple[str, str]] = {}

    def reachable() -> None:
        seen.update(ctx.states())
        down = [m.name for m in members if seen[m.pk][1].startswith("host unreachable")]
        if down:
            raise StepFailed(f"unreachable: {', '.join(down)}")

    def one_active() -> None:
        active = [m.name for m in members if seen.get(m.pk, ("",))[0] == State.ACTIVE]
        if len(active) != 1:
            note = f" ({ctx.cluster.ha_note})" if ctx.cluster.ha_note else ""
            raise StepFailed(f"{len(active)} members known to be Active ({', '.join(active) or 'none'}); exactly one "
                             f"is needed{note}")
        if members and members[0].name != active[0]:
            raise StepFailed(f"{active[0]} is Active now, not {members[0].name} as when the upgrade started: "
                             "abort and start the upgrade again")

    def no_auto_update() -> None:
        enabled = []
        for member in members:
            prefs = ctx.read_preferences(member)[1]
            if any((prefs.get(key) or "").strip().lower() in TRUE_WORDS for key in AUTO_UPDATE_KEYS):
                enabled.append(member.name)
        if enabled:
            raise StepFailed(f"automatic update is enabled on {', '.join(enabled)}: it must not be used in HA")
        ctx.log("no automatic-update key enabled in any preferences.cfg "
                "(Central also keeps this setting in its database, which hacontrol cannot read: check Micetro)")

    def versions_known() -> None:
        fresh = {m.name: m.version for m in Member.objects.filter(pk__in=[m.pk for m in members])}
        Upgrade.objects.filter(pk=upgrade.pk).update(versions_before=fresh)
        ctx.log(", ".join(f"{name} {version or '?'}" for name, version in fresh.items()))
        unknown = [name for name, version in fresh.items() if not version]
        if unknown:
            raise StepFailed(f"version unknown on {', '.join(unknown)}")

    def installer_fits() -> None:
        platform = upgrade.installer_platform
        wrong = [m.name for m in members if platform and m.platform != platform]
        if wrong:
            raise StepFailed(f"{upgrade.installer_name} is a {platform} installer; {', '.join(wrong)} run another platform")

    def disk_space() -> None:
        if not upgrade.installer_size:
            ctx.log("the installer is already on the hosts: nothing to copy")
            return
        need = upgrade.installer_size * DISK_FACTOR // 1024 + 1
        short = []
        for member in members:
            free = ctx.on(member, lambda remote: remote.free_space())
            ctx.log(f"{member.name}: {free if free is not None else '?'} KiB free, {need} KiB needed")
            if free is None or free < need:
                short.append(member.name)
        if short:
            raise StepFailed(f"not enough free disk for the installer on {', '.join(short)}")

    def no_other_job() -> None:
        other = Job.objects.active().filter(cluster=ctx.cluster).exclude(pk=ctx.job.pk).first()
        if other is not None:
            raise StepFailed(f"job #{other.pk} is running on the cluster")

    return [
        gate("Every member reachable", reachable),
        gate("Exactly one member Active, the one the upgrade starts with", one_active),
        gate("Automatic update not enabled", no_auto_update),
        gate("Versions known", versions_known),
        gate("The installer is for the members' platform", installer_fits),
        gate("Enough free disk for the installer on each host", disk_space),
        gate("No other job running on the cluster", no_other_job),
    ]


def stop_secondaries(ctx: JobContext) -> list[Step]:
    upgrade = upgrade_of(ctx)
    steps = []
    for member in upgrade.members()[1:]:
        step = service_step(ctx, member, "stop")

        def stop_and_remember(member=member, action=step.action) -> None:
            ctx.remember(member, Snapshot(running=ctx.service_state(member).running))
            action()
            stopped = set(Upgrade.objects.get(pk=upgrade.pk).stopped) | {member.pk}
            Upgrade.objects.filter(pk=upgrade.pk).update(stopped=sorted(stopped))

        steps.append(Step(step.name, stop_and_remember, step.check, step.undo))
    if not steps:
        steps.append(Step("No secondary to stop", lambda: ctx.log("the cluster has a single member")))
    return steps


def upgrade_member(ctx: JobContext) -> list[Step]:
    upgrade = upgrade_of(ctx)
    member = ctx.member

    def install() -> None:
        def copy_and_run(remote: Remote) -> None:
            if upgrade.installer_host_path:
                staged = upgrade.installer_host_path
                ctx.log(f"{member.name}: using {staged}, already on the host")
            else:
                ctx.log(f"{member.name}: copy {upgrade.installer_name} ({upgrade.installer_size} bytes, "
                        f"sha256 {upgrade.installer_sha256}) into a private folder")
                staged = remote.stage(upgrade.installer_file, upgrade.installer_sha256)
                ctx.log(f"{member.name}: {staged} (SHA-256 checked on the host)")
            try:
                command = remote.install_line(staged, upgrade.installer_folder)
                ctx.log(f"{member.name}$ {command}")
                result = remote.run(command, settings.HACONTROL_INSTALL_TIMEOUT)
                for text in (result.stdout, result.stderr):
                    if text.strip():
                        ctx.log(text.rstrip())
                if not result.ok:
                    raise StepFailed(f"the installer on {member.name} exited {result.exit_code}: "
                                     + ((result.stderr or result.stdout).strip().splitlines() or ["no output"])[-1])
            finally:
                if not upgrade.installer_host_path:
                    remote.unstage(staged)
                    ctx.log(f"{member.name}: removed the staged installer")

        ctx.on(member, copy_and_run)

    def check() -> None:
        if not ctx.service_state(member).running:
            ctx.log(f"{member.name}: Central is not running after the install; starting it")
            ctx.control(member, "start")
        ctx.wait_for_service(member, True)
        version = ctx.on(member, lambda remote: remote.report()).version
        if version != upgrade.target_version:
            raise StepFailed(f"{member.name} reports version {version or '?'}, not {upgrade.target_version}")
        Member.objects.filter(pk=member.pk).update(version=version)
        fresh = Upgrade.objects.get(pk=upgrade.pk)
        Upgrade.objects.filter(pk=upgrade.pk).update(versions_after={**fresh.versions_after, member.name: version})

    return [
        Step(f"Copy and run the installer on {member.name}", install),
        Step(f"Check Central runs on {member.name} with version {upgrade.target_version}", check),
    ]


def final_check(ctx: JobContext) -> list[Step]:
    upgrade = upgrade_of(ctx)

    def check() -> None:
        members = upgrade.members()
        ctx.wait_for_states({m: {State.ACTIVE, State.STANDBY} for m in members}, "serving")
        members = upgrade.members()
        wrong = [f"{m.name} {m.version or '?'}" for m in members if m.version != upgrade.target_version]
        if wrong:
            raise StepFailed(f"not on {upgrade.target_version}: {', '.join(wrong)}")
        if ctx.cluster.active_member_id is None:
            raise StepFailed(f"every member runs, but hacontrol cannot tell which is Active: {ctx.cluster.ha_note}")
        Upgrade.objects.filter(pk=upgrade.pk).update(versions_after={m.name: m.version for m in members})

    return [Step(f"Every member on {upgrade.target_version}, one Active, the rest Standby", check)]


def abort(ctx: JobContext) -> list[Step]:
    """Put the cluster back on the old version: start the primary again if its install failed
    after stopping it, then every secondary the upgrade stopped. Once the primary runs the new
    version it has upgraded Central's database, and old-version secondaries must not start
    against it: then abort refuses, saying where each host is, and the way on is Retry."""
    upgrade = upgrade_of(ctx)
    members = upgrade.members()

    def look() -> None:
        states = ctx.states()
        upgrade.refresh_from_db()
        described = "; ".join(f"{m.name}: {Member.objects.get(pk=m.pk).version or '?'}, {State(states[m.pk][0]).label}"
                              for m in members)
        ctx.log(described)
        if primary_upgraded(upgrade):
            raise StepFailed(f"{members[0].name} already runs {upgrade.target_version} and has upgraded Central's "
                             f"database: starting the secondaries still on the old version against it is not safe. "
                             f"Where each host is: {described}. Retry to roll forward instead.")

    def start_again(member: Member) -> Step:
        def action() -> None:
            if not ctx.service_state(member).running:
                ctx.control(member, "start")

        return Step(f"Start Central on {member.name} again (old version)", action,
                    lambda: ctx.wait_for_service(member, True))

    steps = [Step("Look at every member: abort only while the primary runs the old version", look)]
    if members:
        steps.append(start_again(members[0]))
    steps += [start_again(m) for m in members[1:] if m.pk in upgrade.stopped]
    steps.append(Step("Check one member is Active and the rest Standby",
                      lambda: ctx.wait_for_states({m: {State.ACTIVE, State.STANDBY} for m in members}, "serving")))
    return steps


PROCEDURES = [
    Procedure(JobKind.UPGRADE_PREFLIGHT, preflight, "check the cluster can be upgraded", scope="none"),
    Procedure(JobKind.UPGRADE_STOP, stop_secondaries, "stop Central on every secondary", scope="cluster"),
    Procedure(JobKind.UPGRADE_MEMBER, upgrade_member, "copy and run the installer, then check the new version runs"),
    Procedure(JobKind.UPGRADE_FINAL, final_check, "check every member runs the new version and HA is back",
              scope="none"),
    Procedure(JobKind.UPGRADE_ABORT, abort, "start again what the upgrade stopped, on the old version",
              scope="cluster"),
]


