"""Credentials stay secret: encrypted at rest, never shown, never logged, rotatable."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from hacontrol.ha import actions
from hacontrol.ha.fields import fernet
from hacontrol.ha.jobs import run_here
from hacontrol.ha.models import AuditEvent, Job, Member
from tests.conftest import ROOT, add_linux_member

PASSWORD = "Winrm-Secret-4711"
PASSPHRASE = "Key-Passphrase-0815"


@pytest.fixture
def secret_member(cluster, ssh_hosts, client_key):
    member = add_linux_member(cluster, ssh_hosts[0], client_key, "central1", 10,
                              password=PASSWORD, key_passphrase=PASSPHRASE)
    return member


def key_body(member) -> str:
    return member.private_key.splitlines()[1]


def test_pages_and_forms_never_show_a_secret(admin_client, secret_member):
    cluster = secret_member.cluster
    pages = [cluster.get_absolute_url(), reverse("member-edit", args=[cluster.pk, secret_member.pk]), "/audit/"]
    for url in pages:
        content = admin_client.get(url).content.decode()
        for secret in (PASSWORD, PASSPHRASE, key_body(secret_member)):
            assert secret not in content, url


def test_job_output_audit_and_logs_never_show_a_secret(secret_member, caplog):
    Member.objects.filter(pk=secret_member.pk).update(
        commands={"restart": f"echo {PASSWORD} {PASSPHRASE}; systemctl restart mmcentral"})
    job = actions.tune("alice", secret_member.cluster, interval=6, max_downtime=24)
    lines = []
    with caplog.at_level("DEBUG"):
        run_here(job, echo=lines.append)
    job = Job.objects.get(pk=job.pk)
    texts = ["".join(s.output + s.error for s in job.steps.all()), job.error, "\n".join(lines), caplog.text,
             "".join(e.detail for e in AuditEvent.objects.all())]
    for text in texts:
        assert PASSWORD not in text and PASSPHRASE not in text
    assert "echo ******** ********; systemctl restart mmcentral" in texts[0]


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_secret_in_clear(ssh_hosts, client_key):
    from hacontrol.ha.models import Cluster

    member = add_linux_member(Cluster.objects.create(name="dump"), ssh_hosts[0], client_key, "central1", 10,
                              password=PASSWORD, key_passphrase=PASSPHRASE)
    db = connection.settings_dict
    from pgserver.postgres_server import POSTGRES_BIN_PATH

    dump = subprocess.run([str(POSTGRES_BIN_PATH / "pg_dump"), "-h", db["HOST"], "-U", db["USER"], db["NAME"]],
                          capture_output=True, text=True, check=True).stdout
    assert "dump" in dump and "fernet:" in dump
    for secret in (PASSWORD, PASSPHRASE, key_body(member)):
        assert secret not in dump
    print(f"\nscanned a {len(dump)} byte dump for 3 test secrets: none found")


def test_rotating_keys_re_encrypts_with_the_newest_and_old_keys_can_go(secret_member, settings):
    old_keys = settings.HACONTROL_SECRET_KEYS or [_derived()]
    new_key = Fernet.generate_key().decode()
    settings.HACONTROL_SECRET_KEYS = [new_key, *old_keys]
    fernet.cache_clear()
    try:
        call_command("ha", "rotate-keys")
        settings.HACONTROL_SECRET_KEYS = [new_key]
        fernet.cache_clear()
        assert Member.objects.get(pk=secret_member.pk).password == PASSWORD
    finally:
        fernet.cache_clear()


def test_rotating_keys_covers_the_snapshots_a_running_job_keeps(cluster, settings):
    from hacontrol.ha.models import JobKind

    old_keys = settings.HACONTROL_SECRET_KEYS or [_derived()]
    job = Job.objects.create(kind=JobKind.TUNE, cluster=cluster, started_by="alice", status="waiting",
                             vault='{"snapshots": {"1": {"preferences": "PERhdGFiYXNlUGFzc3dvcmQ+", "running": true}}}')
    new_key = Fernet.generate_key().decode()
    settings.HACONTROL_SECRET_KEYS = [new_key, *old_keys]
    fernet.cache_clear()
    try:
        call_command("ha", "rotate-keys", stdout=io.StringIO())
        settings.HACONTROL_SECRET_KEYS = [new_key]
        fernet.cache_clear()
        assert Job.objects.get(pk=job.pk).vault_data()["snapshots"]["1"]["running"] is True
    finally:
        fernet.cache_clear()


def test_a_console_moves_off_the_key_derived_from_secret_key_once(secret_member, settings):
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management.base import CommandError

    settings.HACONTROL_SECRET_KEYS = []
    fernet.cache_clear()
    try:
        with pytest.raises(CommandError, match="set HACONTROL_SECRET_KEY first"):
            call_command("ha", "rotate-keys")
        Member.objects.filter(pk=secret_member.pk).update(password=PASSWORD)  # encrypted with the derived key
        settings.HACONTROL_SECRET_KEYS = [Fernet.generate_key().decode()]
        fernet.cache_clear()
        with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
            Member.objects.get(pk=secret_member.pk)
        call_command("ha", "rotate-keys", "--from-secret-key", stdout=io.StringIO())
        assert Member.objects.get(pk=secret_member.pk).password == PASSWORD, "readable with the new key alone"
    finally:
        fernet.cache_clear()


def _derived() -> str:
    import base64
    import hashlib

    from django.conf import settings

    return base64.urlsafe_b64encode(hashlib.sha256(f"hacontrol:{settings.SECRET_KEY}".encode()).digest()).decode()


def production_env(tmp_path, **extra) -> dict:
    """What a production start has: DEBUG off, a secret key from a file, HTTPS hardening, a
    credential key of its own (unless ``extra`` says otherwise), and no database needed to check."""
    key = tmp_path / "key"
    key.write_text("x" * 20 + Fernet.generate_key().decode() + "y" * 20)
    # The browser tests' async escape hatch is no production setting; neither is a key of the tests.
    clean = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "HACONTROL_SECRET_KEY",
                                                                "HACONTROL_SECRET_KEY_FILE")}
    env = {**clean, "DEBUG": "0", "SECRET_KEY_FILE": str(key), "SECURE_HSTS_SECONDS": "31536000",
           "SECURE_SSL_REDIRECT": "1", "SECURE_HSTS_PRELOAD": "1", "ALLOWED_HOSTS": "hacontrol.example.com",
           "DATABASE_URL": "postgres://check@localhost/check", "HACONTROL_SECRET_KEY": Fernet.generate_key().decode(),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return {k: v for k, v in {**env, **extra}.items() if v is not None}


def check_deploy(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def derived_from(secret_key_file: str) -> str:
    import base64
    import hashlib

    secret = Path(secret_key_file).read_text().strip()
    return base64.urlsafe_b64encode(hashlib.sha256(f"hacontrol:{secret}".encode()).digest()).decode()


def test_check_deploy_refuses_a_credential_key_derived_from_secret_key(tmp_path):
    env = production_env(tmp_path, HACONTROL_SECRET_KEY=None)
    result = check_deploy(env)
    assert result.returncode != 0 and "hacontrol.E001" in result.stderr
    assert "HACONTROL_SECRET_KEY is not set" in result.stderr and "ha new-key" in result.stderr
    result = check_deploy({**env, "HACONTROL_SECRET_KEY": f"{Fernet.generate_key().decode()},"
                                                          f"{derived_from(env['SECRET_KEY_FILE'])}"})
    assert result.returncode != 0 and "(hacontrol.E002) HACONTROL_SECRET_KEY holds the key derived from SECRET_KEY" \
        in result.stderr
    result = check_deploy({**env, "HACONTROL_SECRET_KEY": "not-a-fernet-key"})
    assert result.returncode != 0 and "hacontrol.E003" in result.stderr


def test_the_container_starts_nothing_on_a_derived_credential_key(tmp_path):
    entrypoint = ROOT / "scripts" / "entrypoint"
    env = production_env(tmp_path, HACONTROL_SECRET_KEY=None)
    refused = subprocess.run([str(entrypoint), "echo", "gunicorn started"], cwd=ROOT, env=env, capture_output=True,
                             text=True)
    assert refused.returncode != 0 and "gunicorn started" not in refused.stdout
    assert "hacontrol.E001" in refused.stderr
    key_file = tmp_path / "credentials_key"
    key_file.write_text(subprocess.run([sys.executable, "manage.py", "ha", "new-key"], cwd=ROOT, env=env,
                                       capture_output=True, text=True, check=True).stdout)
    started = subprocess.run([str(entrypoint), "echo", "gunicorn started"], cwd=ROOT, capture_output=True, text=True,
                             env={**env, "HACONTROL_SECRET_KEY_FILE": str(key_file)})
    assert started.returncode == 0 and started.stdout.strip().endswith("gunicorn started"), started.stderr
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/app/scripts/entrypoint"]' in dockerfile
    assert "entrypoint" not in (ROOT / "docker-compose.yml").read_text(), "no service may start around the check"
    assert "HACONTROL_SECRET_KEY_FILE: /run/secrets/credentials_key" in (ROOT / "docker-compose.yml").read_text()


def test_a_bad_setting_stops_the_start_with_a_clear_message():
    env = {**os.environ, "DEBUG": "maybe"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "DEBUG='maybe' is not a boolean" in result.stderr
    env = {**os.environ, "DATABASE_URL": "mysql://x/y"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "DATABASE_URL scheme 'mysql' is not supported" in result.stderr
