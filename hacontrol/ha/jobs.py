"""Start jobs (one at a time per cluster) and run them step by step, recording everything.

The web views enqueue :func:`run_job_task` on Django's tasks API (the database backend's
``db_worker`` runs it); the CLI calls :func:`run_job` in its own process. Both record, lock and
audit the job the same way.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django_tasks import task

from hacontrol.ha.models import AuditEvent, Cluster, Job, JobStep, Member, Upgrade
from hacontrol.ha.procedures import PROCEDURES, JobContext, StepFailed
from hacontrol.remote import RemoteError

logger = logging.getLogger("hacontrol.jobs")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


class ClusterBusy(Exception):
    """Another job holds the cluster; the message names it."""


def busy_message(cluster: Cluster) -> str:
    running = cluster.running_job()
    if running is None:
        return f"another job is starting on {cluster.name}; try again in a moment"
    return (
        f"{cluster.name} is busy: job #{running.pk} \"{running.title}\" started by "
        f"{running.started_by} is {running.status}; wait for it to finish"
    )


def create_job(kind: str, cluster: Cluster, actor: str, *, member: Member | None = None,
               params: dict | None = None, reason: str = "", upgrade: Upgrade | None = None) -> Job:
    """Record a queued job, or raise :class:`ClusterBusy` (audited as refused) when the cluster
    already has one or is being upgraded.

    The database's partial unique index decides, so two web processes or a web process and a
    CLI racing for one cluster cannot both win.
    """
    if kind not in PROCEDURES:
        raise ValueError(f"unknown job kind {kind!r}")
    open_upgrade = None if kind.startswith("upgrade") else \
        cluster.upgrades.filter(status__in=Upgrade.OPEN_STATUSES).first()
    try:
        if open_upgrade:
            raise ClusterBusy(f"{cluster.name} is being upgraded (upgrade #{open_upgrade.pk} by "
                              f"{open_upgrade.started_by}, {open_upgrade.status}): finish or abort it first")
        try:
            with transaction.atomic():
                return Job.objects.create(
                    kind=kind, cluster=cluster, member=member, member_name=member.name if member else "",
                    params=params or {}, started_by=actor, reason=reason, upgrade=upgrade,
                )
        except IntegrityError as error:
            if "one_active_job_per_cluster" not in str(error):
                raise
            raise ClusterBusy(busy_message(cluster)) from None
    except ClusterBusy as refusal:
        AuditEvent.record(actor, kind, cluster=cluster, member_name=member.name if member else "",
                          outcome=AuditEvent.REFUSED, detail=str(refusal), reason=reason)
        raise


def enqueue(job: Job) -> None:
    """Hand the job to the background worker once the transaction that made it commits."""
    transaction.on_commit(lambda: run_job_task.enqueue(job.pk))


@task()
def run_job_task(job_id: int) -> str:
    return run_job(job_id)


@task()
def probe_cluster_task(cluster_id: int) -> None:
    from hacontrol.ha.probe import probe_cluster

    probe_cluster(Cluster.objects.get(pk=cluster_id))


@task()
def check_dns_task(cluster_id: int) -> None:
    from hacontrol.ha.probe import check_dns

    check_dns(Cluster.objects.get(pk=cluster_id))


def run_job(job_id: int, echo: Callable[[str], None] | None = None) -> str:
    """Run a queued job to its end; returns its final status. ``echo`` receives every line."""
    job = Job.objects.select_related("cluster", "member").get(pk=job_id)
    if job.status != Job.QUEUED:
        return job.status
    job.status, job.started, job.worker = Job.RUNNING, timezone.now(), WORKER_ID
    job.save(update_fields=["status", "started", "worker"])
    current: dict[str, JobStep] = {}
    secrets = job.cluster.secrets()

    def log(line: str) -> None:
        line = redact(line, secrets)
        step = current["step"]
        step.output += line + "\n"
        durable(lambda: step.save(update_fields=["output"]))
        if echo:
            echo(f"    {line}")

    ctx = JobContext(job, log)
    try:
        steps = PROCEDURES[job.kind].build(ctx)
    except Exception as error:  # noqa: BLE001 - a job that cannot even be planned still ends
        return finish(job, Job.FAILED, f"the job could not be planned: {error}")
    rows = JobStep.objects.bulk_create(
        JobStep(job=job, position=i, name=step.name) for i, step in enumerate(steps, start=1)
    )
    done: list[tuple[int, JobStep]] = []
    failed_gates: list[str] = []
    for index, (step, row) in enumerate(zip(steps, rows, strict=True)):
        current["step"] = row
        mark(row, JobStep.RUNNING, echo, f"[{row.position}/{len(rows)}] {row.name}")
        try:
            step.action()
            if step.check:
                step.check()
        except Exception as error:  # noqa: BLE001 - whatever breaks, the hosts get their undo
            expected = isinstance(error, (StepFailed, RemoteError))
            if not expected:
                logger.exception("job %s step %s crashed", job.pk, row.position)
            row.error = redact(str(error) if expected else f"internal error: {error!r}", secrets)
            mark(row, JobStep.FAILED, echo, f"    failed: {row.error}")
            if step.gate and expected:
                failed_gates.append(f"{row.name}: {row.error}")
                continue
            undo(steps, [*done, (index, row)], current, echo)
            for skipped in rows[index + 1 :]:
                mark(skipped, JobStep.SKIPPED)
            return finish(job, Job.FAILED, f"step {row.position} \"{row.name}\" failed: {row.error}", echo)
        mark(row, JobStep.SUCCEEDED)
        done.append((index, row))
    if failed_gates:
        return finish(job, Job.FAILED, f"{len(failed_gates)} check(s) failed: " + "; ".join(failed_gates), echo)
    return finish(job, Job.SUCCEEDED, "", echo)


def durable(write: Callable[[], object], patience: float = 60.0):
    """Run a database write, waiting out a database restart instead of losing the record: a
    dropped connection is closed and the write retried until ``patience`` seconds have passed."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            logger.warning("the database went away; retrying a job write")
            connection.close()
            time.sleep(0.5)


def redact(text: str, secrets: list[str]) -> str:
    """Hide every stored credential that shows up in a line of output."""
    for secret in secrets:
        text = text.replace(secret, "********")
    return text


def mark(row: JobStep, status: str, echo: Callable[[str], None] | None = None, line: str = "") -> None:
    row.status = status
    now = timezone.now()
    if status == JobStep.RUNNING:
        row.started = now
    else:
        row.finished = now
    durable(lambda: row.save(update_fields=["status", "started", "finished", "error"]))
    if echo and line:
        echo(line)


def undo(steps, touched, current, echo) -> None:
    """Undo the steps that ran, newest first, the failed one included (it may have half
    happened; every undo restores a snapshot, so it is safe either way). An undo that fails
    is recorded, not raised."""
    for index, row in reversed(touched):
        if steps[index].undo is None:
            continue
        current["step"] = row
        if echo:
            echo(f"  undo {row.position}: {row.name}")
        try:
            steps[index].undo()
            if row.status != JobStep.FAILED:
                row.error = ""
                mark(row, JobStep.UNDONE)
        except Exception as error:  # noqa: BLE001 - keep undoing the rest
            row.error = (row.error + "; " if row.status == JobStep.FAILED else "") + f"undo failed: {error}"
            row.save(update_fields=["error"])
            if echo:
                echo(f"    undo failed: {error}")


def finish(job: Job, status: str, error: str, echo: Callable[[str], None] | None = None) -> str:
    """End the job, its audit event and (for an upgrade stage) the wizard's state together."""
    durable(lambda: _finish(job, status, error))
    if echo:
        echo(f"job #{job.pk} {status}" + (f": {error}" if error else ""))
    return status


def _finish(job: Job, status: str, error: str) -> None:
    with transaction.atomic():
        job.status, job.error, job.finished = status, error, timezone.now()
        job.save(update_fields=["status", "error", "finished"])
        AuditEvent.record(
            job.started_by, f"job: {PROCEDURES[job.kind].label}", cluster=job.cluster,
            member_name=job.member_name,
            outcome=AuditEvent.OK if status == Job.SUCCEEDED else AuditEvent.FAILED,
            detail=f"job #{job.pk} {status}" + (f": {error}" if error else ""), reason=job.reason,
        )
        if job.upgrade_id:
            from hacontrol.ha.upgrade import job_finished

            job_finished(job)


def fail_orphaned_jobs() -> int:
    """Fail the jobs left running by a dead worker of this host, restoring their hosts first."""
    from hacontrol.ha.procedures import restore_after_crash

    count = 0
    for job in Job.objects.filter(status=Job.RUNNING).select_related("cluster", "member"):
        host, _, pid = job.worker.partition(":")
        if host != socket.gethostname() or not pid.isdigit() or pid_alive(int(pid)):
            continue
        job.steps.filter(status=JobStep.RUNNING).update(status=JobStep.FAILED, error="the worker died here")
        job.steps.filter(status=JobStep.PENDING).update(status=JobStep.SKIPPED)
        last = job.steps.order_by("-position").first()
        step = JobStep.objects.create(job=job, position=(last.position if last else 0) + 1,
                                      name="Restore the hosts after the worker died", status=JobStep.RUNNING)

        def log(line: str, step=step) -> None:
            step.output += line + "\n"
            step.save(update_fields=["output"])

        restored = restore_after_crash(job, log)
        mark(step, JobStep.SUCCEEDED)
        finish(job, Job.FAILED, f"the worker running it ({job.worker}) died; "
               + (f"restored {', '.join(restored)}" if restored else "no host needed restoring"))
        count += 1
    return count


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
