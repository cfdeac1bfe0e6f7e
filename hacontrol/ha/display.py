"""What the pages show, built in a fixed number of queries: the panel, the wizard, a job."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django.utils import timezone as django_timezone

from hacontrol.ha.models import Cluster, Job, JobKind, Member, StateChange, Upgrade, UpgradeStatus
from hacontrol.ha.probe import HEARTBEAT_KEYS
from hacontrol.ha.procedures import REGISTRY
from hacontrol.lib.drift import Difference, compare, preferences_diff
from hacontrol.lib.timeline import Segment, segments
from hacontrol.remote.commands import PlatformCommands


def timeline(cluster: Cluster, members: list[Member], hours: int = 24) -> list[tuple[Member, list[Segment]]]:
    """Each member's states over the last ``hours`` as bars, from one query."""
    end = django_timezone.now()
    start = end - timedelta(hours=hours)
    changes: dict[int, list] = {m.pk: [] for m in members}
    for change in StateChange.objects.filter(member__in=members, when__gte=start).order_by("when"):
        changes[change.member_id].append((change.when, change.from_state, change.to_state))
    return [(m, segments(m.state, changes[m.pk], start, end)) for m in members]


TUNING = "HA tuning (the cluster's setting)"


def settings_of(member: Member) -> dict[str, str | None]:
    """What drift compares for a member, from its last look ({} before its preferences were read)."""
    found = member.findings or {}
    if "format" not in found:
        return {}
    values: dict[str, str | None] = {
        "database_type": (found.get("database_type") or "").lower(), "format": found.get("format"),
        "DatabaseServer": found.get("DatabaseServer"), "DatabaseUsername": found.get("DatabaseUsername"),
        "DatabasePassword": (found.get("secret_digests") or {}).get("databasepassword"),
        **{key: member.heartbeat_settings.get(key) for key in HEARTBEAT_KEYS},
    }
    if member.version:
        values["version"] = member.version
    return values


def drift(cluster: Cluster, members: list[Member]) -> list[Difference]:
    """The settings members must share that differ between them (and, for the heartbeat, from
    the cluster's HA tuning when it sets one)."""
    compared: dict[str, dict[str, str | None]] = {m.name: values for m in members if (values := settings_of(m))}
    wanted = {key: str(value) for key, value in [("HeartbeatInterval", cluster.heartbeat_interval),
                                                 ("HeartbeatMaxAllowedDowntime", cluster.heartbeat_max_downtime)]
              if value}
    if compared and wanted:
        compared[TUNING] = wanted  # type: ignore[assignment]
    return compare(compared)


def failover_view(cluster: Cluster) -> dict | None:
    """The failover in progress, with its deadline as a time, for the banner's countdown."""
    failover = cluster.failover or {}
    if not failover.get("latest"):
        return None
    return {**failover, "latest_at": datetime.fromtimestamp(failover["latest"], timezone.utc)}


def panel(cluster: Cluster) -> dict:
    """Everything the Manage High Availability panel shows, all of it refreshed live."""
    members = list(cluster.members.for_display())
    running = cluster.running_job()
    busy = set(running.affected) if running else set()
    for member in members:
        member.in_maintenance = member.pk in busy  # type: ignore[attr-defined]
    context = {
        "members": members,
        "timeline": timeline(cluster, members),
        "drift": drift(cluster, members),
        "running_job": running,
        "waiting_step": running.waiting_step() if running and running.is_waiting else None,
        "open_upgrade": cluster.open_upgrade(),
        "skewed": [m for m in members if m.clock_skew_warning],
        "failover": failover_view(cluster),
        "insecure": [m for m in members if m.insecure_transport],
    }
    return context


def history(cluster: Cluster) -> dict:
    """The panel's recent jobs and state changes, refreshed apart from the member table."""
    return {
        "recent_jobs": list(cluster.jobs.all()[:5]),
        "recent_changes": list(StateChange.objects.filter(member__cluster=cluster).select_related("member")[:10]),
    }


STAGE_TEXTS = {
    JobKind.UPGRADE_PREFLIGHT: "Check every member is reachable, exactly one is Active, automatic update is off, versions "
                               "are known, the installer fits the platform, each host has room for it, and no other "
                               "job runs.",
    JobKind.UPGRADE_FINAL: "Check every member reports {version}, one is Active and the rest Standby.",
}


def describe_upgrade(upgrade: Upgrade) -> dict:
    """What the wizard page shows: every stage with its state and what it will do, the job of the
    current stage if one runs, and the jobs run so far (one query for all of them)."""
    jobs = list(upgrade.jobs.prefetch_related("steps").order_by("created", "pk"))
    members = upgrade.members()
    primary, secondaries = (members[0].name, [m.name for m in members[1:]]) if members else ("", [])
    stages = []
    for index, (kind, member) in enumerate(upgrade.stages()):
        if member is not None:
            title = f"Upgrade the primary {member.name}" if member.name == primary else f"Upgrade secondary {member.name}"
            text = (f"Copy {upgrade.installer_name} into a private folder on {member.name} (its SHA-256 checked there), "
                    f"run the installer, remove it, then check Central runs again and reports {upgrade.target_version}.")
        elif kind == JobKind.UPGRADE_STOP:
            title = "Stop every secondary"
            text = (f"Stop Central on every secondary ({', '.join(secondaries) or 'none'}) and check each stopped. "
                    f"The primary {primary} keeps serving.")
        else:
            title = JobKind(kind).label.replace("Upgrade: ", "").capitalize()
            text = STAGE_TEXTS[kind].format(version=upgrade.target_version)
        stage_jobs = [job for job in jobs if job.params.get("stage") == index and job.kind == kind]
        if upgrade.status == UpgradeStatus.SUCCEEDED or index < upgrade.stage:
            state = "done"
        elif index == upgrade.stage and upgrade.is_open:
            state = "current"
        else:
            state = "pending"
        stages.append({"index": index + 1, "title": title, "text": text, "state": state, "jobs": stage_jobs})
    live_job = next((job for job in jobs if job.is_active), None)
    return {"stages": stages, "live_job": live_job, "jobs": jobs, "primary_upgraded": bool(members) and
            upgrade.versions_after.get(primary) == upgrade.target_version}


def job_page(job: Job) -> dict:
    """A job with its steps and what the page offers: retry an add, confirm a Micetro step."""
    steps = list(job.steps.all())
    return {
        "job": job, "steps": steps, "cluster": job.cluster,
        "description": REGISTRY[JobKind(job.kind)].description,
        "waiting": next((step for step in steps if step.status == "waiting"), None),
        "deadline": next((step.deadline for step in steps if step.deadline and step.status == "running"), None),
        "current_step": next((step for step in steps if step.status == "running"), None),
        "can_retry": job.status == "failed" and job.kind == JobKind.ADD and bool(job.params.get("form")),
    }


MEMBER_JOBS = 20


def member_page(member: Member) -> dict:
    """Everything a member's page shows: its state and timeline over 7 days, what the last look
    found, its jobs, its command overrides, its preferences (masked) against the reference
    member's, the backups on its host, and the drift that concerns it."""
    cluster = member.cluster
    members = list(cluster.members.select_related("credential"))
    running = cluster.running_job()
    reference = next((m for m in members if m.pk == cluster.active_member_id), None) or (members[0] if members else None)
    jobs = [job for job in cluster.jobs.all()[:200] if job.member_id == member.pk or member.pk in job.affected]
    defaults = PlatformCommands.for_platform(member.platform)
    found = member.findings or {}
    secrets_differ = sorted(key for key, digest in (found.get("secret_digests") or {}).items()
                            if reference is not None and reference.pk != member.pk
                            and (reference.findings.get("secret_digests") or {}).get(key) != digest)
    diff = None
    if reference is not None and reference.pk != member.pk and member.preferences_masked and reference.preferences_masked:
        diff = preferences_diff(member.preferences_masked, reference.preferences_masked, differing_secrets=secrets_differ)
    return {
        "member": member, "cluster": cluster,
        "in_maintenance": bool(running and member.pk in running.affected),
        "running_job": running,
        "timeline": timeline(cluster, [member], hours=7 * 24)[0][1],
        "findings": found,
        "database_password": _password_note(member, reference),
        "jobs": jobs[:MEMBER_JOBS],
        "overrides": [(name, member.commands[name], getattr(defaults, name)) for name in PlatformCommands.names(member.platform)
                      if member.commands.get(name)],
        "reference": reference, "diff": diff,
        "diff_changes": sum(1 for line in diff or [] if line.kind != " "),
        "backups": [{**backup, "modified_at": datetime.fromtimestamp(backup["modified"], timezone.utc)}
                    for backup in found.get("backups", [])],
        "drift": [d for d in drift(cluster, members) if any(member.name in names for _, names in d.groups)],
    }


def _password_note(member: Member, reference: Member | None) -> str:
    """DatabasePassword said as set or not, and equal to the reference's or not: never a value."""
    mine = (member.findings.get("secret_digests") or {}).get("databasepassword")
    if "format" not in member.findings:
        return ""
    if not mine:
        return "not set"
    if reference is None or reference.pk == member.pk:
        return "set (not shown)"
    theirs = (reference.findings.get("secret_digests") or {}).get("databasepassword")
    return f"set (not shown); {'the same as' if theirs == mine else 'different from'} {reference.name}'s"


def member_facts(member: Member, page: dict | None = None) -> dict:
    """A member's page as data, for ``ha member show --json`` and the API: its state, what the
    last look found (secrets never: the database password is said set or not, and equal to the
    reference member's or not), the command overrides in force beside the defaults they replace,
    its preferences.cfg (masked) and the diff against the reference member's (the Active one),
    the drift that concerns it, the backups on its host, its 7-day timeline and its jobs."""
    page = page or member_page(member)
    found, diff, reference = page["findings"], page["diff"], page["reference"]
    return {
        "name": member.name, "cluster": member.cluster.name, "priority": member.priority, "address": member.address,
        "state": "maintenance" if page["in_maintenance"] else member.state, "reason": member.state_reason,
        "login": f"credential {member.credential.name}" if member.credential else f"own ({member.username})",
        "version": member.version, "clock_skew": member.clock_skew, "heartbeat": member.heartbeat_settings,
        "last_checked": member.last_checked, "last_seen": member.last_seen, "last_error": member.last_error,
        "name_on_host": found.get("name_on_host"), "format": found.get("format"),
        "database": {"type": found.get("database_type"), "server": found.get("DatabaseServer"),
                     "username": found.get("DatabaseUsername"), "password": page["database_password"]},
        "windows_service": found.get("windows_service"),
        "overrides": [{"name": name, "command": command, "default": default}
                      for name, command, default in page["overrides"]],
        "drift": [difference.as_dict() for difference in page["drift"]],
        "backups": [{"name": b["name"], "size": b.get("size"), "modified": b["modified_at"]} for b in page["backups"]],
        "timeline": [{"state": s.state, "start": s.start, "end": s.end} for s in page["timeline"]],
        "jobs": [{"id": job.pk, "title": job.title, "status": job.status, "created": job.created}
                 for job in page["jobs"]],
        "reference": reference.name if reference else None,
        "preferences": member.preferences_masked,
        "diff": [{"kind": line.kind, "text": line.text} for line in diff] if diff is not None else None,
    }
