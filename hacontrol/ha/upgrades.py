"""The upgrade wizard's state machine: which stage comes next, and what a stage's end means.

The stages themselves are procedures (hacontrol.ha.procedures.upgrade); this module only moves
the wizard's row along when one of its jobs ends, so the wizard resumes where it was whatever
process or browser looks at it next.
"""

from __future__ import annotations

from django.utils import timezone

from hacontrol.ha.models import AuditEvent, Job, JobKind, JobStatus, Upgrade, UpgradeStatus


def job_finished(job: Job) -> None:
    """Move the wizard on when one of its jobs ends (called inside the job's final transaction)."""
    assert job.upgrade_id is not None, "only an upgrade's jobs move its wizard"
    upgrade = Upgrade.objects.select_for_update().get(pk=job.upgrade_id)
    if job.kind == JobKind.UPGRADE_ABORT:
        if job.status == JobStatus.SUCCEEDED:
            upgrade.status, upgrade.finished = UpgradeStatus.ABORTED, timezone.now()
        else:
            upgrade.status, upgrade.error = UpgradeStatus.FAILED, f"abort did not complete: {job.error}"
    elif job.status != JobStatus.SUCCEEDED:
        upgrade.status, upgrade.error = UpgradeStatus.FAILED, job.error
    elif upgrade.stage + 1 >= len(upgrade.stages()):
        upgrade.status, upgrade.finished = UpgradeStatus.SUCCEEDED, timezone.now()
    else:
        upgrade.stage += 1
    upgrade.save(update_fields=["status", "finished", "error", "stage"])
    if upgrade.status in (UpgradeStatus.SUCCEEDED, UpgradeStatus.ABORTED):
        AuditEvent.record(job.started_by, "upgrade end", cluster=upgrade.cluster,
                          detail=f"upgrade #{upgrade.pk} to {upgrade.target_version} {upgrade.status}; "
                          f"before {upgrade.versions_before}, after {upgrade.versions_after}")


def primary_upgraded(upgrade: Upgrade) -> bool:
    """Whether the primary already runs the new version (and so upgraded Central's database)."""
    members = upgrade.members()
    return bool(members) and members[0].version == upgrade.target_version
