"""Saved credentials: one login for many members, edited once, never deleted from under a member."""

import io
import subprocess

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from hacontrol.ha import actions
from hacontrol.ha.errors import Refused
from hacontrol.ha.fields import fernet
from hacontrol.ha.forms import MemberForm
from hacontrol.ha.models import AuditEvent, Cluster, Credential, Member

PASSWORD = "Winrm-Pass-31"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two real ed25519 private keys (the credential's, and the one it is rotated to)."""
    folder = tmp_path_factory.mktemp("keys")
    texts = []
    for name in ("first", "second"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
        texts.append((folder / name).read_text())
    return texts


@pytest.fixture
def prod(db):
    return Cluster.objects.create(name="prod")


def member(cluster, name, priority, **values):
    return Member.objects.create(cluster=cluster, name=name, priority=priority, address=f"{name}.example.com",
                                 registered=True, **values)


def raw(table: str, pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_a_credential_is_stored_encrypted_with_only_the_secrets_its_kind_uses(db, keys):
    saved = actions.create_credential("alice", name="hosts root", kind="ssh-key", username="root",
                                      private_key=keys[0], password="not-used-by-a-key")
    saved.refresh_from_db()
    assert saved.private_key == keys[0] and saved.password == ""
    assert raw("ha_credential", saved.pk, "private_key").startswith("fernet:")
    event = AuditEvent.objects.get(action="credential create")
    assert event.detail == "hosts root: SSH key, user root" and keys[0].splitlines()[1] not in event.detail


def test_an_unreadable_key_and_a_missing_password_are_refused_on_their_fields(db):
    with pytest.raises(Refused) as refused:
        actions.create_credential("alice", name="bad", kind="ssh-key", private_key="-----BEGIN nonsense")
    assert refused.value.field == "private_key" and "cannot be read" in refused.value.message
    with pytest.raises(Refused) as refused:
        actions.create_credential("alice", name="win", kind="winrm-ntlm", username="Administrator")
    assert refused.value.field == "password"
    assert not Credential.objects.exists()


def test_a_member_with_a_credential_connects_with_its_login_and_keeps_no_secret_of_its_own(prod, keys):
    credential = actions.create_credential("alice", name="hosts", kind="ssh-key", username="hacontrol",
                                           private_key=keys[0], use_sudo=True)
    actions.add_member("alice", prod, name="central1", address="central1.example.com", credential=credential,
                       private_key=keys[1], password="typed-anyway", username="root")
    added = prod.members.get(name="central1")
    assert added.private_key == added.password == ""
    host = added.connection_settings()
    assert (host.username, host.private_key, host.use_sudo) == ("hacontrol", keys[0], True)
    assert AuditEvent.objects.get(action="member add").detail.startswith("central1.example.com priority 10, "
                                                                          "credential hosts, job #")


def test_editing_a_credential_applies_to_every_member_that_uses_it_and_the_audit_names_them(prod, keys):
    credential = actions.create_credential("alice", name="hosts", kind="ssh-key", private_key=keys[0])
    for name, priority in (("central1", 10), ("central2", 20)):
        member(prod, name, priority, credential=credential)
    actions.edit_credential("alice", credential, private_key=keys[1], password="", reason="yearly rotation")
    assert {m.connection_settings().private_key for m in prod.members.all()} == {keys[1]}
    event = AuditEvent.objects.get(action="credential edit")
    assert event.detail == "hosts: changed private_key; used by prod/central1, prod/central2"
    assert event.reason == "yearly rotation"
    actions.edit_credential("alice", credential, private_key="", description="root on every host")
    assert Credential.objects.get().private_key == keys[1], "a blank secret keeps the stored one"


def test_deleting_a_used_credential_is_refused_naming_the_members(prod, keys):
    credential = actions.create_credential("alice", name="hosts", kind="ssh-key", private_key=keys[0])
    member(prod, "central1", 10, credential=credential)
    member(Cluster.objects.create(name="lab"), "lab1", 10, credential=credential)
    with pytest.raises(Refused) as refused:
        actions.delete_credential("alice", credential)
    assert refused.value.check == "credential-in-use"
    assert "lab/lab1, prod/central1" in refused.value.message
    assert AuditEvent.objects.filter(action="credential delete", outcome="refused").exists()
    Member.objects.all().delete()
    actions.delete_credential("alice", credential)
    assert not Credential.objects.exists()


def test_a_credential_is_refused_for_a_member_of_the_other_platform_and_cannot_change_platform_in_use(prod, keys):
    windows = actions.create_credential("alice", name="win", kind="winrm-ntlm", username="Administrator",
                                        password=PASSWORD)
    with pytest.raises(Refused) as refused:
        actions.add_member("alice", prod, name="central1", address="central1.example.com", credential=windows)
    assert refused.value.field == "credential" and "a Linux member cannot use it" in refused.value.message
    linux = actions.create_credential("alice", name="hosts", kind="ssh-key", private_key=keys[0])
    member(prod, "central1", 10, credential=linux)
    with pytest.raises(Refused, match="cannot change platform"):
        actions.edit_credential("alice", linux, kind="winrm-ntlm", password=PASSWORD)


def test_basic_authentication_over_http_is_refused_for_a_saved_credential_too(prod):
    basic = actions.create_credential("alice", name="basic", kind="winrm-basic", username="Administrator",
                                      password=PASSWORD)
    with pytest.raises(Refused, match="sends the password in clear"):
        actions.add_member("alice", prod, name="win1", address="win1.example.com", platform="windows",
                           credential=basic)


def test_the_add_form_offers_the_credential_the_clusters_members_use(prod, keys):
    used = actions.create_credential("alice", name="hosts", kind="ssh-key", private_key=keys[0])
    actions.create_credential("alice", name="another", kind="ssh-key", private_key=keys[1])
    assert MemberForm(cluster=prod).fields["credential"].initial is None
    member(prod, "central1", 10, credential=used)
    assert MemberForm(cluster=prod).fields["credential"].initial == used
    assert MemberForm(instance=prod.members.get(), cluster=prod)["credential"].value() == used.pk


def test_redaction_covers_saved_credentials(prod, keys):
    credential = actions.create_credential("alice", name="hosts", kind="ssh-password", password="Ssh-Pass-4242")
    member(prod, "central1", 10, credential=credential)
    member(prod, "central2", 20, private_key=keys[1])
    secrets = prod.secrets()
    assert "Ssh-Pass-4242" in secrets
    assert keys[1].splitlines()[1] in secrets


def test_rotate_keys_re_encrypts_saved_credentials_with_the_newest_key(prod, keys, settings):
    credential = actions.create_credential("alice", name="hosts", kind="ssh-key", private_key=keys[0])
    member(prod, "central1", 10, password="Own-Pass-777")
    old = Fernet.generate_key().decode()
    new = Fernet.generate_key().decode()
    fernet.cache_clear()
    try:
        settings.HACONTROL_SECRET_KEYS = [old]
        fernet.cache_clear()
        Credential.objects.filter(pk=credential.pk).update(private_key=keys[0])
        Member.objects.update(password="Own-Pass-777")
        settings.HACONTROL_SECRET_KEYS = [new, old]
        fernet.cache_clear()
        out = io.StringIO()
        call_command("ha", "rotate-keys", stdout=out)
        assert "1 member(s), 1 saved credential(s), 0 cluster TSIG key(s) and the snapshots of 0 running job(s)" \
            in out.getvalue()
        only_new = Fernet(new.encode())
        assert only_new.decrypt(raw("ha_credential", credential.pk, "private_key")[7:].encode()).decode() == keys[0]
        assert only_new.decrypt(raw("ha_member", prod.members.get().pk, "password")[7:].encode()) == b"Own-Pass-777"
    finally:
        fernet.cache_clear()


def test_the_cli_adds_lists_and_removes_credentials(prod, keys, tmp_path, monkeypatch):
    key_file = tmp_path / "id"
    key_file.write_text(keys[0])
    out = io.StringIO()
    call_command("ha", "credential", "add", "hosts", "--key-file", str(key_file), "--sudo", "--user", "mm", stdout=out)
    monkeypatch.setenv("WIN_PASS", PASSWORD)
    call_command("ha", "credential", "add", "win", "--kind", "winrm-kerberos", "--user", "MM\\svc",
                 "--password-env", "WIN_PASS", stdout=out)
    member(prod, "central1", 10, credential=Credential.objects.get(name="hosts"))
    call_command("ha", "credential", "list", stdout=out)
    listing = out.getvalue()
    assert "hosts\tssh-key\tmm (sudo)\tused by prod/central1" in listing and "win\twinrm-kerberos\tMM\\svc\tused by no member" in listing
    assert PASSWORD not in listing and keys[0].splitlines()[1] not in listing
    call_command("ha", "credential", "remove", "win", stdout=out)
    with pytest.raises(Exception, match="used by prod/central1"):
        call_command("ha", "credential", "remove", "hosts", stdout=out)
    assert list(Credential.objects.values_list("name", flat=True)) == ["hosts"]


# The data migration ---------------------------------------------------------------------------

def test_the_migration_turns_members_own_logins_into_shared_credentials_and_back(transactional_db, keys):
    executor = MigrationExecutor(connection)
    before, after = [("ha", "0005_central_rules")], [("ha", "0006_credentials")]
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        OldCluster, OldMember = old.get_model("ha", "Cluster"), old.get_model("ha", "Member")
        prod, lab = OldCluster.objects.create(name="prod"), OldCluster.objects.create(name="lab")
        login = {"username": "root", "private_key": keys[0]}
        rows = [(prod, "central1", login), (prod, "central2", login), (lab, "lab1", login),
                (lab, "lab2", {"username": "root", "private_key": keys[0], "use_sudo": True}),
                (lab, "win1", {"platform": "windows", "username": "Administrator", "password": PASSWORD,
                               "winrm_auth": "kerberos"}),
                (lab, "both", {"username": "root", "private_key": keys[1], "password": "and-a-password"})]
        for index, (cluster, name, values) in enumerate(rows):
            OldMember.objects.create(cluster=cluster, name=name, priority=10 * (index + 1), address=f"{name}.example.com",
                                     **values)
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        NewMember, NewCredential = new.get_model("ha", "Member"), new.get_model("ha", "Credential")
        made = {c.name: (c.kind, c.username, c.use_sudo) for c in NewCredential.objects.all()}
        assert made == {"root@lab": ("ssh-key", "root", False), "root@lab 2": ("ssh-key", "root", True),
                        "Administrator@lab": ("winrm-kerberos", "Administrator", False)}
        by_name = {m.name: m for m in NewMember.objects.select_related("credential")}
        assert {n for n, m in by_name.items() if m.credential and m.credential.name == "root@lab"} == \
            {"central1", "central2", "lab1"}
        assert by_name["central1"].private_key == "" and by_name["central1"].credential.private_key == keys[0]
        assert by_name["win1"].credential.password == PASSWORD
        assert by_name["both"].credential is None and by_name["both"].password == "and-a-password", "kept as it was"
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        back = {m.name: m for m in executor.loader.project_state(before).apps.get_model("ha", "Member").objects.all()}
        assert back["central1"].private_key == keys[0] and back["lab2"].use_sudo
        assert back["win1"].password == PASSWORD and back["win1"].winrm_auth == "kerberos"
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
        # With today's models each member reaches its host with the same login as before.
        reached = {m.name: m.connection_settings() for m in Member.objects.all()}
        assert reached["lab2"].private_key == keys[0] and reached["lab2"].use_sudo
        assert (reached["win1"].password, reached["win1"].winrm_auth) == (PASSWORD, "kerberos")
        assert reached["both"].private_key == keys[1] and reached["both"].password == "and-a-password"
    finally:
        MigrationExecutor(connection).migrate(latest)
