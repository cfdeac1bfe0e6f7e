"""Saved credentials through the API: secrets go in and never come out, a credential shows the
members using it, and members pick one (or their own login again)."""

from __future__ import annotations

import subprocess
from urllib.parse import urlencode

import pytest

from hacontrol.ha.models import AuditEvent, Cluster, Credential, Job, Member

PASSWORD = "Ssh-Pass-4711"


@pytest.fixture(scope="module")
def private_key(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("keys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "key")], check=True)
    return (folder / "key").read_text()


@pytest.fixture
def prod(db) -> Cluster:
    return Cluster.objects.create(name="prod")


def secret_lines(key: str) -> list[str]:
    return [line for line in key.splitlines() if "PRIVATE KEY" not in line]


def test_a_credential_is_saved_and_shown_without_its_secrets(admin_api, private_key):
    response = admin_api.post("/api/credentials/", urlencode({"name": "hosts", "kind": "ssh-key", "username": "root",
                                                              "private_key": private_key, "use_sudo": "true"}),
                              content_type="application/x-www-form-urlencoded")  # as README's curl sends it
    assert response.status_code == 201, response.content
    shown = response.json()
    assert response["Location"] == shown["url"]
    assert {"name": "hosts", "kind": "ssh-key", "username": "root", "use_sudo": True, "has_private_key": True,
            "has_password": False, "has_key_passphrase": False, "uses": 0, "used_by": []}.items() <= shown.items()
    assert not {"password", "private_key", "key_passphrase"} & set(shown)
    assert Credential.objects.get().private_key == private_key
    listed = admin_api.get("/api/credentials/").json()["results"]
    for line in secret_lines(private_key):
        assert line not in str(shown) + str(listed)
    assert AuditEvent.objects.get(action="credential create").detail == "hosts: SSH key, user root"


def test_a_credential_shows_the_members_using_it_and_members_pick_one(admin_api, prod, private_key,
                                                                         django_capture_on_commit_callbacks):
    hosts = Credential.objects.create(name="hosts", kind="ssh-key", private_key=private_key)
    with django_capture_on_commit_callbacks(execute=True):
        added = admin_api.post("/api/members/", {"cluster": prod.pk, "name": "central1", "address": "192.0.2.10",
                                                 "credential": hosts.pk, "password": PASSWORD}, format="json")
    assert added.status_code == 202, added.content
    member = Member.objects.get()
    assert member.credential == hosts and member.password == "", "the credential's login is used, not its own"
    assert Job.objects.get().params["form"]["credential"] == hosts.pk, "kept for a retry, as an id"
    shown = admin_api.get(f"/api/credentials/{hosts.pk}/").json()
    assert shown["uses"] == 1 and shown["used_by"] == [{"id": member.pk, "cluster": "prod", "name": "central1"}]
    assert admin_api.get(f"/api/members/{member.pk}/").json()["credential"] == hosts.pk
    assert admin_api.get(f"/api/members/?credential={hosts.pk}").json()["count"] == 1
    own = admin_api.patch(f"/api/members/{member.pk}/", {"credential": None, "username": "hacontrol",
                                                          "password": PASSWORD}, format="json")
    assert own.status_code == 200 and own.json()["credential"] is None
    member.refresh_from_db()
    assert (member.credential, member.username, member.password) == (None, "hacontrol", PASSWORD)
    assert "login was credential hosts, now its own login" in AuditEvent.objects.filter(action="member edit").get().detail


def test_editing_keeps_the_secrets_left_out_and_names_the_members_it_applies_to(admin_api, prod, private_key):
    hosts = Credential.objects.create(name="hosts", kind="ssh-password", password=PASSWORD)
    Member.objects.create(cluster=prod, name="central1", priority=10, address="192.0.2.10", credential=hosts)
    response = admin_api.patch(f"/api/credentials/{hosts.pk}/", {"username": "hacontrol", "password": "",
                                                                 "reason": "a user of its own"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "hacontrol" and response.json()["has_password"] is True
    hosts.refresh_from_db()
    assert hosts.password == PASSWORD
    event = AuditEvent.objects.get(action="credential edit")
    assert (event.detail, event.reason) == ("hosts: changed username; used by prod/central1", "a user of its own")


def test_a_used_credential_is_not_deleted_and_the_refusal_names_its_members(admin_api, prod):
    hosts = Credential.objects.create(name="hosts", kind="ssh-password", password=PASSWORD)
    Member.objects.create(cluster=prod, name="central1", priority=10, address="192.0.2.10", credential=hosts)
    refused = admin_api.delete(f"/api/credentials/{hosts.pk}/")
    assert refused.status_code == 409
    assert refused.json() == {"check": "credential-in-use", "field": None, "detail": "hosts is used by prod/central1: "
                              "give them another credential (or their own login) first"}
    spare = Credential.objects.create(name="spare", kind="ssh-password", password=PASSWORD)
    assert admin_api.delete(f"/api/credentials/{spare.pk}/?reason=unused").status_code == 204
    assert list(Credential.objects.values_list("name", flat=True)) == ["hosts"]
    assert AuditEvent.objects.get(action="credential delete", outcome="ok").reason == "unused"


def test_the_credential_list_costs_a_fixed_number_of_queries(viewer_api, prod, django_assert_max_num_queries):
    for number in range(10):
        credential = Credential.objects.create(name=f"login{number}", kind="ssh-password", password=PASSWORD)
        Member.objects.create(cluster=prod, name=f"central{number}", priority=10 * (number + 1),
                              address=f"192.0.2.{number + 10}", credential=credential)
    with django_assert_max_num_queries(5):
        listed = viewer_api.get("/api/credentials/").json()
    assert listed["count"] == 10 and all(len(c["used_by"]) == 1 for c in listed["results"])
