"""The HA update procedure as a resumable wizard: each stage is a job, the wizard is a row.

1. pre-flight checks; 2. stop Central on every secondary; 3. upgrade the primary; 4. upgrade
each secondary in turn; 5. final check. A failed stage stops the wizard; it can be retried, or
the upgrade aborted (which starts the secondaries it stopped, so the cluster runs again).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from hacontrol.ha.models import AuditEvent, Cluster, Job, Member, State, Upgrade
from hacontrol.ha.procedures import (
    HostSnapshot,
    JobContext,
    Procedure,
    Step,
    StepFailed,
    service_step,
)
from hacontrol.remote import RemoteError
from hacontrol.remote.commands import free_kilobytes

VERSION_IN_NAME = re.compile(r"(\d+\.\d+(?:\.\d+)*)")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
AUTO_UPDATE_KEYS = ("AutoUpdate", "AutomaticUpdate", "AutomaticUpdates", "EnableAutoUpdate")
TRUE_WORDS = {"1", "true", "yes", "on"}
# Room for the installer, its unpacked copy and the install itself.
DISK_FACTOR = 3


class UpgradeError(Exception):
    """The wizard cannot do what was asked; the message says why."""


def version_from_name(name: str) -> str:
    """'micetro-central-11.1.0.linux.x64.tgz' -> '11.1.0' ('' when the name has none)."""
    match = VERSION_IN_NAME.search(name)
    return match.group(1) if match else ""


def store_installer(upload) -> tuple[Path, str, int]:
    """Save an uploaded installer under HACONTROL_INSTALLER_DIR/<sha256>/; return path, hash, size."""
    digest, size = hashlib.sha256(), 0
    staging = Path(settings.HACONTROL_INSTALLER_DIR) / "incoming"
    staging.mkdir(parents=True, exist_ok=True)
    partial = staging / f"{timezone.now():%Y%m%d%H%M%S%f}.part"
    with partial.open("wb") as handle:
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
            handle.write(chunk)
    final = Path(settings.HACONTROL_INSTALLER_DIR) / digest.hexdigest() / SAFE_NAME.sub("_", Path(upload.name).name)
    final.parent.mkdir(parents=True, exist_ok=True)
    partial.replace(final)
    return final, digest.hexdigest(), size


def start_upgrade(cluster: Cluster, actor: str, *, installer_name: str, target_version: str = "",
                  installer_file: str = "", installer_sha256: str = "", installer_size: int = 0,
                  installer_host_path: str = "") -> Upgrade:
    """Open an upgrade of ``cluster``; refused while another is open or the cluster is busy."""
    members = list(cluster.members.order_by("priority"))
    if not members:
        raise UpgradeError(f"{cluster.name} has no member to upgrade")
    target_version = target_version or version_from_name(installer_name)
    if not target_version:
        raise UpgradeError(f"no version in the installer's name {installer_name!r}: enter the target version")
    running = cluster.running_job()
    if running:
        raise UpgradeError(f"{cluster.name} is busy: job #{running.pk} \"{running.title}\" is {running.status}")
    try:
        with transaction.atomic():
            upgrade = Upgrade.objects.create(
                cluster=cluster, started_by=actor, installer_name=installer_name,
                installer_file=installer_file, installer_sha256=installer_sha256,
                installer_size=installer_size, installer_host_path=installer_host_path,
                target_version=target_version, member_order=[m.pk for m in members],
                versions_before={m.name: m.version for m in members},
            )
    except IntegrityError:
        open_one = cluster.upgrades.filter(status__in=Upgrade.OPEN_STATUSES).first()
        raise UpgradeError(f"upgrade #{open_one.pk if open_one else '?'} of {cluster.name} is still open: "
                           "finish or abort it first") from None
    AuditEvent.record(actor, "upgrade start", cluster=cluster,
                      detail=f"upgrade #{upgrade.pk} to {target_version} with {installer_name} "
                      f"(sha256 {installer_sha256 or 'n/a'})")
    return upgrade


def stage_job(upgrade: Upgrade, actor: str) -> Job:
    """Create the job for the wizard's current stage (run it with run_job or the worker)."""
    from hacontrol.ha.jobs import create_job

    if upgrade.status not in (Upgrade.PREPARING, Upgrade.RUNNING, Upgrade.FAILED):
        raise UpgradeError(f"upgrade #{upgrade.pk} is {upgrade.status}")
    kind, member = upgrade.stages()[upgrade.stage]
    upgrade.status, upgrade.error = Upgrade.RUNNING, ""
    upgrade.save(update_fields=["status", "error"])
    return create_job(kind, upgrade.cluster, actor, member=member, params={"stage": upgrade.stage}, upgrade=upgrade)


def override_preflight(upgrade: Upgrade, actor: str, reason: str) -> None:
    """Go past failed pre-flight checks: only explicitly, with a reason, and audited."""
    if upgrade.stage != 0 or upgrade.status != Upgrade.FAILED:
        raise UpgradeError("only failed pre-flight checks can be overridden")
    if not reason.strip():
        raise UpgradeError("give the reason for overriding the failed checks; it is kept in the audit log")
    upgrade.overridden, upgrade.stage, upgrade.status = reason, 1, Upgrade.RUNNING
    upgrade.save(update_fields=["overridden", "stage", "status"])
    AuditEvent.record(actor, "upgrade override", cluster=upgrade.cluster, outcome=AuditEvent.OK,
                      detail=f"upgrade #{upgrade.pk}: failed pre-flight checks overridden ({upgrade.error})",
                      reason=reason)


def abort_job(upgrade: Upgrade, actor: str) -> Job:
    """A job that starts the secondaries this upgrade stopped, then closes it as aborted."""
    from hacontrol.ha.jobs import create_job

    if not upgrade.is_open:
        raise UpgradeError(f"upgrade #{upgrade.pk} is {upgrade.status}")
    return create_job("upgrade-abort", upgrade.cluster, actor, upgrade=upgrade)


def job_finished(job: Job) -> None:
    """Move the wizard on when one of its jobs ends."""
    upgrade = job.upgrade
    if upgrade is None:
        return
    if job.kind == "upgrade-abort":
        if job.status == Job.SUCCEEDED:
            upgrade.status, upgrade.finished = Upgrade.ABORTED, timezone.now()
        else:
            upgrade.status, upgrade.error = Upgrade.FAILED, f"abort failed: {job.error}"
    elif job.status != Job.SUCCEEDED:
        upgrade.status, upgrade.error = Upgrade.FAILED, job.error
    elif upgrade.stage + 1 >= len(upgrade.stages()):
        upgrade.status, upgrade.finished = Upgrade.SUCCEEDED, timezone.now()
    else:
        upgrade.stage += 1
    upgrade.save(update_fields=["status", "finished", "error", "stage"])
    if upgrade.status in (Upgrade.SUCCEEDED, Upgrade.ABORTED):
        AuditEvent.record(job.started_by, "upgrade end", cluster=upgrade.cluster,
                          detail=f"upgrade #{upgrade.pk} to {upgrade.target_version} {upgrade.status}; "
                          f"before {upgrade.versions_before}, after {upgrade.versions_after}")


def describe(upgrade: Upgrade) -> dict:
    """What the wizard page shows: every stage with its state and what it will do, the job of
    the current stage if one runs, and the jobs run so far (one query for all of them)."""
    jobs = list(upgrade.jobs.prefetch_related("steps").order_by("created", "pk"))
    members = upgrade.members()
    primary, secondaries = (members[0].name, [m.name for m in members[1:]]) if members else ("", [])
    texts = {
        "upgrade-preflight": "Check every member is reachable, exactly one is Active, automatic update is off, "
                             "versions are known, each host has room for the installer, and no other job runs.",
        "upgrade-stop": f"Stop Central on every secondary ({', '.join(secondaries) or 'none'}) and check each stopped. "
                        "The primary keeps serving.",
        "upgrade-final": f"Check every member reports {upgrade.target_version}, one is Active and the rest Standby.",
    }
    stages = []
    for index, (kind, member) in enumerate(upgrade.stages()):
        if member is not None:
            title = f"Upgrade the primary {member.name}" if member.name == primary else f"Upgrade secondary {member.name}"
            install = member.platform_commands.install
            text = (f"Copy {upgrade.installer_name} to {member.name}, run the installer (`{install}`), "
                    f"then check Central runs again and reports {upgrade.target_version}.")
        else:
            title, text = UPGRADE_PROCEDURES[kind].label.replace("Upgrade: ", "").capitalize(), texts[kind]
        stage_jobs = [job for job in jobs if job.params.get("stage") == index and job.kind == kind]
        if upgrade.status == Upgrade.SUCCEEDED or index < upgrade.stage:
            state = "done"
        elif index == upgrade.stage and upgrade.is_open:
            state = "current"
        else:
            state = "pending"
        stages.append({"index": index + 1, "title": title, "text": text, "state": state, "jobs": stage_jobs})
    live_job = next((job for job in jobs if job.is_active), None)
    return {"stages": stages, "live_job": live_job, "jobs": jobs}


# The stages ------------------------------------------------------------------------------

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
            raise StepFailed(f"{len(active)} Active members ({', '.join(active) or 'none'}); exactly one is needed")

    def no_auto_update() -> None:
        enabled = []
        for member in members:
            prefs = ctx.read_preferences(member)[1]
            if any((prefs.get(key) or "").strip().lower() in TRUE_WORDS for key in AUTO_UPDATE_KEYS):
                enabled.append(member.name)
        if enabled:
            raise StepFailed(f"automatic update is enabled on {', '.join(enabled)}: it must not be used in HA")
        ctx.log("no automatic-update key enabled in any preferences.cfg "
                "(Central also keeps this setting in its database: check the Management Console)")

    def versions_known() -> None:
        fresh = {m.name: m.version for m in Member.objects.filter(pk__in=[m.pk for m in members])}
        Upgrade.objects.filter(pk=upgrade.pk).update(versions_before=fresh)
        unknown = [name for name, version in fresh.items() if not version]
        ctx.log(", ".join(f"{name} {version or '?'}" for name, version in fresh.items()))
        if unknown:
            raise StepFailed(f"version unknown on {', '.join(unknown)}")

    def disk_space() -> None:
        if not upgrade.installer_size:
            ctx.log("the installer is already on the hosts: nothing to copy")
            return
        need = upgrade.installer_size * DISK_FACTOR // 1024 + 1
        short = []
        for member in members:
            output = ctx.run(member, member.platform_commands.free_space).stdout
            free = free_kilobytes(output)
            ctx.log(f"{member.name}: {free if free is not None else '?'} KiB free, {need} KiB needed")
            if free is None or free < need:
                short.append(member.name)
        if short:
            raise StepFailed(f"not enough free disk for the installer on {', '.join(short)}")

    def no_other_job() -> None:
        other = Job.objects.filter(cluster=ctx.cluster, status__in=Job.ACTIVE_STATUSES).exclude(pk=ctx.job.pk).first()
        if other is not None:
            raise StepFailed(f"job #{other.pk} is running on the cluster")

    return [
        gate("Every member reachable", reachable),
        gate("Exactly one member Active", one_active),
        gate("Automatic update not enabled", no_auto_update),
        gate("Versions known", versions_known),
        gate("Enough free disk for the installer on each host", disk_space),
        gate("No other job running on the cluster", no_other_job),
    ]


def stop_secondaries(ctx: JobContext) -> list[Step]:
    upgrade = upgrade_of(ctx)
    steps = []
    for member in upgrade.members()[1:]:
        step = service_step(ctx, member, "stop")
        action = step.action

        def stop_and_remember(member=member, action=action) -> None:
            ctx.remember(member, HostSnapshot(running=ctx.is_running(member)))
            action()
            stopped = set(Upgrade.objects.get(pk=upgrade.pk).stopped) | {member.pk}
            Upgrade.objects.filter(pk=upgrade.pk).update(stopped=sorted(stopped))

        steps.append(Step(step.name, stop_and_remember, step.check, step.undo))
    if not steps:
        steps.append(Step("No secondary to stop", lambda: ctx.log("the cluster has a single member")))
    return steps


def installer_path_on(member: Member, upgrade: Upgrade) -> str:
    if upgrade.installer_host_path:
        return upgrade.installer_host_path
    name = f"hacontrol-{upgrade.installer_sha256[:12]}-{Path(upgrade.installer_file).name}"
    return rf"C:\Windows\Temp\{name}" if member.platform == "windows" else f"/tmp/{name}"


def upgrade_member(ctx: JobContext) -> list[Step]:
    upgrade = upgrade_of(ctx)
    member = ctx.member
    path = installer_path_on(member, upgrade)
    commands = member.platform_commands

    def copy() -> None:
        if upgrade.installer_host_path:
            ctx.log(f"{member.name}: using {path}, already on the host")
            return
        ctx.log(f"{member.name}: copy {upgrade.installer_name} ({upgrade.installer_size} bytes, "
                f"sha256 {upgrade.installer_sha256}) to {path}")
        try:
            ctx.remote(member).upload(upgrade.installer_file, path)
        except RemoteError as error:
            raise StepFailed(str(error)) from None
        if member.platform == "linux":
            found = ctx.run(member, f"sha256sum {shlex.quote(path)}").stdout.split()[:1]
            if found != [upgrade.installer_sha256]:
                raise StepFailed(f"{member.name}: the copy's sha256 is {found}, not {upgrade.installer_sha256}")

    def install() -> None:
        quoted = path if member.platform == "windows" else shlex.quote(path)
        ctx.run(member, commands.install.format(installer=quoted), timeout=settings.HACONTROL_INSTALL_TIMEOUT)

    def check() -> None:
        if not ctx.is_running(member):
            ctx.service(member, "start")
        ctx.wait_for_service(member, True)
        found = ctx.run(member, commands.version).stdout
        version = VERSION_IN_NAME.search(found)
        if not version or version.group(1) != upgrade.target_version:
            raise StepFailed(f"{member.name} reports {found.strip()!r}, not {upgrade.target_version}")
        Member.objects.filter(pk=member.pk).update(version=version.group(1))
        fresh = Upgrade.objects.get(pk=upgrade.pk)
        Upgrade.objects.filter(pk=upgrade.pk).update(versions_after={**fresh.versions_after, member.name: version.group(1)})

    return [
        Step(f"Copy the installer to {member.name}", copy),
        Step(f"Run the installer on {member.name}", install),
        Step(f"Check Central runs on {member.name} with version {upgrade.target_version}", check),
    ]


def final_check(ctx: JobContext) -> list[Step]:
    upgrade = upgrade_of(ctx)

    def check() -> None:
        states = ctx.states()
        members = upgrade.members()
        wrong = [f"{m.name} {m.version or '?'}" for m in members if m.version != upgrade.target_version]
        if wrong:
            raise StepFailed(f"not on {upgrade.target_version}: {', '.join(wrong)}")
        active = [m.name for m in members if states[m.pk][0] == State.ACTIVE]
        standby = [m.name for m in members if states[m.pk][0] == State.STANDBY]
        if len(active) != 1 or len(active) + len(standby) != len(members):
            raise StepFailed(f"HA is not back: Active {active or 'none'}, Standby {standby or 'none'}")
        Upgrade.objects.filter(pk=upgrade.pk).update(versions_after={m.name: m.version for m in members})

    return [Step(f"Every member on {upgrade.target_version}, one Active, the rest Standby", check)]


def abort(ctx: JobContext) -> list[Step]:
    upgrade = upgrade_of(ctx)
    def start_again(member: Member) -> Step:
        def action() -> None:
            if not ctx.is_running(member):
                ctx.service(member, "start")

        return Step(f"Start Central on {member.name} again", action, lambda: ctx.wait_for_service(member, True))

    steps = [start_again(m) for m in upgrade.members() if m.pk in upgrade.stopped]
    if not steps:
        steps.append(Step("No secondary was stopped", lambda: ctx.log("nothing to start")))
    return steps


UPGRADE_PROCEDURES = {
    "upgrade-preflight": Procedure("Upgrade: pre-flight checks", preflight, "check the cluster can be upgraded"),
    "upgrade-stop": Procedure("Upgrade: stop every secondary", stop_secondaries, "stop Central on every secondary"),
    "upgrade-member": Procedure("Upgrade", upgrade_member, "copy and run the installer, then check the new version runs"),
    "upgrade-final": Procedure("Upgrade: final check", final_check, "check every member runs the new version and HA is back"),
    "upgrade-abort": Procedure("Upgrade: abort", abort, "start the secondaries the upgrade stopped"),
}
