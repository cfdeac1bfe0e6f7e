"""A member's page through the API: what the last look found, its overrides, its masked
preferences against the Active member's, drift, backups, restoring one; then the same on a real
SSH host running the simulated Central, where a backup is read and restored by a job."""

from __future__ import annotations

import json

import pytest

from hacontrol.ha.jobs import run_here
from hacontrol.ha.models import AuditEvent, Cluster, Job, JobKind, JobStatus, Member
from hacontrol.ha.probe import probe_cluster, secret_digest
from tests.api.conftest import token_client
from tests.conftest import finish, linux_member_values
from tests.ha.test_member_hosts import SEEDED, no_secret_in
from tests.ha.test_member_views import BACKUP, DB_SECRET, seen_pair


@pytest.fixture
def prod(db) -> Cluster:
    return seen_pair()


def test_the_details_show_the_members_page_as_data_without_a_secret(viewer_api, prod):
    member = prod.members.get(name="central2")
    response = viewer_api.get(f"/api/members/{member.pk}/details/")
    assert response.status_code == 200, response.content
    details = response.json()
    assert {"name": "central2", "cluster": "prod", "state": "standby", "login": "credential hosts",
            "version": "11.0.3", "name_on_host": "central2", "format": "tags", "reference": "central1"}.items() \
        <= details.items()
    assert details["database"] == {"type": "postgresql", "server": "db.example.com@mmsuite", "username": "mmsuite",
                                   "password": "set (not shown); different from central1's"}
    assert details["overrides"] == [{"name": "status", "command": "systemctl is-active mmcentral.service",
                                     "default": "systemctl is-active mmcentral"}]
    assert {"kind": "+", "text": '<LogLevel value="debug"/>'} in details["diff"]
    assert any(line["kind"] == "~" and "DatabasePassword" in line["text"] for line in details["diff"])
    assert not any("ClusterMemberName" in line["text"] for line in details["diff"]), "the name line is set aside"
    assert [b["name"] for b in details["backups"]] == [BACKUP]
    assert [(d["setting"], d["secret"]) for d in details["drift"]] == [("DatabasePassword", True)]
    assert details["timeline"][-1]["state"] == "standby"
    text = json.dumps(details)
    for secret in (DB_SECRET, "Other-Secret-8", secret_digest(DB_SECRET), "seCRETkeyLINE"):
        assert secret not in text


def test_a_clusters_drift_is_on_its_own_page_too(viewer_api, prod):
    drift = viewer_api.get(f"/api/clusters/{prod.pk}/").json()["drift"]
    assert drift == [{"setting": "DatabasePassword", "database": False, "secret": True,
                      "groups": [{"members": ["central1"], "set": True}, {"members": ["central2"], "set": True}]}]


def test_restoring_takes_only_a_backup_the_last_look_found_and_starts_a_job(admin_api, viewer_api, prod):
    member = prod.members.get(name="central2")
    url = f"/api/members/{member.pk}/restore/"
    assert viewer_api.post(url, {"backup": BACKUP}, format="json").status_code == 403
    foreign = admin_api.post(url, {"backup": "../../etc/shadow"}, format="json")
    assert foreign.status_code == 400 and (foreign.json()["check"], foreign.json()["field"]) == ("backup-name", "backup")
    unknown = admin_api.post(url, {"backup": "preferences.cfg.hacontrol-20200101T000000000000Z.bak"}, format="json")
    assert unknown.status_code == 409 and unknown.json()["check"] == "backup-unknown"
    assert not Job.objects.exists()
    started = admin_api.post(url, {"backup": BACKUP, "reason": "undo a hand edit"}, format="json")
    assert started.status_code == 202 and started["Location"] == started.json()["url"]
    job = Job.objects.get()
    assert (job.kind, job.params["backup"], job.member_id) == (JobKind.RESTORE, BACKUP, member.pk)
    assert AuditEvent.objects.get(action="member restore", outcome="ok").reason == "undo a hand edit"


def test_a_backup_that_cannot_be_read_is_502_naming_why(viewer_api, prod, settings):
    settings.HACONTROL_CONNECT_TIMEOUT = 1
    member = prod.members.get(name="central2")
    Member.objects.filter(pk=member.pk).update(address="127.0.0.1", port=1)
    response = viewer_api.get(f"/api/members/{member.pk}/backups/{BACKUP}/")
    assert response.status_code == 502 and response.json()["check"] == "host-error"
    assert viewer_api.get(f"/api/members/{member.pk}/backups/shadow/").json()["check"] == "backup-name"


def test_a_members_page_backup_and_restore_through_the_api_on_a_real_host(cluster, ssh_hosts, client_key, micetro,
                                                                           admin):
    api = token_client(admin)
    host = ssh_hosts[0]
    host.reset(SEEDED)
    saved = api.post("/api/credentials/", {"name": "hosts", "private_key": client_key.read_text()}, format="json")
    assert saved.status_code == 201, saved.content
    values = {k: v for k, v in linux_member_values(host, client_key).items() if k not in ("username", "private_key")}
    added = api.post("/api/members/", {"cluster": cluster.pk, "name": "central1", "credential": saved.json()["id"],
                                       **values}, format="json")
    assert added.status_code == 202, added.content
    assert finish(Job.objects.get(pk=added.json()["id"]), micetro).status == JobStatus.SUCCEEDED
    member = cluster.members.get()
    host.preferences.write_text(host.preferences.read_text() + '<LogLevel value="debug"/>\n')  # a hand edit
    probe_cluster(cluster)
    details = api.get(f"/api/members/{member.pk}/details/").json()
    backup = details["backups"][0]["name"]
    assert details["state"] == "active" and '<LogLevel value="debug"/>' in details["preferences"]
    read = api.get(f"/api/members/{member.pk}/backups/{backup}/")
    assert read.status_code == 200 and '<LicenseKey value="********"/>' in read.json()["text"]
    started = api.post(f"/api/members/{member.pk}/restore/", {"backup": backup, "reason": "undo a hand edit"},
                       format="json")
    assert started.status_code == 202, started.content
    assert run_here(Job.objects.get(pk=started.json()["id"])) == JobStatus.SUCCEEDED
    assert "LogLevel" not in host.preferences.read_text() and "central1" in host.preferences.read_text()
    after = api.get(f"/api/members/{member.pk}/details/").json()
    assert after["state"] == "active" and [j["title"] for j in after["jobs"]][0].startswith("Restore")
    for response in (details, read.json(), after, api.get(f"/api/credentials/{saved.json()['id']}/").json()):
        no_secret_in(json.dumps(response))
