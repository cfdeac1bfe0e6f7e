"""Every URL pattern, generated from the resolver so a new view cannot be forgotten:
anonymous users are sent to sign in, viewers may read but never change."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from hacontrol.ha.models import AuditEvent, Cluster, Credential, Job, Member, Upgrade

PUBLIC = {"login", "healthz"}
# Read-only pages a viewer may see; every other pattern changes something.
READ_ONLY = {"cluster-list", "cluster-detail", "job-detail", "job-list", "audit-list", "upgrade-detail", "logout",
             "member-detail", "member-backup", "credential-list", "credential-detail"}
# Each user's own API tokens: viewers make and revoke theirs too (tests/api/test_tokens.py).
SELF_SERVICE = {"token-list", "token-revoke"}
# Answered to a token or to configured addresses, not to a sign-in (tests/api/test_metrics.py).
ELSEWHERE = {"metrics"}


def patterns(resolver=None):
    """The console's page patterns; the API (namespace "api") has its own walk over its schema."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace != "api":
                yield from patterns(entry)
        elif isinstance(entry, URLPattern) and entry.name and entry.name not in SELF_SERVICE | ELSEWHERE:
            yield entry


@pytest.fixture
def world(db):
    cluster = Cluster.objects.create(name="prod")
    member = Member.objects.create(cluster=cluster, name="central1", priority=10, address="192.0.2.10",
                                   presented_host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
    job = Job.objects.create(kind="add", cluster=cluster, member=member, status="succeeded", started_by="x")
    upgrade = Upgrade.objects.create(cluster=cluster, started_by="x", installer_name="i", target_version="1.2",
                                     member_order=[member.pk], status="failed")
    credential = Credential.objects.create(name="hosts", kind="ssh-password", username="root", password="pw-12345")
    return {"cluster_id": cluster.pk, "member_id": member.pk, "job_id": job.pk, "upgrade_id": upgrade.pk,
            "credential_id": credential.pk, "name": "preferences.cfg.hacontrol-20260101T000000000000Z.bak"}


def url_for(pattern, world):
    return reverse(pattern.name, kwargs={key: world[key] for key in pattern.pattern.converters})


def snapshot():
    return (Cluster.objects.count(), Member.objects.count(), Job.objects.count(), Credential.objects.count(),
            list(Member.objects.values_list("priority", "host_key")), Upgrade.objects.get().status)


ALL = sorted({p.name for p in patterns()})
MUTATING = sorted(set(ALL) - READ_ONLY - PUBLIC)


def test_every_pattern_is_classified():
    assert set(ALL) == READ_ONLY | PUBLIC | set(MUTATING)
    assert len(MUTATING) >= 14


@pytest.mark.parametrize("name", [n for n in ALL if n not in PUBLIC])
def test_anonymous_users_are_sent_to_sign_in(client, world, name):
    pattern = next(p for p in patterns() if p.name == name)
    for method in ("get", "post"):
        response = getattr(client, method)(url_for(pattern, world))
        assert response.status_code == 302 and response["Location"].startswith("/login/"), (name, method)


@pytest.mark.parametrize("name", MUTATING)
def test_a_viewer_is_refused_every_change(viewer_client, world, name):
    pattern = next(p for p in patterns() if p.name == name)
    before = snapshot()
    response = viewer_client.post(url_for(pattern, world), {"name": "x", "priority": 99, "reason": "r"})
    assert response.status_code in (403, 405), name
    assert viewer_client.get(url_for(pattern, world)).status_code in (403, 405), name
    assert snapshot() == before


@pytest.mark.parametrize("name", sorted(READ_ONLY - {"logout"}))
def test_a_viewer_may_read(viewer_client, world, name):
    pattern = next(p for p in patterns() if p.name == name)
    assert viewer_client.get(url_for(pattern, world)).status_code == 200


def test_a_post_without_a_csrf_token_is_refused(admin, world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(reverse("cluster-add"), {"name": "sneaky"})
    assert response.status_code == 403 and not Cluster.objects.filter(name="sneaky").exists()


def test_an_htmx_post_with_the_header_token_is_accepted(admin, world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    page = client.get(reverse("cluster-list")).content.decode()
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = client.post(reverse("cluster-add"), {"name": "fine"}, headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 200 and Cluster.objects.filter(name="fine").exists()


def test_sign_in_is_throttled_after_five_failures(client, admin):
    for _ in range(5):
        response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
        assert "Please enter a correct username and password" in response.content.decode()
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-pass-1"})
    assert "Too many failed sign-ins" in response.content.decode()
    assert AuditEvent.objects.get(action="sign-in").outcome == "refused"
