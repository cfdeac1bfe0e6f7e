"""An error while a secret is being handled, with DEBUG=1 (what `make run` sets): Django's debug page
shows the request's POST, every frame's local variables and the headers; none may show a secret
(a private key, a password, a passphrase, a TSIG secret, an API token)."""

import base64
import secrets as random_secrets

import pytest
from django.contrib.auth.backends import ModelBackend
from django.urls import reverse
from rest_framework.test import APIClient

from hacontrol.ha.models import ApiToken, AuditEvent, Member

PASSWORD = "Debug-Page-Pass-3141"
PASSPHRASE = "Debug-Page-Phrase-2718"
TSIG = base64.b64encode(b"tsig secret for the debug page test").decode()
TOKEN = "hac_DebugPageToken-" + "x" * 24


@pytest.fixture
def debug(settings, client):
    """DEBUG on, and a failure answered by Django's debug page rather than raised in the test."""
    settings.DEBUG = True
    client.raise_request_exception = False
    return settings


def forced_failure(*args, **kwargs):
    raise RuntimeError("forced failure for the debug page test")


@pytest.fixture
def forced(monkeypatch):
    """Every audited change fails at its end, after the secret went through the action."""
    monkeypatch.setattr(AuditEvent, "record", forced_failure)


def api_with_token(admin, monkeypatch) -> APIClient:
    """An API client holding a token whose text is TOKEN, answered with the debug page on failure."""
    monkeypatch.setattr(random_secrets, "token_urlsafe", lambda size: TOKEN.removeprefix("hac_"))
    ApiToken.issue(admin, "tests")
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return api


def key_lines(client_key) -> list[str]:
    return [line for line in client_key.read_text().splitlines() if "PRIVATE KEY" not in line]


def assert_no_secret(response, *extra: str) -> str:
    page = response.content.decode()
    assert response.status_code == 500
    assert "forced failure for the debug page test" in page and "Traceback" in page, "not the debug page"
    for secret in (PASSWORD, PASSPHRASE, TSIG, TOKEN, *extra):
        assert secret not in page, f"{secret[:12]}… is on the debug page"
    return page


def test_adding_a_member_shows_no_key_password_or_passphrase(debug, forced, admin_client, cluster, client_key):
    response = admin_client.post(reverse("member-add", args=[cluster.pk]), {
        "name": "central1", "priority": 10, "address": "192.0.2.10", "platform": "linux", "username": "root",
        "private_key": client_key.read_text(), "password": PASSWORD, "key_passphrase": PASSPHRASE,
        "winrm_auth": "ntlm"})
    page = assert_no_secret(response, *key_lines(client_key))
    assert "private_key" in page and "Local vars" in page


def test_editing_a_member_shows_none_of_its_new_secrets(debug, forced, admin_client, cluster, client_key):
    member = Member.objects.create(cluster=cluster, name="central1", priority=10, address="192.0.2.10")
    response = admin_client.post(reverse("member-edit", args=[cluster.pk, member.pk]), {
        "priority": 10, "address": "192.0.2.10", "platform": "linux", "username": "root", "winrm_auth": "ntlm",
        "private_key": client_key.read_text(), "password": PASSWORD, "key_passphrase": PASSPHRASE})
    assert_no_secret(response, *key_lines(client_key))


@pytest.mark.parametrize("editing", [False, True])
def test_saving_a_credential_shows_none_of_its_secrets(debug, forced, admin_client, db, client_key, editing):
    from hacontrol.ha.models import Credential

    url = reverse("credential-add")
    if editing:
        url = reverse("credential-edit", args=[Credential.objects.create(name="hosts", kind="ssh-key",
                                                                        username="root").pk])
    response = admin_client.post(url, {"name": "hosts", "kind": "ssh-key", "username": "root",
                                       "private_key": client_key.read_text(), "key_passphrase": PASSPHRASE,
                                       "password": PASSWORD})
    assert_no_secret(response, *key_lines(client_key))


@pytest.mark.parametrize("editing", [False, True])
def test_a_cluster_s_tsig_secret_stays_hidden(debug, forced, admin_client, cluster, editing):
    url = reverse("cluster-edit", args=[cluster.pk]) if editing else reverse("cluster-add")
    response = admin_client.post(url, {"name": "prod" if editing else "lab", "dns_name": "central.example.com",
                                       "dns_zone": "example.com", "dns_server": "192.0.2.53",
                                       "dns_key_name": "hacontrol", "dns_key_algorithm": "hmac-sha256",
                                       "dns_key_secret": TSIG})
    assert_no_secret(response)


def test_signing_in_shows_no_password(debug, client, admin, monkeypatch):
    # Deep in Django's own backend, where the password is a plain local variable.
    monkeypatch.setattr(ModelBackend, "user_can_authenticate", forced_failure)
    admin.set_password(PASSWORD)
    admin.save()
    assert_no_secret(client.post(reverse("login"), {"username": "alice", "password": PASSWORD}))


def test_making_an_api_token_shows_no_token(debug, admin_client, monkeypatch):
    monkeypatch.setattr(random_secrets, "token_urlsafe", lambda size: TOKEN.removeprefix("hac_"))
    original = AuditEvent.record

    def fail(actor, action, **kwargs):
        if action == "token create":
            forced_failure()
        return original(actor, action, **kwargs)

    monkeypatch.setattr(AuditEvent, "record", fail)
    assert_no_secret(admin_client.post(reverse("token-list"), {"name": "ci", "lifetime": "7"}))


@pytest.mark.parametrize("form_encoded", [False, True])
def test_the_api_shows_no_secret_of_a_member_added_or_edited(debug, admin, cluster, client_key, monkeypatch,
                                                           form_encoded):
    api = api_with_token(admin, monkeypatch)
    monkeypatch.setattr(AuditEvent, "record", forced_failure)
    secrets = {"private_key": client_key.read_text(), "password": PASSWORD, "key_passphrase": PASSPHRASE}
    fmt = "multipart" if form_encoded else "json"
    added = api.post("/api/members/", {"cluster": cluster.pk, "name": "central1", "address": "192.0.2.10",
                                       "priority": 10, **secrets}, format=fmt)
    assert_no_secret(added, *key_lines(client_key))
    member = Member.objects.create(cluster=cluster, name="central2", priority=20, address="192.0.2.11")
    edited = api.patch(f"/api/members/{member.pk}/", secrets, format=fmt)
    assert_no_secret(edited, *key_lines(client_key))


@pytest.mark.parametrize("form_encoded", [False, True])
def test_the_api_shows_no_secret_of_a_credential_or_a_tsig_key_saved(debug, admin, cluster, client_key, monkeypatch,
                                                                  form_encoded):
    from hacontrol.ha.models import Credential

    api = api_with_token(admin, monkeypatch)
    monkeypatch.setattr(AuditEvent, "record", forced_failure)
    fmt = "multipart" if form_encoded else "json"
    login = {"kind": "ssh-key", "username": "root", "private_key": client_key.read_text(),
             "key_passphrase": PASSPHRASE, "password": PASSWORD}
    assert_no_secret(api.post("/api/credentials/", {"name": "hosts", **login}, format=fmt), *key_lines(client_key))
    saved = Credential.objects.create(name="saved", kind="ssh-key", username="root")
    assert_no_secret(api.patch(f"/api/credentials/{saved.pk}/", login, format=fmt), *key_lines(client_key))
    dns = {"dns_zone": "example.com", "dns_server": "192.0.2.53", "dns_key_name": "hacontrol",
           "dns_key_algorithm": "hmac-sha256", "dns_key_secret": TSIG}
    assert_no_secret(api.post("/api/clusters/", {"name": "lab", **dns}, format=fmt))
    assert_no_secret(api.patch(f"/api/clusters/{cluster.pk}/", dns, format=fmt))
