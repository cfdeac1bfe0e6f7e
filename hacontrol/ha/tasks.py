"""Background tasks (Django's tasks API, the django-tasks backport): what the web hands the worker."""

from __future__ import annotations

from django_tasks import task

from hacontrol.ha import executor
from hacontrol.ha.models import Cluster
from hacontrol.ha.probe import check_dns, probe_cluster
from hacontrol.ha.runner import JobRunner


@task()
def run_job_task(job_id: int) -> None:
    executor.submit(lambda: JobRunner(job_id).run())


@task()
def probe_cluster_task(cluster_id: int) -> None:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is not None:
        executor.submit(lambda: probe_cluster(cluster))


@task()
def check_dns_task(cluster_id: int) -> None:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is not None:
        executor.submit(lambda: check_dns(cluster))
