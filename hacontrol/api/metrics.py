"""/metrics: what the console knows, in Prometheus' text format.

Every value is read from the database at each scrape, never kept in a process: the web may run
several processes and the monitor runs in whichever worker holds its lease, yet every scrape,
answered by any of them, gives the same numbers. Served to an API token (any role) or to the
addresses in HACONTROL_METRICS_ALLOW (loopback by default).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from rest_framework.exceptions import AuthenticationFailed

from hacontrol.api.authentication import TokenAuthentication
from hacontrol.ha.access import request_address
from hacontrol.ha.models import AuditEvent, Cluster, Job, JobKind, JobStatus, Lease, Member, State
from hacontrol.ha.worker import MONITOR

MEMBER = ["cluster", "member"]


def member_metrics(now: datetime) -> Iterator[Metric]:
    members = list(Member.objects.select_related("cluster").only(
        "name", "state", "last_seen", "clock_skew", "version", "address", "priority", "cluster__name"))
    busy = Job.objects.members_in_maintenance()
    state = GaugeMetricFamily("hacontrol_member_state", "1 for the state the member is in (as the panel shows it, "
                                                        "Maintenance while a job works on it), 0 for the others",
                              labels=[*MEMBER, "state"])
    seen = GaugeMetricFamily("hacontrol_member_seconds_since_last_seen",
                             "Seconds since a check last found the member serving as itself", labels=MEMBER)
    skew = GaugeMetricFamily("hacontrol_member_clock_skew_seconds",
                             "The host's clock minus the console's, at the last check", labels=MEMBER)
    info = InfoMetricFamily("hacontrol_member", "The member's address, priority and Central version", labels=MEMBER)
    for member in members:
        labels = [member.cluster.name, member.name]
        current = State.MAINTENANCE if member.pk in busy else member.state
        for choice in State:
            state.add_metric([*labels, choice.value], 1.0 if choice == current else 0.0)
        if member.last_seen:
            seen.add_metric(labels, (now - member.last_seen).total_seconds())
        if member.clock_skew is not None:
            skew.add_metric(labels, member.clock_skew)
        info.add_metric(labels, {"address": member.address, "priority": str(member.priority),
                                 "version": member.version})
    yield from (state, seen, skew, info)


def failover_metrics(clusters: list[str]) -> Iterator[Metric]:
    counts = dict(AuditEvent.objects.filter(action="failover").values_list("cluster_name")
                  .annotate(n=Count("pk")).order_by())
    failovers = CounterMetricFamily("hacontrol_failovers", "Failovers Central did, as the monitor saw them "
                                                           "(the audit log's 'failover' events)", labels=["cluster"])
    for name in sorted(set(clusters) | set(counts)):
        failovers.add_metric([name], counts.get(name, 0))
    yield failovers


def job_metrics(now: datetime, clusters: list[str]) -> Iterator[Metric]:
    counts = {(kind, status): n for kind, status, n in
              Job.objects.values_list("kind", "status").annotate(n=Count("pk")).order_by()}
    jobs = GaugeMetricFamily("hacontrol_jobs", "Jobs by kind and status", labels=["kind", "status"])
    for kind in JobKind:
        for status in JobStatus:
            jobs.add_metric([kind.value, status.value], counts.get((kind.value, status.value), 0))
    yield jobs
    oldest = Job.objects.filter(status=JobStatus.RUNNING).aggregate(started=Min("started"))["started"]
    yield GaugeMetricFamily("hacontrol_oldest_running_job_age_seconds",
                            "Seconds since the oldest running job started (0 when none runs)",
                            value=(now - oldest).total_seconds() if oldest else 0.0)
    waiting = dict(Job.objects.filter(status=JobStatus.WAITING).values_list("cluster__name")
                   .annotate(n=Count("pk")).order_by())
    family = GaugeMetricFamily("hacontrol_jobs_waiting", "Jobs waiting for an administrator's step in Micetro",
                               labels=["cluster"])
    for name in clusters:
        family.add_metric([name], waiting.get(name, 0))
    yield family


def probe_metrics(now: datetime) -> Iterator[Metric]:
    lease = Lease.objects.filter(name=MONITOR).first()
    if lease is None or lease.last_round_finished is None:
        return
    yield CounterMetricFamily("hacontrol_probe_rounds", "Rounds in which the monitor probed every member",
                              value=lease.rounds)
    yield GaugeMetricFamily("hacontrol_probe_round_duration_seconds", "How long the last round of probes took",
                            value=lease.last_round_seconds or 0.0)
    yield GaugeMetricFamily("hacontrol_probe_seconds_since_last_round", "Seconds since the last round of probes ended",
                            value=(now - lease.last_round_finished).total_seconds())


class DatabaseCollector(Collector):
    """Builds every metric from the database, at each scrape."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        clusters = list(Cluster.objects.values_list("name", flat=True))
        yield from member_metrics(now)
        yield from failover_metrics(clusters)
        yield from job_metrics(now, clusters)
        yield from probe_metrics(now)


# Not prometheus-client's global registry: this process's own numbers (memory, CPU) would differ
# from one web process to the next.
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(DatabaseCollector())


def address_allowed(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request_address(request))
    except ValueError:
        return False
    return any(address in network for network in settings.HACONTROL_METRICS_ALLOW)


def refused(message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = TokenAuthentication().authenticate_header(None)
    return response


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    try:
        by_token = TokenAuthentication().authenticate(request) is not None
    except AuthenticationFailed as error:
        return refused(str(error.detail))
    if not (by_token or address_allowed(request)):
        return refused("send an API token (Authorization: Bearer ...), or scrape from an address in "
                       "HACONTROL_METRICS_ALLOW")
    # The text format Prometheus asks for (OpenMetrics or plain text), plain text 0.0.4 otherwise.
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(REGISTRY), content_type=content_type)
