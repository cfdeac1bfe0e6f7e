"""Every path and method of the generated OpenAPI schema, for each role: anonymous callers get 401,
viewers read and are refused every change (403, nothing changes), administrators are let through.
Generated from the schema, so a new endpoint cannot be forgotten; and every /api/ URL pattern
must be in the schema, so an endpoint cannot hide from it."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from hacontrol.ha import probe
from hacontrol.ha.models import AuditEvent, Cluster, Credential, Job, Member, StateChange, Upgrade
from hacontrol.lib import dnsupdate

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = sorted((path, method.upper()) for path, item in SCHEMA["paths"].items() for method in item)
CHANGES = [op for op in OPERATIONS if op[1] != "GET"]
READS = [op for op in OPERATIONS if op[1] == "GET"]
# Which object a path's {id} names, by the path's first part.
OBJECTS = {"clusters": "cluster", "members": "member", "jobs": "job", "upgrades": "upgrade", "credentials": "credential"}
NOT_IN_SCHEMA = {"schema", "docs"}
BACKUP = "preferences.cfg.hacontrol-20260101T000000000000Z.bak"


def ids(operations):
    return [f"{method} {path}" for path, method in operations]


@pytest.fixture
def world(db, monkeypatch):
    """One of everything. The walk is about who may do what, so the two reads that go out to the
    network answer at once: the DNS server's records (none) and a backup on the host (the DNS and
    member tests of the API read the real ones)."""
    monkeypatch.setattr(dnsupdate, "read", lambda target, name, timeout=0: dnsupdate.RRsets())
    monkeypatch.setattr(probe, "read_backup", lambda member, name: "<Database value=\"postgresql\"/>\n")
    cluster = Cluster.objects.create(name="prod", dns_name="central.example.com", dns_zone="example.com",
                                     dns_server="192.0.2.53", dns_key_name="hacontrol-key",
                                     dns_key_secret="c2VjcmV0LXNlY3JldC1zZWNyZXQ=")
    credential = Credential.objects.create(name="hosts", kind="ssh-password", password="pw-12345")
    member = Member.objects.create(cluster=cluster, name="central1", priority=10, address="192.0.2.10",
                                   credential=credential, findings={"backups": [{"name": BACKUP, "size": 9, "modified": 0}]},
                                   presented_host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
    job = Job.objects.create(kind="add", cluster=cluster, member=member, status="succeeded", started_by="x")
    upgrade = Upgrade.objects.create(cluster=cluster, started_by="x", installer_name="i", target_version="1.2",
                                     member_order=[member.pk], status="failed")
    StateChange.objects.create(member=member, from_state="unknown", to_state="active")
    return {"cluster": cluster.pk, "member": member.pk, "job": job.pk, "upgrade": upgrade.pk, "credential": credential.pk}


def url(path: str, world: dict) -> str:
    path = path.replace("{name}", BACKUP)
    return path.replace("{id}", str(world[OBJECTS[path.split("/")[2]]])) if "{id}" in path else path


def call(client, path: str, method: str, world: dict):
    return getattr(client, method.lower())(url(path, world), {}, format="json")


def snapshot():
    return (Cluster.objects.count(), Member.objects.count(), Job.objects.count(), Upgrade.objects.get().status,
            list(Member.objects.values_list("priority", "host_key", "credential")),
            list(Credential.objects.values_list("name", "kind", "username")),
            list(Cluster.objects.values_list("name", "dns_zone", "dns_server", "dns_key_name")),
            AuditEvent.objects.exclude(outcome="refused").count())


def test_the_schema_covers_every_action_and_reading():
    assert len(OPERATIONS) >= 38
    for expected in ["POST /api/members/", "POST /api/members/{id}/switchover/", "GET /api/jobs/{id}/",
                     "POST /api/jobs/{id}/confirm/", "POST /api/jobs/{id}/cancel/", "POST /api/clusters/{id}/tune/",
                     "GET /api/state-changes/", "GET /api/audit/", "POST /api/upgrades/{id}/abort/",
                     "GET /api/clusters/{id}/dns/plan/", "POST /api/clusters/{id}/dns/fix/",
                     "POST /api/credentials/", "PATCH /api/credentials/{id}/", "DELETE /api/credentials/{id}/",
                     "GET /api/members/{id}/details/", "GET /api/members/{id}/backups/{name}/",
                     "POST /api/members/{id}/restore/"]:
        assert expected in ids(OPERATIONS)


def api_patterns(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from api_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and prefix.startswith("api/"):
            yield entry


def test_every_api_url_pattern_is_in_the_schema():
    documented = {op.split(" ", 1)[1].replace("{id}", "{pk}") for op in ids(OPERATIONS)}
    for pattern in api_patterns():
        if pattern.name in NOT_IN_SCHEMA or "format" in str(pattern.pattern):
            continue
        route = "/api/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", str(pattern.pattern).lstrip("^").rstrip("$"))
        assert route in documented, f"{route} ({pattern.name}) is not in the schema"


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=ids(OPERATIONS))
def test_anonymous_callers_get_401(anonymous_api, world, path, method):
    before = snapshot()
    response = call(anonymous_api, path, method, world)
    assert response.status_code == 401, response.content
    assert response.json()["check"] == "not-authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert snapshot() == before


@pytest.mark.parametrize(("path", "method"), READS, ids=ids(READS))
def test_a_viewer_reads(viewer_api, world, path, method):
    assert call(viewer_api, path, method, world).status_code == 200


@pytest.mark.parametrize(("path", "method"), CHANGES, ids=ids(CHANGES))
def test_a_viewer_is_refused_every_change(viewer_api, world, path, method):
    before = snapshot()
    response = call(viewer_api, path, method, world)
    assert response.status_code == 403, response.content
    assert response.json() == {"check": "permission-denied", "detail": "Only HA administrators may change clusters.",
                               "field": None}
    assert snapshot() == before


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=ids(OPERATIONS))
def test_an_administrator_is_let_through(admin_api, world, path, method):
    response = call(admin_api, path, method, world)
    assert response.status_code in (200, 201, 202, 204, 400, 409), response.content
    if response.status_code >= 400:
        assert set(response.json()) >= {"check", "detail", "field"}


def test_the_schema_itself_needs_a_token_or_a_session(anonymous_api, viewer_api, viewer_client):
    assert anonymous_api.get("/api/schema/").status_code == 401
    assert viewer_api.get("/api/schema/?format=json").json()["info"]["title"] == "hacontrol API"
    assert viewer_client.get("/api/schema/").status_code == 200


def test_the_documentation_page_is_behind_the_consoles_sign_in(viewer_client):
    from django.test import Client

    assert Client().get("/api/docs/")["Location"].startswith("/login/")
    page = viewer_client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "<script>" not in page and "<style>" not in page, "our CSP allows no inline script or style"
    script = viewer_client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript") and "/api/schema/" in script.content.decode()
