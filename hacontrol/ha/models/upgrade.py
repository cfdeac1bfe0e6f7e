"""A guided update of Central on every member of a cluster: the wizard's row."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse

from hacontrol.ha.models.choices import OPEN_UPGRADE_STATUSES, JobKind, UpgradeStatus
from hacontrol.ha.models.cluster import Cluster
from hacontrol.ha.models.member import Member


class Upgrade(models.Model):
    """A guided update of Central on every member, stage by stage, each stage a job.

    Stages (the vendor's "Updating Central in High Availability setup"): pre-flight checks, stop
    every secondary, upgrade the primary, upgrade each secondary in turn, final check. The primary
    here is the member serving as Active when the upgrade starts: it keeps serving until its own
    turn. The wizard's state lives here, so it resumes at the same stage after a browser, web
    server or worker restart, and for whoever signs in next.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="upgrades")
    started_by = models.CharField(max_length=150)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=UpgradeStatus.choices, default=UpgradeStatus.PREPARING)
    stage = models.PositiveSmallIntegerField(default=0, help_text="Index into stages()")
    installer_name = models.CharField(max_length=255)
    installer_file = models.CharField(max_length=500, blank=True, help_text="Uploaded copy on the console")
    installer_host_path = models.CharField(max_length=500, blank=True, help_text="Or a path already on the hosts")
    installer_sha256 = models.CharField(max_length=64, blank=True)
    installer_size = models.BigIntegerField(default=0)
    installer_folder = models.CharField(max_length=255, blank=True, help_text="The folder the archive extracts to")
    installer_platform = models.CharField(max_length=10, blank=True, help_text="linux or windows, from the file itself")
    target_version = models.CharField(max_length=50)
    member_order = models.JSONField(default=list, help_text="Member ids: primary first, then secondaries")
    versions_before = models.JSONField(default=dict, blank=True)
    versions_after = models.JSONField(default=dict, blank=True)
    stopped = models.JSONField(default=list, blank=True, help_text="Secondaries this upgrade stopped")
    overridden = models.TextField(blank=True, help_text="Why failed pre-flight checks were overridden")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster"], condition=Q(status__in=["preparing", "running", "failed"]),
                name="one_open_upgrade_per_cluster",
            ),
        ]

    def __str__(self) -> str:
        return f"upgrade #{self.pk} of {self.cluster} to {self.target_version}"

    def get_absolute_url(self) -> str:
        return reverse("upgrade-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_UPGRADE_STATUSES

    def members(self) -> list[Member]:
        """The members in upgrade order (primary first), as they were when it started."""
        found = {m.pk: m for m in self.cluster.members.filter(pk__in=self.member_order)}
        return [found[pk] for pk in self.member_order if pk in found]

    def stages(self) -> list[tuple[JobKind, Member | None]]:
        """(job kind, member) for each stage, in order."""
        return [
            (JobKind.UPGRADE_PREFLIGHT, None),
            (JobKind.UPGRADE_STOP, None),
            *[(JobKind.UPGRADE_MEMBER, member) for member in self.members()],
            (JobKind.UPGRADE_FINAL, None),
        ]
