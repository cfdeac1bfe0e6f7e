"""Fix DNS through the API against a real BIND 9: the cluster's update settings (the TSIG secret
goes in and never comes out), the plan read from the server, the job started with the plan's
digest, and the refusals when the plan changed, deletes records or has nothing to do."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from hacontrol.ha.jobs import run_here
from hacontrol.ha.models import AuditEvent, Cluster, Job, JobStatus, Member
from tests.api.conftest import token_client
from tests.conftest import loopback
from tests.hosts.bind_server import KEY_NAME

NAME = "central.example.com"


@pytest.fixture
def api(admin):
    return token_client(admin)


@pytest.fixture
def trio(api, cluster, bind) -> Cluster:
    """'prod' with three members (records only: Fix DNS never touches the hosts), allowed to update
    its name on the test BIND, set through the API."""
    # Form-encoded, the secret read from a file (its newline too), as README's curl sends them.
    values = {"dns_zone": "example.com", "dns_server": bind.server, "dns_key_name": KEY_NAME,
              "dns_key_secret": bind.secret + "\n", "dns_resolver": bind.server}
    response = api.patch(f"/api/clusters/{cluster.pk}/", urlencode(values),
                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content
    for number in (1, 2, 3):
        Member.objects.create(cluster=cluster, name=f"central{number}", priority=10 * number,
                              address=loopback(9 + number))
    return cluster


def test_the_update_settings_are_taken_and_the_secret_never_shown(api, trio, bind):
    shown = api.get(f"/api/clusters/{trio.pk}/").json()
    assert {"dns_zone": "example.com", "dns_server": bind.server, "dns_key_name": KEY_NAME,
            "dns_key_algorithm": "hmac-sha256", "dns_member_policy": "ask", "central_port": 1231,
            "dns_key_secret_set": True, "dns_updates_on": True}.items() <= shown.items()
    assert "dns_key_secret" not in shown and bind.secret not in str(shown) + str(api.get("/api/clusters/").json())
    kept = api.patch(f"/api/clusters/{trio.pk}/", {"dns_member_policy": "always", "dns_key_secret": ""}, format="json")
    assert kept.status_code == 200 and kept.json()["dns_member_policy"] == "always"
    assert Cluster.objects.get().dns_key_secret == bind.secret, "a blank secret keeps the stored one"
    half = api.post("/api/clusters/", {"name": "lab", "dns_name": NAME, "dns_server": bind.server}, format="json")
    assert half.status_code == 400 and half.json()["check"] == "invalid-dns-zone"
    assert "DNS updates need the zone, the TSIG key name, the TSIG secret too" in half.json()["detail"]
    off = api.patch(f"/api/clusters/{trio.pk}/", {"dns_zone": "", "dns_server": "", "dns_key_name": "",
                                                  "dns_member_policy": "ask"}, format="json")
    assert off.json()["dns_updates_on"] is False and off.json()["dns_key_secret_set"] is False


def test_the_plan_is_read_from_the_server_and_its_digest_starts_the_job(api, trio, bind,
                                                                         django_capture_on_commit_callbacks):
    plan = api.get(f"/api/clusters/{trio.pk}/dns/plan/")
    assert plan.status_code == 200, plan.content
    shown = plan.json()
    assert (shown["name"], shown["server"], shown["confirm_deletions"]) == (NAME, bind.server, False)
    assert [(c["action"], c["type"], c["address"]) for c in shown["changes"]] == [
        ("add", "A", loopback(n)) for n in (10, 11, 12)]
    assert shown["before"]["A"] == {"ttl": 0, "addresses": []}
    assert shown["after"]["A"]["addresses"] == [loopback(n) for n in (10, 11, 12)]
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(f"/api/clusters/{trio.pk}/dns/fix/", {"seen": shown["digest"], "reason": "step 11"},
                           format="json")
    assert started.status_code == 202, started.content
    assert started["Location"] == started.json()["url"] and started.json()["kind"] == "fix-dns"
    job = Job.objects.get(pk=started.json()["id"])
    assert run_here(job) == JobStatus.SUCCEEDED, Job.objects.get(pk=job.pk).error
    assert bind.addresses(NAME) == {loopback(10), loopback(11), loopback(12)}
    again = api.post(f"/api/clusters/{trio.pk}/dns/fix/", {}, format="json")
    assert again.status_code == 409 and again.json()["check"] == "dns-nothing-to-do"
    assert AuditEvent.objects.get(action="dns fix", outcome="ok").reason == "step 11"


def test_a_plan_gone_stale_is_refused_and_deletions_need_their_own_confirmation(api, trio, bind):
    seen = api.get(f"/api/clusters/{trio.pk}/dns/plan/").json()["digest"]
    bind.change(NAME, add={"A": ["203.0.113.5"]})  # another administrator, meanwhile
    stale = api.post(f"/api/clusters/{trio.pk}/dns/fix/", {"seen": seen, "confirm_deletions": True}, format="json")
    assert stale.status_code == 409 and stale.json()["check"] == "dns-changed"
    plan = api.get(f"/api/clusters/{trio.pk}/dns/plan/").json()
    assert plan["confirm_deletions"] is True
    assert ("delete", "203.0.113.5") in [(c["action"], c["address"]) for c in plan["changes"]]
    unconfirmed = api.post(f"/api/clusters/{trio.pk}/dns/fix/", {"seen": plan["digest"]}, format="json")
    assert unconfirmed.status_code == 400
    assert (unconfirmed.json()["check"], unconfirmed.json()["field"]) == ("confirm-deletions", "confirm_deletions")
    confirmed = api.post(f"/api/clusters/{trio.pk}/dns/fix/", f"seen={plan['digest']}&confirm_deletions=true",
                         content_type="application/x-www-form-urlencoded")  # as README's curl sends it
    assert confirmed.status_code == 202
    assert run_here(Job.objects.get(pk=confirmed.json()["id"])) == JobStatus.SUCCEEDED
    assert bind.addresses(NAME) == {loopback(10), loopback(11), loopback(12)}


def test_without_update_settings_or_a_server_to_read_there_is_no_plan(api, viewer_api, trio, bind):
    Cluster.objects.filter(pk=trio.pk).update(dns_server=f"{loopback(54)}:53")  # nothing listens there
    unreadable = viewer_api.get(f"/api/clusters/{trio.pk}/dns/plan/")
    assert unreadable.status_code == 502 and unreadable.json()["check"] == "dns-unreadable"
    Cluster.objects.filter(pk=trio.pk).update(dns_zone="", dns_server="", dns_key_name="", dns_key_secret="")
    off = api.get(f"/api/clusters/{trio.pk}/dns/plan/")
    assert off.status_code == 409 and off.json()["check"] == "dns-updates-off"
    assert not Job.objects.exists()
