"""The API's resources: what they show (and never show), pages, filters, the 202 a job gets, the
JSON a refusal gets, and the few queries a list costs."""

from __future__ import annotations

import io
import tarfile

import pytest

from hacontrol.ha.models import AuditEvent, Cluster, Job, JobStep, Member, StateChange, Upgrade

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


@pytest.fixture
def prod(db):
    cluster = Cluster.objects.create(name="prod")
    primary = Member.objects.create(cluster=cluster, name="central1", priority=10, address="192.0.2.10",
                                    state="active", password="hunter2-hunter2", private_key="-----BEGIN KEY-----")
    return cluster, primary


def test_a_member_shows_its_state_and_never_its_credentials(admin_api, prod):
    _, primary = prod
    shown = admin_api.get(f"/api/members/{primary.pk}/").json()
    assert {"state": "active", "priority": 10, "registered": False, "clock_skew": None, "last_seen": None}.items() \
        <= shown.items()
    assert not {"password", "private_key", "key_passphrase"} & set(shown)
    assert "hunter2" not in str(shown)


def test_adding_a_member_answers_202_with_the_jobs_url_and_hands_it_to_a_worker(
        admin_api, prod, django_capture_on_commit_callbacks):
    cluster, _ = prod
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post("/api/members/", {"cluster": cluster.pk, "name": "central2", "address": "192.0.2.20",
                                                    "host_key": KEY, "private_key": "secret-key-text"}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    assert response["Location"] == response.json()["url"] == f"http://testserver/api/jobs/{job.pk}/"
    assert response.json()["status"] == "queued" and job.kind == "add" and job.member.priority == 20
    assert "enqueued" in job.params, "handed to a worker once the transaction committed"
    assert "secret-key-text" not in str(job.params)


def test_a_form_encoded_request_works_as_curl_sends_it(admin_api, prod):
    _, primary = prod
    Member.objects.filter(pk=primary.pk).update(use_sudo=True)
    response = admin_api.patch(f"/api/members/{primary.pk}/", "address=192.0.2.11&reason=renumbered",
                               content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content
    assert response.json()["address"] == "192.0.2.11"
    assert response.json()["use_sudo"] is True, "a flag left out of the form is not given, not 'no'"


def test_a_refusal_is_json_naming_the_check_and_is_audited(admin_api, prod):
    cluster, _ = prod
    response = admin_api.post("/api/members/", {"cluster": cluster.pk, "name": "central2", "address": "192.0.2.20",
                                                "priority": 10}, format="json")
    assert response.status_code == 400
    assert response.json() == {"check": "priority-taken", "field": "priority",
                               "detail": "priority 10 is already central1's; priorities are unique in a cluster"}
    assert AuditEvent.objects.get(action="member add").outcome == "refused"
    assert not Job.objects.exists()


def test_a_conflict_is_409_and_a_missing_object_404(admin_api, prod):
    cluster, _ = prod
    response = admin_api.delete(f"/api/clusters/{cluster.pk}/?reason=tidy")
    assert response.status_code == 409 and response.json()["check"] == "cluster-not-empty"
    missing = admin_api.get("/api/members/999999/")
    assert missing.status_code == 404 and missing.json()["check"] == "not-found"
    assert admin_api.post("/api/jobs/999999/confirm/").status_code == 404


def test_input_of_the_wrong_type_is_refused_naming_the_field(admin_api, prod):
    _, primary = prod
    response = admin_api.patch(f"/api/members/{primary.pk}/", {"priority": "high"}, format="json")
    assert response.status_code == 400
    assert response.json()["check"] == "invalid-priority" and response.json()["field"] == "priority"


def test_editing_a_member_saves_it_and_a_new_priority_is_a_job(admin_api, prod):
    _, primary = prod
    saved = admin_api.patch(f"/api/members/{primary.pk}/", {"address": "192.0.2.11", "reason": "renumbered"},
                            format="json")
    assert saved.status_code == 200 and saved.json()["address"] == "192.0.2.11"
    job = admin_api.patch(f"/api/members/{primary.pk}/", {"priority": 5}, format="json")
    assert job.status_code == 202 and job.json()["kind"] == "edit-priority"


def test_an_empty_cluster_is_deleted_with_its_reason_audited(admin_api, db):
    cluster = Cluster.objects.create(name="old")
    assert admin_api.delete(f"/api/clusters/{cluster.pk}/?reason=decommissioned").status_code == 204
    assert AuditEvent.objects.get(action="cluster delete").reason == "decommissioned"


def test_a_waiting_job_shows_what_to_do_in_micetro_and_is_confirmed(admin_api, prod,
                                                                      django_capture_on_commit_callbacks):
    cluster, primary = prod
    job = Job.objects.create(kind="add", cluster=cluster, member=primary, member_name="central1", status="waiting",
                             started_by="alice")
    instructions = {"action": "register", "name": "central1", "priority": 10, "text": "add central1 with priority 10",
                    "where": "Admin → Configuration → High Availability"}
    JobStep.objects.create(job=job, position=0, name="Set ClusterMemberName", status="succeeded", output="done\n")
    JobStep.objects.create(job=job, position=1, name="In Micetro: add central1", status="waiting",
                           instructions=instructions)
    shown = admin_api.get(f"/api/jobs/{job.pk}/").json()
    assert shown["waiting"] == {"step": "In Micetro: add central1", **instructions}
    assert [s["output"] for s in shown["steps"]] == ["done\n", ""] and shown["progress"] == 50
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = admin_api.post(f"/api/jobs/{job.pk}/confirm/")
    assert confirmed.status_code == 202 and confirmed["Location"].endswith(f"/api/jobs/{job.pk}/")
    job.refresh_from_db()
    assert job.status == "queued" and job.steps.get(position=1).status == "succeeded"
    assert admin_api.get(f"/api/jobs/{job.pk}/").json()["waiting"] is None


def test_cancelling_a_queued_job_before_it_started_answers_200(admin_api, prod):
    cluster, _ = prod
    job = Job.objects.create(kind="tune", cluster=cluster, status="queued", started_by="alice")
    response = admin_api.post(f"/api/jobs/{job.pk}/cancel/", {"reason": "wrong cluster"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_lists_are_paginated(viewer_api, db):
    AuditEvent.objects.all().delete()
    for number in range(60):
        AuditEvent.record("alice", "cluster edit", detail=str(number))
    first = viewer_api.get("/api/audit/").json()
    assert first["count"] == 60 and len(first["results"]) == 50 and first["next"].endswith("page=2")
    assert first["results"][0]["detail"] == "59", "newest first"
    assert len(viewer_api.get("/api/audit/?page=2").json()["results"]) == 10
    assert len(viewer_api.get("/api/audit/?page_size=5").json()["results"]) == 5


def test_every_list_filters_by_cluster(viewer_api, prod):
    cluster, primary = prod
    other = Cluster.objects.create(name="lab")
    stranger = Member.objects.create(cluster=other, name="lab1", priority=10, address="192.0.2.99")
    for member in (primary, stranger):
        Job.objects.create(kind="add", cluster=member.cluster, member=member, status="succeeded", started_by="a")
        StateChange.objects.create(member=member, from_state="unknown", to_state="active")
        AuditEvent.record("alice", "member add", cluster=member.cluster, member_name=member.name)
        Upgrade.objects.create(cluster=member.cluster, started_by="a", installer_name="i", target_version="1",
                               status="succeeded")
    for resource in ("members", "jobs", "state-changes", "audit", "upgrades"):
        results = viewer_api.get(f"/api/{resource}/?cluster={other.pk}").json()["results"]
        assert len(results) == 1 and results[0]["cluster"] == other.pk, resource
    assert viewer_api.get("/api/jobs/?status=failed").json()["count"] == 0


def test_lists_cost_a_fixed_number_of_queries(viewer_api, prod, django_assert_max_num_queries):
    cluster, _ = prod
    for number in range(2, 30):
        member = Member.objects.create(cluster=cluster, name=f"central{number}", priority=number * 10,
                                       address=f"192.0.2.{number + 10}")
        Job.objects.create(kind="add", cluster=cluster, member=member, status="succeeded", started_by="a")
        StateChange.objects.create(member=member, from_state="unknown", to_state="standby")
    for resource in ("clusters", "members", "jobs", "state-changes", "audit", "upgrades"):
        with django_assert_max_num_queries(6):
            assert viewer_api.get(f"/api/{resource}/").status_code == 200


def installer(version: str) -> io.BytesIO:
    """A file of the vendor's layout: micetro-central-VERSION.linux.x64/install."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        script = b"#!/bin/sh\necho installed\n"
        info = tarfile.TarInfo(f"micetro-central-{version}.linux.x64/install")
        info.size, info.mode = len(script), 0o755
        archive.addfile(info, io.BytesIO(script))
    buffer.seek(0)
    buffer.name = f"micetro-central-{version}.linux.x64.tgz"
    return buffer


def test_an_upgrade_starts_with_an_uploaded_installer(admin_api, prod, tmp_path, settings):
    cluster, _ = prod
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")
    response = admin_api.post("/api/upgrades/", {"cluster": cluster.pk, "installer": installer("11.1.0")},
                              format="multipart")
    assert response.status_code == 201, response.content
    shown = response.json()
    assert response["Location"] == shown["url"] and shown["target_version"] == "11.1.0"
    assert shown["status"] == "preparing" and len(shown["installer_sha256"]) == 64
    assert shown["stages"][0] == {"kind": "upgrade-preflight", "member": None}
    run = admin_api.post(f"/api/upgrades/{shown['id']}/run/")
    assert run.status_code == 202 and run.json()["kind"] == "upgrade-preflight"
