"""Saved credentials, backups restored by a job, and drift, on real SSH hosts running the simulated Central."""

import io
import json
import subprocess

import pytest
from django.core.management import CommandError, call_command

from hacontrol.ha import actions
from hacontrol.ha.models import AuditEvent, Credential, JobStatus, State
from hacontrol.ha.probe import probe_cluster
from hacontrol.lib.prefs import Preferences
from tests.conftest import finish
from tests.hosts.ssh_hosts import INITIAL_PREFERENCES

# Real-looking secrets in the hosts' preferences: none may show up in a page or the CLI's output.
SEEDED = INITIAL_PREFERENCES + '<DatabasePassword value="plaintext:Db-Secret-4711"/>\n<LicenseKey value="Lic-Secret-0815"/>\n'
SECRET_MARKS = ["Db-Secret-4711", "Lic-Secret-0815", "$mmsim$"]  # the last: the password as Central hashed it


@pytest.fixture
def credential(db, client_key) -> Credential:
    return actions.create_credential("alice", name="hosts", kind="ssh-key", username="root",
                                     private_key=client_key.read_text())


def add(cluster, host, name, credential, micetro):
    job = actions.add_member("alice", cluster, name=name, address=host.address, port=host.port,
                             host_key=host.host_key_line, credential=credential)
    job = finish(job, micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    return cluster.members.get(name=name)


def no_secret_in(text: str) -> None:
    for mark in SECRET_MARKS:
        assert mark not in text, f"{mark} leaked"


def test_a_backup_is_restored_by_a_job_as_the_member_with_the_current_file_kept(cluster, ssh_hosts, credential,
                                                                                micetro):
    host = ssh_hosts[0]
    member = add(cluster, host, "central1", credential, micetro)
    original = host.backups()[0]  # the file as found, before it was named central1
    host.preferences.write_text(host.preferences.read_text() + '<LogLevel value="debug"/>\n')  # a hand edit
    hand_edited = host.preferences.read_bytes()
    probe_cluster(cluster)
    member.refresh_from_db()
    assert [b["name"] for b in member.findings["backups"]] == [original.name]
    assert "LogLevel" in member.preferences_masked and "Db-Secret" not in member.preferences_masked
    host.central.clear_events()
    job = finish(actions.restore_backup("alice", member, backup=original.name, reason="undo a hand edit"), None)
    assert job.status == JobStatus.SUCCEEDED, job.error
    restored = Preferences.parse(host.preferences.read_bytes())
    assert restored.get("ClusterMemberName") == "central1" and restored.get("LogLevel") is None
    assert host.backups()[-1].read_bytes() == hand_edited, "the current file is backed up first"
    assert host.events() == ["restart"]
    assert cluster.members.get().state == State.ACTIVE and micetro.truth() == {"central1": "active"}


def test_a_restore_whose_central_does_not_start_puts_the_current_file_back_and_restarts_on_it(cluster, ssh_hosts,
                                                                                               credential, micetro):
    host = ssh_hosts[0]
    member = add(cluster, host, "central1", credential, micetro)
    backup = host.backups()[0].name
    host.preferences.write_text(host.preferences.read_text() + '<LogLevel value="debug"/>\n')
    current = host.preferences.read_bytes()
    probe_cluster(cluster)
    host.central.clear_events()
    host.fault("fail-start-once")
    job = finish(actions.restore_backup("alice", cluster.members.get(), backup=backup), None)
    assert job.status == JobStatus.FAILED
    assert host.preferences.read_bytes() == current
    assert host.events() == ["restart", "start-failed", "restart"], "restarted on the current file once it was back"
    assert host.service_state == "active"
    assert [s.status for s in job.steps.order_by("position")] == ["succeeded", "undone", "undone", "failed", "skipped"]
    assert member.pk == cluster.members.get().pk


def test_a_backup_that_cannot_serve_fails_before_anything_changes(cluster, ssh_hosts, credential, micetro):
    host = ssh_hosts[0]
    member = add(cluster, host, "central1", credential, micetro)
    sqlite = host.backups()[0].with_name("preferences.cfg.hacontrol-20200101T000000000000Z.bak")
    sqlite.write_text('<Database value="sqlite"/>\n')
    probe_cluster(cluster)
    host.central.clear_events()
    before = host.preferences.read_bytes()
    job = finish(actions.restore_backup("alice", cluster.members.get(pk=member.pk), backup=sqlite.name), None)
    assert job.status == JobStatus.FAILED and "high availability needs MSSQL or PostgreSQL" in job.error
    assert host.preferences.read_bytes() == before and host.events() == []


def test_rotating_a_credential_reaches_every_member_with_the_new_key(cluster, ssh_hosts, credential, micetro,
                                                                     client_key, tmp_path):
    for index, name in enumerate(["central1", "central2"]):
        add(cluster, ssh_hosts[index], name, credential, micetro)
    new_key, unknown_key = tmp_path / "rotated", tmp_path / "unknown"
    for key in (new_key, unknown_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    # A key the hosts do not know is used at once, not after the open connections happen to drop.
    actions.edit_credential("alice", credential, private_key=unknown_key.read_text(), reason="wrong key")
    assert {m.name: m.state_reason.split(":")[0] for m in probe_cluster(cluster)} == {
        "central1": "host unreachable", "central2": "host unreachable"}
    assert all("authentication failed for root@" in m.last_error for m in cluster.members.all())
    authorized = client_key.parent / "authorized_keys"
    before = authorized.read_text()
    try:
        authorized.write_text(new_key.with_suffix(".pub").read_text())
        actions.edit_credential("alice", credential, private_key=new_key.read_text(), reason="rotation")
        states = {m.name: (m.state, m.last_error) for m in probe_cluster(cluster)}
        assert states == {"central1": (State.ACTIVE, ""), "central2": (State.STANDBY, "")}, \
            "the old key is no longer authorised: only the new one can reach them"
    finally:
        authorized.write_text(before)


def test_a_host_on_another_database_server_raises_drift_in_the_panel_and_in_ha_check(cluster, ssh_hosts, credential,
                                                                                       micetro, admin_client):
    first, second = ssh_hosts[:2]
    first.reset(SEEDED)
    second.reset(SEEDED)
    add(cluster, first, "central1", credential, micetro)
    member = add(cluster, second, "central2", credential, micetro)
    second.preferences.write_text(second.preferences.read_text().replace("db.example.com", "db2.example.com"))
    second.central.restart()
    probe_cluster(cluster)
    panel = admin_client.get(cluster.get_absolute_url()).content.decode()
    assert "Configuration drift" in panel
    assert "DatabaseServer: central1 = db.example.com@mmsuite; central2 = db2.example.com@mmsuite" in panel
    page = admin_client.get(member.get_absolute_url()).content.decode()
    assert "&lt;DatabasePassword value=&quot;********&quot;/&gt;" in page
    assert "+ &lt;DatabaseServer value=&quot;db2.example.com@mmsuite&quot;/&gt;" in page
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("ha", "check", cluster.name, stdout=out, stderr=err)
    assert "drift: DatabaseServer: central1 = db.example.com@mmsuite; central2 = db2.example.com@mmsuite" in out.getvalue()
    assert "the members' database settings differ (DatabaseServer)" in str(failed.value)
    as_json = io.StringIO()
    with pytest.raises(CommandError):
        call_command("ha", "check", cluster.name, "--json", stdout=as_json)
    drift = json.loads(as_json.getvalue())["drift"]
    assert drift[0]["setting"] == "DatabaseServer" and drift[0]["database"]
    assert [g["members"] for g in drift[0]["groups"]] == [["central1"], ["central2"]]
    out.write(as_json.getvalue())
    call_command("ha", "member", "show", cluster.name, "central2", stdout=out)
    call_command("ha", "member", "show", cluster.name, "central2", "--json", stdout=out)
    backup = cluster.members.get(name="central2").findings["backups"][0]["name"]
    call_command("ha", "member", "backups", cluster.name, "central2", "--show", backup, stdout=out)
    assert "<LicenseKey value=\"********\"/>" in out.getvalue()
    for text in (panel, page, out.getvalue(), err.getvalue(), str(failed.value)):
        no_secret_in(text)
    assert not AuditEvent.objects.filter(detail__contains="Secret").exists()


def test_the_cli_adds_a_member_with_a_saved_credential(cluster, ssh_hosts, credential, micetro):
    host = ssh_hosts[0]
    micetro.register("central1", 10)
    out = io.StringIO()
    call_command("ha", "member", "add", cluster.name, "central1", "--address", host.address, "--port", str(host.port),
                 "--host-key", host.host_key_line, "--credential", "hosts", "--registered", stdout=out)
    member = cluster.members.get()
    assert member.credential == credential and member.private_key == "" and member.state == State.ACTIVE
    call_command("ha", "member", "backups", cluster.name, "central1", stdout=out)
    assert host.backups()[0].name in out.getvalue()
