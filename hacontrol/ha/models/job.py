"""Jobs: a procedure run on a cluster's hosts, step by step, with its lease, its log and its vault."""

from __future__ import annotations

import json

from django.db import models
from django.db.models import Q
from django.urls import reverse

from hacontrol.ha.fields import EncryptedTextField
from hacontrol.ha.models.choices import ACTIVE_JOB_STATUSES, JobKind, JobStatus, StepStatus
from hacontrol.ha.models.cluster import Cluster
from hacontrol.ha.models.member import Member


class JobQuerySet(models.QuerySet):
    def active(self) -> JobQuerySet:
        return self.filter(status__in=ACTIVE_JOB_STATUSES)

    def members_in_maintenance(self) -> set[int]:
        """Ids of the members an active job works on (the panel shows them in Maintenance)."""
        return {pk for affected in self.active().values_list("affected", flat=True) for pk in affected}


class Job(models.Model):
    """A procedure run on a cluster's hosts, step by step, by a worker or the CLI.

    While it runs, the process running it renews ``lease_expires``; a job whose lease ran out lost
    its process (wherever it ran) and is recovered by whoever notices: its steps are undone from
    the snapshots kept in ``vault`` (encrypted: a host's preferences.cfg holds Central's database
    password). A job can wait for an administrator (``waiting``: a step done in Micetro's own UI)
    and be cancelled; either way it holds its cluster until it ends.
    """

    kind = models.CharField(max_length=30, choices=JobKind.choices)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="jobs")
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    member_name = models.CharField(max_length=63, blank=True)
    upgrade = models.ForeignKey("Upgrade", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    params = models.JSONField(default=dict, blank=True, help_text="What the job was asked to do (no secrets)")
    vault = EncryptedTextField(blank=True, help_text="Snapshots of the hosts for undo, encrypted; dropped at the end")
    affected = models.JSONField(default=list, blank=True, help_text="Ids of the members it works on (Maintenance)")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    started_by = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    follow_up = models.TextField(blank=True, help_text="What an administrator still has to do by hand (in Micetro)")
    worker = models.CharField(max_length=200, blank=True, help_text="The process running it")
    lease_expires = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.CharField(max_length=150, blank=True)
    cancel_reason = models.TextField(blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            # The database, not the application, guarantees one job at a time per cluster,
            # whatever the number of web processes, workers and CLIs.
            models.UniqueConstraint(
                fields=["cluster"], condition=Q(status__in=["queued", "running", "waiting"]),
                name="one_active_job_per_cluster",
            ),
        ]
        indexes = [models.Index(fields=["status", "lease_expires"], name="job_status_lease")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("job-detail", args=[self.pk])

    @property
    def title(self) -> str:
        return f"{JobKind(self.kind).label} {self.member_name}".strip()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES

    @property
    def is_waiting(self) -> bool:
        return self.status == JobStatus.WAITING

    @property
    def cancel_requested(self) -> bool:
        return bool(self.cancel_requested_by)

    def vault_data(self) -> dict:
        return json.loads(self.vault) if self.vault else {}

    def waiting_step(self) -> JobStep | None:
        return self.steps.filter(status=StepStatus.WAITING).first()

    @property
    def progress(self) -> int:
        """Percent of steps finished, for the progress bar."""
        steps = list(self.steps.all())
        if not steps:
            return 0 if self.is_active else 100
        done = sum(1 for step in steps if step.status not in (StepStatus.PENDING, StepStatus.RUNNING, StepStatus.WAITING))
        return round(100 * done / len(steps))


class JobStep(models.Model):
    """One step of a job: what ran on which host, its output, and how it ended. A step waiting for
    an administrator carries ``instructions``; one waiting for Central (a failover) a ``deadline``."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=StepStatus.choices, default=StepStatus.PENDING)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    output = models.TextField(blank=True)
    error = models.TextField(blank=True)
    instructions = models.JSONField(default=dict, blank=True, help_text="What to do in Micetro's UI")
    deadline = models.DateTimeField(null=True, blank=True, help_text="By when Central should have acted")

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="step_position_unique")]
