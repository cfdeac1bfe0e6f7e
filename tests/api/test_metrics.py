"""/metrics in Prometheus' text format, read back with prometheus-client's own parser: what it
says must be what the database says, whichever process answers."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from hacontrol.ha.models import ApiToken, AuditEvent, Cluster, Job, Lease, Member
from hacontrol.ha.worker import MONITOR, Monitor, hold


def scrape(client, **extra) -> dict:
    """{(sample name, frozen labels): value} from a scrape."""
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def prod(db):
    cluster = Cluster.objects.create(name="prod")
    now = timezone.now()
    members = {
        name: Member.objects.create(cluster=cluster, name=name, priority=priority, address=f"192.0.2.{priority}",
                                    state=state, last_seen=now - timedelta(seconds=seen) if seen is not None else None,
                                    clock_skew=skew, version="11.0.3")
        for name, priority, state, seen, skew in [("central1", 10, "active", 5, 0.25), ("central2", 20, "standby", 7, -1.5),
                                                  ("central3", 30, "offline", 600, None), ("central4", 40, "unknown", None, None)]
    }
    return cluster, members


def test_each_members_state_is_one_gauge_per_state(client, prod):
    cluster, members = prod
    Job.objects.create(kind="remove", cluster=cluster, member=members["central2"], status="running",
                       started_by="alice", started=timezone.now() - timedelta(seconds=90), affected=[members["central2"].pk])
    samples = scrape(client)
    expected = {"central1": "active", "central2": "maintenance", "central3": "offline", "central4": "unknown"}
    for member, state in expected.items():
        assert value(samples, "hacontrol_member_state", cluster="prod", member=member, state=state) == 1
        others = [v for (name, labels), v in samples.items() if name == "hacontrol_member_state"
                  and ("member", member) in labels and ("state", state) not in labels]
        assert others and set(others) == {0.0}
    assert 5 <= value(samples, "hacontrol_member_seconds_since_last_seen", cluster="prod", member="central1") < 60
    assert 600 <= value(samples, "hacontrol_member_seconds_since_last_seen", cluster="prod", member="central3") < 660
    assert ("hacontrol_member_seconds_since_last_seen", frozenset({("cluster", "prod"), ("member", "central4")})) \
        not in samples, "never seen: no number rather than a made-up one"
    assert value(samples, "hacontrol_member_clock_skew_seconds", cluster="prod", member="central2") == -1.5
    assert value(samples, "hacontrol_member_info", cluster="prod", member="central1", address="192.0.2.10",
                 priority="10", version="11.0.3") == 1


def test_jobs_are_counted_by_kind_and_status_with_the_oldest_running_and_the_waiting(client, prod):
    cluster, members = prod
    other = Cluster.objects.create(name="lab")
    Job.objects.create(kind="add", cluster=cluster, status="succeeded", started_by="a")
    Job.objects.create(kind="add", cluster=cluster, status="failed", started_by="a")
    Job.objects.create(kind="add", cluster=other, status="succeeded", started_by="a")
    Job.objects.create(kind="tune", cluster=cluster, status="running", started_by="a",
                       started=timezone.now() - timedelta(minutes=10))
    Job.objects.create(kind="add", cluster=other, status="waiting", started_by="a", started=timezone.now())
    samples = scrape(client)
    assert value(samples, "hacontrol_jobs", kind="add", status="succeeded") == 2
    assert value(samples, "hacontrol_jobs", kind="add", status="failed") == 1
    assert value(samples, "hacontrol_jobs", kind="switchover", status="running") == 0
    assert 600 <= value(samples, "hacontrol_oldest_running_job_age_seconds") < 660
    assert value(samples, "hacontrol_jobs_waiting", cluster="lab") == 1
    assert value(samples, "hacontrol_jobs_waiting", cluster="prod") == 0


def test_failovers_are_counted_from_the_audit_log(client, prod):
    cluster, _ = prod
    Cluster.objects.create(name="lab")
    for _ in range(2):
        AuditEvent.record(None, "failover", cluster=cluster, member_name="central2", detail="Central failed over")
    AuditEvent.record("alice", "switchover", cluster=cluster, member_name="central2")
    samples = scrape(client)
    assert value(samples, "hacontrol_failovers_total", cluster="prod") == 2
    assert value(samples, "hacontrol_failovers_total", cluster="lab") == 0


def test_the_monitors_rounds_come_from_its_lease_whichever_worker_probes(client, db):
    assert not any(name.startswith("hacontrol_probe") for name, _ in scrape(client))
    assert hold(MONITOR, 10)
    monitor = Monitor()
    monitor.rounds = 1  # not the round that prunes the history
    monitor.probe_round()
    monitor.probe_round()
    lease = Lease.objects.get(name=MONITOR)
    samples = scrape(client)
    assert value(samples, "hacontrol_probe_rounds_total") == lease.rounds == 2
    assert value(samples, "hacontrol_probe_round_duration_seconds") == lease.last_round_seconds >= 0
    assert 0 <= value(samples, "hacontrol_probe_seconds_since_last_round") < 60


def test_only_tokens_and_allowed_addresses_may_scrape(client, viewer, settings):
    far = {"REMOTE_ADDR": "192.0.2.99"}
    refused = client.get("/metrics", **far)
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert "HACONTROL_METRICS_ALLOW" in refused.content.decode()
    token = ApiToken.issue(viewer, "prometheus")[1]
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}", **far).status_code == 200
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer hac_wrong", REMOTE_ADDR="127.0.0.1")
    assert wrong.status_code == 401, "a wrong token is refused even from an allowed address"
    settings.HACONTROL_METRICS_ALLOW = [__import__("ipaddress").ip_network("192.0.2.0/24")]
    assert client.get("/metrics", **far).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.1").status_code == 401


def test_the_grafana_dashboard_asks_only_for_metrics_we_serve(client, prod):
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "deploy/grafana/hacontrol.json").read_text())
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"hacontrol_\w+", target["expr"])}
    assert hold(MONITOR, 10)
    Lease.objects.filter(name=MONITOR).update(rounds=1, last_round_seconds=0.5, last_round_finished=timezone.now())
    AuditEvent.record(None, "failover", cluster=prod[0])
    served = {family.name for family in text_string_to_metric_families(client.get("/metrics").content.decode())}
    served |= {f"{name}_total" for name in served} | {f"{name}_info" for name in served}
    assert len(asked) >= 9 and asked <= served, asked - served
