"""Every listing of `manage.py ha` answers --json with JSON, so scripts need not scrape tables."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from hacontrol.ha.models import ApiToken, AuditEvent, Cluster, Job, Member


@pytest.fixture
def world(admin):
    cluster = Cluster.objects.create(name="prod")
    member = Member.objects.create(cluster=cluster, name="central1", priority=10, address="192.0.2.10", state="active")
    job = Job.objects.create(kind="add", cluster=cluster, member=member, member_name="central1", status="succeeded",
                             started_by="alice")
    AuditEvent.record("alice", "member add", cluster=cluster, member_name="central1")
    ApiToken.issue(admin, "ci")
    return {"job": job.pk}


LISTINGS = {
    "cluster list": (["cluster", "list"], lambda out: out[0]["name"] == "prod" and out[0]["members"] == 1),
    "status": (["status", "prod"], lambda out: out["members"][0]["state"] == "active"),
    "jobs": (["jobs", "prod"], lambda out: out[0]["kind"] == "add"),
    "job": (["job", "{job}"], lambda out: out["status"] == "succeeded" and out["steps"] == []),
    "audit": (["audit", "--cluster", "prod"], lambda out: out[0]["action"] == "member add"),
    "token list": (["token", "list"], lambda out: out[0]["name"] == "ci" and "digest" not in out[0]),
}


@pytest.mark.parametrize("listing", sorted(LISTINGS))
def test_every_listing_answers_json(world, capsys, listing):
    arguments, expected = LISTINGS[listing]
    call_command("ha", *[a.format(**world) for a in arguments], "--json")
    assert expected(json.loads(capsys.readouterr().out))
