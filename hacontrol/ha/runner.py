"""Run a job to its end, step by step, recording everything, under a lease.

As NetBox's JobRunner does, one class owns a job's run: it claims the job, builds the procedure's
steps, walks them (resuming after a wait for an administrator), and on a failure or a cancel
undoes the steps that ran, newest first. While it runs it renews the job's lease; a job whose
lease ran out lost its process, wherever that ran, and :meth:`JobRunner.recover` undoes it from
the snapshots in its vault, in whichever process notices first.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from hacontrol.ha import upgrades
from hacontrol.ha.models import AuditEvent, Job, JobKind, JobStatus, JobStep, Outcome, StepStatus
from hacontrol.ha.probe import probe_cluster
from hacontrol.ha.procedures import REGISTRY
from hacontrol.ha.procedures.base import (
    Cancelled,
    HostUnavailable,
    JobContext,
    NeedsAdministrator,
    Step,
    StepFailed,
    durable,
)
from hacontrol.remote import RemoteError

logger = logging.getLogger("hacontrol.jobs")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
DONE = (StepStatus.SUCCEEDED,)

# Answers a question from a step done in Micetro: True done, False cancel, None leave the job waiting.
Confirmer = Callable[[Job, dict], "bool | None"]


class JobLost(Exception):  # noqa: N818 - a fact about the lease, not an error of the job
    """Another process recovered this job (our lease expired): stop touching it."""


def not_undone(problems: list[str]) -> str:
    """The tail of a job's error naming what its undo could not put back (empty when all was)."""
    return "; NOT UNDONE (put it back by hand): " + "; ".join(problems) if problems else ""


def redact(text: str, secrets: list[str]) -> str:
    """Hide every stored credential that shows up in a line of output."""
    for secret in secrets:
        text = text.replace(secret, "********")
    return text


class Lease:
    """Renews a job's lease from a thread of its own, and notices a cancel request meanwhile."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.lost = threading.Event()
        self.cancel = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _renew(self) -> None:
        period = max(0.5, settings.HACONTROL_JOB_LEASE / 5)
        renewed_at = time.monotonic()
        try:
            while not self._stop.wait(min(1.0, period)):
                try:
                    if time.monotonic() - renewed_at >= period:
                        renewed = Job.objects.filter(pk=self.job_id, worker=WORKER_ID, status=JobStatus.RUNNING).update(
                            lease_expires=Now() + timedelta(seconds=settings.HACONTROL_JOB_LEASE))
                        if not renewed:
                            self.lost.set()
                            return
                        renewed_at = time.monotonic()
                    if Job.objects.filter(pk=self.job_id).exclude(cancel_requested_by="").exists():
                        self.cancel.set()
                except (OperationalError, InterfaceError):
                    connection.close()  # the database restarts: the lease holds until it is back
        finally:
            connection.close()


class JobRunner:
    """Runs one job: claim, build, walk, wait, undo, finish."""

    def __init__(self, job_id: int, *, echo: Callable[[str], None] | None = None, confirm: Confirmer | None = None):
        self.job_id = job_id
        self.echo = echo
        self.confirm = confirm
        self.interrupted = threading.Event()  # a CLI's Ctrl-C: cancel, without a database round trip
        self.abandon_undo = threading.Event()  # a second Ctrl-C: stop undoing, say what is left
        self.cancelled_by: tuple[str, str] | None = None
        self.lease: Lease | None = None
        self.current: JobStep | None = None
        self.job: Job
        self.secrets: list[str] = []

    # Entry points -------------------------------------------------------------------------

    def run(self) -> str:
        """Run a queued job until it ends or waits; return its status."""
        claimed = Job.objects.filter(pk=self.job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, worker=WORKER_ID, started=Now(),
            lease_expires=Now() + timedelta(seconds=settings.HACONTROL_JOB_LEASE))
        self.job = Job.objects.select_related("cluster", "member", "upgrade").get(pk=self.job_id)
        if not claimed:
            return self.job.status
        self.secrets = self.job.cluster.secrets()
        if self.job.cancel_requested_by:
            self.interrupted.set()
        with Lease(self.job_id) as self.lease:
            try:
                return self._walk()
            except JobLost:
                self.say(f"job #{self.job_id} was recovered by another process; this one stops")
                return JobStatus.FAILED

    def recover(self) -> str:
        """Undo a job whose process stopped renewing its lease; the caller claimed it."""
        self.job = Job.objects.select_related("cluster", "member", "upgrade").get(pk=self.job_id)
        self.secrets = self.job.cluster.secrets()
        died = self.job.worker
        self.job.steps.filter(status=StepStatus.RUNNING).update(
            status=StepStatus.FAILED, error=f"the process running it ({died}) stopped", finished=Now())
        self.job.steps.filter(status=StepStatus.PENDING).update(status=StepStatus.SKIPPED)
        with Lease(self.job_id) as self.lease:
            ctx = self.context()
            try:
                steps = REGISTRY[JobKind(self.job.kind)].build(ctx)
            except Exception as error:  # noqa: BLE001 - the job still ends
                return self.finish(JobStatus.FAILED, f"the process running it ({died}) stopped, and its steps "
                                                     f"cannot be rebuilt to undo them: {error}")
            rows = list(self.job.steps.all())
            touched = [(i, row) for i, row in enumerate(rows[: len(steps)])
                       if row.status in (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.WAITING)]
            last = rows[-1].position if rows else 0
            recovery = durable(lambda: JobStep.objects.create(
                job=self.job, position=last + 1, name="Recover: undo what the job did, from its snapshots",
                status=StepStatus.RUNNING, started=timezone.now()))
            self.current = recovery
            problems = self.undo(steps, touched, log_to=recovery)
            recovery.error = "; ".join(problems)
            self.mark(recovery, StepStatus.FAILED if problems else StepStatus.SUCCEEDED)
            outcome = not_undone(problems) or "; every host was put back"
            return self.finish(JobStatus.FAILED, f"the process running it ({died}) stopped answering{outcome}")

    # The walk -----------------------------------------------------------------------------

    def context(self) -> JobContext:
        return JobContext(self.job, self.log, set_deadline=self.set_deadline, cancelled=self.cancel_wanted)

    def _walk(self) -> str:
        ctx = self.context()
        try:
            steps = REGISTRY[JobKind(self.job.kind)].build(ctx)
        except Exception as error:  # noqa: BLE001 - a job that cannot even be planned still ends
            logger.exception("job %s could not be planned", self.job_id)
            return self.finish(JobStatus.FAILED, f"the job could not be planned: {error}")
        rows = self.rows(steps)
        if rows is None:
            return self.finish(JobStatus.FAILED, "the cluster changed while the job waited: its steps no longer "
                                                 "match; nothing more was done")
        done = [(i, row) for i, row in enumerate(rows) if row.status in DONE]
        failed_gates: list[str] = []
        for index, (step, row) in enumerate(zip(steps, rows, strict=True)):
            if row.status in DONE:
                continue
            if self.cancel_wanted():
                return self.cancelled(steps, done, rows[index:])
            self.current = row
            self.mark(row, StepStatus.RUNNING, f"[{row.position}/{len(rows)}] {row.name}")
            try:
                self.check_lease()
                step.action()
                if step.check:
                    step.check()
                self.check_lease()
            except NeedsAdministrator as request:
                answer = self.ask(row, request.instructions)
                if answer is None:
                    return self.wait(row, request.instructions)
                if not answer:
                    self.request_cancel(self.job.started_by, "declined at the prompt")
                    return self.cancelled(steps, done, rows[index:])
                row.output += f"confirmed at the command line by {self.job.started_by}\n"
            except Cancelled:
                return self.cancelled(steps, [*done, (index, row)], rows[index + 1 :])
            except JobLost:
                raise
            except Exception as error:  # noqa: BLE001 - whatever breaks, the hosts get their undo
                expected = isinstance(error, StepFailed | RemoteError)
                if not expected:
                    logger.exception("job %s step %s crashed", self.job_id, row.position)
                row.error = redact(str(error) if expected else f"internal error: {error!r}", self.secrets)
                self.mark(row, StepStatus.FAILED, f"    failed: {row.error}")
                if step.gate and expected:
                    failed_gates.append(f"{row.name}: {row.error}")
                    continue
                left = self.undo(steps, [*done, (index, row)])
                self.skip(rows[index + 1 :])
                return self.finish(JobStatus.FAILED, f"step {row.position} \"{row.name}\" failed: {row.error}"
                                   + not_undone(left))
            self.mark(row, StepStatus.SUCCEEDED)
            done.append((index, row))
        if failed_gates:
            return self.finish(JobStatus.FAILED, f"{len(failed_gates)} check(s) failed: " + "; ".join(failed_gates))
        return self.finish(JobStatus.SUCCEEDED, "")

    def rows(self, steps: list[Step]) -> list[JobStep] | None:
        """The job's step rows: made on the first run, matched by name when it resumes."""
        existing = list(self.job.steps.all())
        if not existing:
            return durable(lambda: JobStep.objects.bulk_create(
                JobStep(job=self.job, position=i, name=step.name[:200]) for i, step in enumerate(steps, start=1)))
        if [row.name for row in existing] != [step.name[:200] for step in steps]:
            return None
        return existing

    def ask(self, row: JobStep, instructions: dict) -> bool | None:
        """Put the question to whoever runs the job here (the CLI), the step showing it meanwhile."""
        if self.confirm is None:
            return None
        row.instructions = instructions
        self.mark(row, StepStatus.WAITING)
        answer = self.confirm(self.job, instructions)
        row.status = StepStatus.RUNNING
        return answer

    def wait(self, row: JobStep, instructions: dict) -> str:
        """Leave the job waiting for an administrator: it keeps the cluster, but no process."""
        row.instructions = instructions
        row.output += f"waiting for an administrator: {instructions['text']} ({instructions['where']})\n"

        def save() -> None:
            with transaction.atomic():
                row.status = StepStatus.WAITING
                row.save(update_fields=["status", "instructions", "output"])
                Job.objects.filter(pk=self.job_id).update(status=JobStatus.WAITING, worker="", lease_expires=None)

        durable(save)
        self.say(f"    waiting: {instructions['text']}, in {instructions['where']}")
        return JobStatus.WAITING

    def cancelled(self, steps: list[Step], touched: list[tuple[int, JobStep]], rest: list[JobStep]) -> str:
        """Undo what ran, newest first, and end the job as cancelled, naming who and why."""
        if self.cancelled_by:
            who, reason = self.cancelled_by
            Job.objects.filter(pk=self.job_id, cancel_requested_by="").update(cancel_requested_by=who, cancel_reason=reason)
        self.job.refresh_from_db(fields=["cancel_requested_by", "cancel_reason"])
        for _, row in touched:
            if row.status == StepStatus.RUNNING:
                row.error = "cancelled while it ran"
                self.mark(row, StepStatus.FAILED)
        left = self.undo(steps, touched)
        self.skip(rest)
        why = f": {self.job.cancel_reason}" if self.job.cancel_reason else ""
        return self.finish(JobStatus.CANCELLED, f"cancelled by {self.job.cancel_requested_by or 'an administrator'}{why}"
                           + not_undone(left))

    def undo(self, steps: list[Step], touched: list[tuple[int, JobStep]], *, log_to: JobStep | None = None) -> list[str]:
        """Undo the steps that ran, newest first, the failed one included (it may have half
        happened; every undo restores a snapshot, so it is safe either way). An undo that fails is
        recorded on its step and returned, not raised; a second Ctrl-C stops undoing."""
        problems: list[str] = []
        for position, (index, row) in enumerate(reversed(touched)):
            step = steps[index]
            if step.undo is None:
                continue
            if self.abandon_undo.is_set():
                left = [r.name for i, r in list(reversed(touched))[position:] if steps[i].undo is not None]
                problems.append("undo interrupted; not undone: " + "; ".join(left))
                break
            self.current = log_to or row
            self.say(f"  undo {row.position}: {row.name}")
            try:
                self.patiently(step.undo)
                if row.status != StepStatus.FAILED:
                    row.error = ""
                    self.mark(row, StepStatus.UNDONE)
            except Exception as error:  # noqa: BLE001 - keep undoing the rest
                message = redact(str(error), self.secrets)
                row.error = (row.error + "; " if row.status == StepStatus.FAILED else "") + f"undo failed: {message}"
                durable(lambda row=row: row.save(update_fields=["error"]))  # type: ignore[misc]
                problems.append(f"{row.name}: {message}")
                self.say(f"    undo failed: {message}")
        return problems

    def patiently(self, undo: Callable[[], None]) -> None:
        """Run an undo, waiting out a host that is briefly gone (restarting, a network blip) for up
        to HACONTROL_UNDO_PATIENCE seconds: a host left half-way is worse than a slower undo."""
        deadline = time.monotonic() + settings.HACONTROL_UNDO_PATIENCE
        while True:
            try:
                return undo()
            except HostUnavailable as error:
                if time.monotonic() > deadline or self.abandon_undo.is_set():
                    raise
                self.log(f"the host does not answer ({error}); trying again")
                time.sleep(1)

    def skip(self, rows: list[JobStep]) -> None:
        for row in rows:
            if row.status in (StepStatus.PENDING, StepStatus.WAITING):
                self.mark(row, StepStatus.SKIPPED)

    def finish(self, status: str, error: str) -> str:
        """End the job, its audit event and (for an upgrade stage) the wizard's state together;
        then look at the hosts it touched, so no page shows them as they were before."""
        error = redact(error, self.secrets)
        durable(lambda: self._finish(status, error))
        self.say(f"job #{self.job_id} {status}" + (f": {error}" if error else ""))
        if REGISTRY[JobKind(self.job.kind)].scope != "none":
            try:
                if self.job.cluster.members.exists():
                    probe_cluster(self.job.cluster)
            except Exception:  # noqa: BLE001 - the job has ended either way (even if the database just went away)
                logger.exception("looking at %s after job %s failed", self.job.cluster.name, self.job_id)
        return status

    def _finish(self, status: str, error: str) -> None:
        job = self.job
        with transaction.atomic():
            job.status, job.error, job.finished = status, error, timezone.now()
            Job.objects.filter(pk=job.pk).update(status=status, error=error, finished=job.finished, vault="",
                                                 lease_expires=None)
            outcome = {JobStatus.SUCCEEDED: Outcome.OK, JobStatus.CANCELLED: Outcome.CANCELLED}.get(
                JobStatus(status), Outcome.FAILED)
            AuditEvent.record(job.started_by, f"job: {JobKind(job.kind).label}", cluster=job.cluster,
                              member_name=job.member_name, outcome=outcome,
                              detail=f"job #{job.pk} {status}" + (f": {error}" if error else ""), reason=job.reason)
            if job.upgrade_id:
                upgrades.job_finished(job)

    # Small things ---------------------------------------------------------------------------

    def log(self, line: str) -> None:
        line = redact(line, self.secrets)
        step = self.current
        if step is not None:
            step.output += line + "\n"
            durable(lambda: JobStep.objects.filter(pk=step.pk).update(output=step.output))
        self.say(f"    {line}")

    def say(self, line: str) -> None:
        if self.echo:
            self.echo(line)

    def mark(self, row: JobStep, status: str, line: str = "") -> None:
        row.status = status
        now = timezone.now()
        if status == StepStatus.RUNNING:
            row.started = now
        else:
            row.finished = now
        durable(lambda: row.save(update_fields=["status", "started", "finished", "error", "output", "instructions"]))
        if line:
            self.say(line)

    def set_deadline(self, deadline: datetime | None) -> None:
        step = self.current
        if step is not None:
            step.deadline = deadline
            durable(lambda: JobStep.objects.filter(pk=step.pk).update(deadline=deadline))

    def check_lease(self) -> None:
        if self.lease is not None and self.lease.lost.is_set():
            raise JobLost()

    def cancel_wanted(self) -> bool:
        self.check_lease()
        return self.interrupted.is_set() or (self.lease is not None and self.lease.cancel.is_set())

    def request_cancel(self, who: str, reason: str) -> None:
        """Cancel from this process (a CLI's Ctrl-C, a declined prompt). Safe in a signal handler:
        it only sets flags; the walk records who and why when it stops."""
        self.cancelled_by = (who, reason)
        self.interrupted.set()


# Jobs that lost their process -------------------------------------------------------------------

def recover_expired_jobs(cluster_id: int | None = None) -> list[int]:
    """Recover every running job whose lease has expired (of one cluster, or all): claim it, undo
    it from its snapshots, fail it with the reason. Whoever notices first does it, once."""
    recovered = []
    expired = Job.objects.filter(status=JobStatus.RUNNING, lease_expires__lt=Now())
    if cluster_id is not None:
        expired = expired.filter(cluster_id=cluster_id)
    for job_id in list(expired.values_list("pk", flat=True)):
        claimed = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, lease_expires__lt=Now()).update(
            worker=WORKER_ID, lease_expires=Now() + timedelta(seconds=settings.HACONTROL_JOB_LEASE))
        if claimed:
            JobRunner(job_id).recover()
            recovered.append(job_id)
    return recovered


def stale_queued_jobs(grace: float) -> list[Job]:
    """Queued jobs no process has picked up within ``grace`` seconds."""
    cutoff = timezone.now() - timedelta(seconds=grace)
    return list(Job.objects.filter(status=JobStatus.QUEUED).filter(
        Q(params__enqueued__lt=cutoff.timestamp()) | Q(params__enqueued__isnull=True, created__lt=cutoff)))


def fail_job(job: Job, error: str) -> None:
    """End a job that never started (nothing to undo)."""
    with transaction.atomic():
        updated = Job.objects.filter(pk=job.pk, status=job.status).update(
            status=JobStatus.FAILED, error=error, finished=timezone.now(), vault="")
        if updated:
            AuditEvent.record(job.started_by, f"job: {JobKind(job.kind).label}", cluster=job.cluster,
                              member_name=job.member_name, outcome=Outcome.FAILED, detail=f"job #{job.pk} failed: {error}",
                              reason=job.reason)

