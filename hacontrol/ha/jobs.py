"""Start jobs (one at a time per cluster), hand them to a worker or run them here, and keep the
queue honest: jobs whose process died are recovered, jobs nobody picked up are handed over again."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction

from hacontrol.ha.errors import Refused
from hacontrol.ha.models import Cluster, Job, JobKind, JobStatus, Member, Upgrade
from hacontrol.ha.procedures import REGISTRY
from hacontrol.ha.runner import Confirmer, JobRunner, fail_job, recover_expired_jobs, stale_queued_jobs
from hacontrol.ha.tasks import run_job_task

UPGRADE_KINDS = {JobKind.UPGRADE_PREFLIGHT, JobKind.UPGRADE_STOP, JobKind.UPGRADE_MEMBER, JobKind.UPGRADE_FINAL,
                 JobKind.UPGRADE_ABORT}


def busy_message(cluster: Cluster) -> str:
    running = cluster.running_job()
    if running is None:
        return f"another job is starting on {cluster.name}; try again in a moment"
    state = "waiting for an administrator" if running.status == JobStatus.WAITING else running.status
    return (f"{cluster.name} is busy: job #{running.pk} \"{running.title}\" started by {running.started_by} is "
            f"{state}; wait for it to finish, or cancel it")


def create_job(kind: JobKind, cluster: Cluster, actor: str, *, member: Member | None = None,
               params: dict | None = None, reason: str = "", upgrade: Upgrade | None = None,
               runner: str = "worker") -> Job:
    """Record a queued job, or raise :class:`Refused` when the cluster already has one or is being
    upgraded. The database's partial unique index decides, so two web processes, workers or CLIs
    racing for one cluster cannot both win. Jobs of the cluster that lost their process are
    recovered first (whoever acts on a cluster notices)."""
    recover_expired_jobs(cluster.pk)
    if kind not in UPGRADE_KINDS:
        open_upgrade = cluster.open_upgrade()
        if open_upgrade:
            raise Refused("upgrade-open", f"{cluster.name} is being upgraded (upgrade #{open_upgrade.pk} by "
                                          f"{open_upgrade.started_by}, {open_upgrade.status}): finish or abort it first",
                          status=409)
    scope = REGISTRY[kind].scope
    affected = {"member": [member.pk] if member else [], "none": []}.get(
        scope, list(cluster.members.values_list("pk", flat=True)))
    try:
        with transaction.atomic():
            return Job.objects.create(
                kind=kind, cluster=cluster, member=member, member_name=member.name if member else "",
                params={**(params or {}), "runner": runner}, started_by=actor, reason=reason, upgrade=upgrade,
                affected=affected,
            )
    except IntegrityError as error:
        if "one_active_job_per_cluster" not in str(error):
            raise
        raise Refused("cluster-busy", busy_message(cluster), status=409) from None


def enqueue(job: Job) -> None:
    """Hand the job to a worker once the transaction that made it commits."""

    def hand_over() -> None:
        Job.objects.filter(pk=job.pk).update(params={**job.params, "enqueued": time.time()})
        run_job_task.enqueue(job.pk)

    transaction.on_commit(hand_over)


def run_here(job: Job, *, echo: Callable[[str], None] | None = None, confirm: Confirmer | None = None,
             runner: JobRunner | None = None) -> str:
    """Run ``job`` in this process (the CLI); returns its status."""
    return (runner or JobRunner(job.pk, echo=echo, confirm=confirm)).run()


def tidy_queue() -> None:
    """Recover jobs whose lease expired; hand worker jobs nobody picked up to a worker again, and
    fail CLI jobs whose process died before it started them (nothing ran: nothing to undo)."""
    recover_expired_jobs()
    for job in stale_queued_jobs(settings.HACONTROL_QUEUE_GRACE):
        if job.params.get("runner") == "worker":
            Job.objects.filter(pk=job.pk).update(params={**job.params, "enqueued": time.time()})
            run_job_task.enqueue(job.pk)
        else:
            fail_job(job, "the command line that started it ended before running it")
