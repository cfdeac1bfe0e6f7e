"""API tokens: stored only as a hash, shown once, expiring, revocable, never written to a log or the
audit; the same roles as the console; the browser session works too, with CSRF."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from hacontrol.ha.models import ApiToken, AuditEvent, Cluster


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_the_database_keeps_only_the_sha256_of_a_token(transactional_db, admin):
    from pgserver.postgres_server import POSTGRES_BIN_PATH

    row, token = ApiToken.issue(admin, "ci")
    assert token.startswith("hac_") and len(token) > 40
    assert row.digest == hashlib.sha256(token.encode()).hexdigest() and row.hint == token[:10]
    assert bearer(token).get("/api/clusters/").status_code == 200
    db = connection.settings_dict
    dump = subprocess.run([str(POSTGRES_BIN_PATH / "pg_dump"), "-h", db["HOST"], "-U", db["USER"], db["NAME"]],
                          capture_output=True, text=True, check=True).stdout
    assert row.digest in dump
    assert token not in dump and token[10:30] not in dump


def test_a_token_works_until_it_expires(admin):
    row, token = ApiToken.issue(admin, "short", expires=timezone.now() + timedelta(minutes=5))
    assert bearer(token).get("/api/clusters/").status_code == 200
    ApiToken.objects.filter(pk=row.pk).update(expires=timezone.now() - timedelta(seconds=1))
    response = bearer(token).get("/api/clusters/")
    assert response.status_code == 401
    assert response.json()["check"] == "authentication-failed" and "expired" in response.json()["detail"]


def test_a_revoked_token_opens_nothing(admin):
    row, token = ApiToken.issue(admin, "gone")
    row.revoke(admin)
    response = bearer(token).get("/api/clusters/")
    assert response.status_code == 401 and response.json()["detail"] == "unknown or revoked token"
    assert AuditEvent.objects.filter(action="token revoke", actor="alice").exists()


def test_a_made_up_token_or_a_disabled_user_gets_401(admin):
    assert bearer("hac_" + "x" * 43).get("/api/clusters/").status_code == 401
    token = ApiToken.issue(admin, "x")[1]
    admin.is_active = False
    admin.save()
    assert bearer(token).get("/api/clusters/").json()["detail"] == "this token's user is disabled"


def test_the_last_use_is_kept_at_most_once_a_minute(admin):
    row, token = ApiToken.issue(admin, "scraper")
    assert row.last_used is None
    bearer(token).get("/api/clusters/")
    row.refresh_from_db()
    first = row.last_used
    assert first is not None
    bearer(token).get("/api/clusters/")
    row.refresh_from_db()
    assert row.last_used == first


def test_a_viewers_token_reads_and_is_refused_changes(viewer):
    token = ApiToken.issue(viewer, "dashboard")[1]
    assert bearer(token).get("/api/clusters/").status_code == 200
    response = bearer(token).post("/api/clusters/", {"name": "sneaky"}, format="json")
    assert response.status_code == 403 and not Cluster.objects.filter(name="sneaky").exists()


def test_tokens_never_reach_the_logs_or_the_audit(admin, caplog):
    caplog.set_level(logging.DEBUG)
    row, token = ApiToken.issue(admin, "quiet")
    client = bearer(token)
    client.get("/api/clusters/")
    client.post("/api/clusters/", {"name": "bad name!"}, format="json")
    bearer(token + "x").get("/api/clusters/")
    client.get("/api/nothing-here/")
    assert caplog.records, "the requests above were logged"
    assert token not in caplog.text
    assert not AuditEvent.objects.filter(detail__contains=token[10:]).exists()
    assert AuditEvent.objects.filter(action="token create", detail__contains="quiet (hac_").exists()


def test_the_browser_session_works_with_a_csrf_token(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.get("/api/clusters/").status_code == 200
    refused = client.post("/api/clusters/", {"name": "no-csrf"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    page = client.get("/").content.decode()
    csrf = page.split('"X-CSRFToken": "')[1].split('"')[0]
    accepted = client.post("/api/clusters/", {"name": "with-csrf"}, content_type="application/json",
                           headers={"X-CSRFToken": csrf})
    assert accepted.status_code == 201 and accepted["Location"].endswith(f"/api/clusters/{accepted.json()['id']}/")


# The page --------------------------------------------------------------------------------------------


def test_the_tokens_page_shows_a_new_token_once_and_stores_its_hash(viewer_client, viewer):
    response = viewer_client.post("/tokens/", {"name": "grafana", "lifetime": "30"})
    page = response.content.decode()
    token = page.split('id="new-token">')[1].split("<")[0]
    row = ApiToken.objects.get(user=viewer)
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert timedelta(days=29) < row.expires - timezone.now() <= timedelta(days=30)
    assert response["Cache-Control"] == "no-store"
    again = viewer_client.get("/tokens/").content.decode()
    assert token not in again and "grafana" in again and row.hint in again
    assert bearer(token).get("/api/clusters/").status_code == 200


def test_a_token_made_to_never_expire_has_no_expiry(admin_client, admin):
    admin_client.post("/tokens/", {"name": "forever", "lifetime": ""})
    assert ApiToken.objects.get(user=admin).expires is None


def test_a_user_revokes_their_own_token_and_no_one_elses(admin_client, admin, viewer):
    mine = ApiToken.issue(admin, "mine")[0]
    theirs = ApiToken.issue(viewer, "theirs")[0]
    assert admin_client.post(f"/tokens/{theirs.pk}/revoke/").status_code == 404
    response = admin_client.post(f"/tokens/{mine.pk}/revoke/", follow=True)
    assert "revoked" in response.content.decode()
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["theirs"]


def test_the_page_is_linked_from_the_header_and_asks_for_sign_in(viewer_client):
    assert 'href="/tokens/"' in viewer_client.get("/").content.decode()
    assert Client().get("/tokens/")["Location"].startswith("/login/")


# The CLI ---------------------------------------------------------------------------------------------


def test_the_cli_makes_lists_and_revokes_tokens(admin, capsys):
    call_command("ha", "token", "create", "alice", "ansible", "--days", "7")
    out, err = capsys.readouterr()
    token = out.strip()
    assert "shown once" in err and bearer(token).get("/api/clusters/").status_code == 200
    call_command("ha", "token", "list", "--json")
    listed = capsys.readouterr().out
    assert '"name": "ansible"' in listed and token not in listed
    row = ApiToken.objects.get()
    call_command("ha", "token", "revoke", str(row.pk))
    assert not ApiToken.objects.exists()
    assert AuditEvent.objects.filter(action="token revoke", actor__startswith="cli:").exists()


@pytest.mark.parametrize("days", ["0", "-3"])
def test_the_cli_refuses_a_token_that_would_be_born_expired(admin, days):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="at least 1"):
        call_command("ha", "token", "create", "alice", "x", "--days", days)
