"""The HA procedures end to end, on real SSH test hosts and the WinRM endpoint."""

import json

import pytest
from django.core.management import CommandError, call_command

from hacontrol.ha.jobs import ClusterBusy, create_job, run_job
from hacontrol.ha.models import AuditEvent, Job, Member
from hacontrol.lib.prefs import Preferences
from tests.conftest import add_linux_member, add_windows_member


def add(cluster, host, key, name, priority):
    member = add_linux_member(cluster, host, key, name, priority)
    job = create_job("add", cluster, "alice", member=member)
    run_job(job.pk)
    job.refresh_from_db()
    return job


def prefs_without_name(path) -> bytes:
    prefs = Preferences.parse(path.read_bytes())
    prefs.remove("ClusterMemberName")
    return prefs.to_bytes()


def states(cluster):
    return {m.name: m.state for m in cluster.members.all()}


def test_it_builds_a_three_member_cluster_from_scratch(cluster, ssh_hosts, client_key):
    first, second, third = ssh_hosts[:3]
    job = add(cluster, first, client_key, "central1", 10)
    assert job.status == "succeeded", job.error
    assert Preferences.parse(first.preferences.read_bytes()).get("ClusterMemberName") == "central1"
    assert len(first.backups()) == 1 and first.events() == ["restart"]
    for host, name, priority in [(second, "central2", 20), (third, "central3", 30)]:
        job = add(cluster, host, client_key, name, priority)
        assert job.status == "succeeded", job.error
        assert Preferences.parse(host.preferences.read_bytes()).get("ClusterMemberName") == name
        assert prefs_without_name(host.preferences) == prefs_without_name(first.preferences)
        assert len(host.backups()) == 1
        assert host.events() == ["stop", "start"], "stopped before the copy, started after"
    assert states(cluster) == {"central1": "active", "central2": "standby", "central3": "standby"}
    assert [s.status for s in job.steps.all()] == ["succeeded"] * job.steps.count()
    assert AuditEvent.objects.filter(action="job: Add member", outcome="ok").count() == 3


def test_a_service_that_will_not_start_is_undone_and_a_rerun_succeeds(cluster, ssh_hosts, client_key):
    first, second = ssh_hosts[:2]
    assert add(cluster, first, client_key, "central1", 10).status == "succeeded"
    original = second.preferences.read_bytes()
    second.fault("fail-start-once")
    job = add(cluster, second, client_key, "central2", 20)
    assert job.status == "failed"
    assert 'step 6 "Start Central on central2" failed' in job.error
    assert "Job for mmcentral.service failed" in job.error
    assert second.preferences.read_bytes() == original, "the original preferences.cfg is back"
    assert second.events()[-1] == "start" and second.service_state == "active", "running again, as it was"
    assert not cluster.members.filter(name="central2").exists()
    statuses = {s.name: s.status for s in job.steps.all()}
    assert statuses["Stop Central on central2"] == "undone"
    assert statuses["Check both run: central1 Active, central2 Standby"] == "skipped"
    assert add(cluster, second, client_key, "central2", 20).status == "succeeded"


def test_an_undo_that_fails_too_is_reported_on_its_step(cluster, ssh_hosts, client_key):
    first, second = ssh_hosts[:2]
    add(cluster, first, client_key, "central1", 10)
    second.fault("fail-start")
    job = add(cluster, second, client_key, "central2", 20)
    stop = job.steps.get(name="Stop Central on central2")
    assert job.status == "failed" and stop.error.startswith("undo failed: on central2: `systemctl start mmcentral` exited 1")
    assert second.preferences.read_bytes().count(b"ClusterMemberName") == 0


def test_an_unreachable_host_fails_the_first_check_and_changes_nothing(cluster, ssh_hosts, client_key):
    host = ssh_hosts[0]
    host.stop()
    job = add(cluster, host, client_key, "central1", 10)
    assert job.status == "failed" and "refused the connection" in job.error
    assert not cluster.members.exists()
    host.start()
    assert add(cluster, host, client_key, "central1", 10).status == "succeeded"


def test_an_unwritable_file_fails_the_write_and_leaves_the_host_as_it_was(cluster, ssh_hosts, client_key):
    first, second = ssh_hosts[:2]
    assert add(cluster, first, client_key, "central1", 10).status == "succeeded"
    original = second.preferences.read_bytes()
    (second.central / "preferences.cfg.hacontrol-tmp").mkdir()  # the temporary file cannot be created
    job = add(cluster, second, client_key, "central2", 20)
    assert job.status == "failed" and "Set ClusterMemberName=central2" in job.error
    assert second.preferences.read_bytes() == original
    assert second.service_state == "active" and second.events() == ["stop", "start"]


def test_a_host_with_a_sqlite_central_is_refused_with_the_reason(cluster, ssh_hosts, client_key):
    host = ssh_hosts[0]
    host.preferences.write_text('<Database value="sqlite"/>\n')
    job = add(cluster, host, client_key, "central1", 10)
    assert job.status == "failed" and "high availability needs MSSQL or PostgreSQL" in job.error
    assert host.preferences.read_text() == '<Database value="sqlite"/>\n' and host.events() == []


def test_an_unknown_host_key_is_refused_and_kept_for_review(cluster, ssh_hosts, client_key):
    host = ssh_hosts[0]
    member = add_linux_member(cluster, host, client_key, "central1", 10)
    member.host_key = ""
    member.save()
    run_job(create_job("add", cluster, "alice", member=member).pk)
    job = Job.objects.get()
    assert job.status == "failed" and "unknown host key ssh-ed25519 SHA256:" in job.error
    assert host.events() == []


def test_switchover_makes_the_chosen_member_active(cluster, ssh_hosts, client_key):
    first, second = ssh_hosts[:2]
    add(cluster, first, client_key, "central1", 10)
    add(cluster, second, client_key, "central2", 20)
    target = cluster.members.get(name="central2")
    job = create_job("switchover", cluster, "alice", member=target)
    assert run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    assert {m.name: m.priority for m in cluster.members.all()} == {"central1": 20, "central2": 10}
    assert states(cluster) == {"central1": "standby", "central2": "active"}
    assert first.events()[-2:] == ["stop", "start"]


def test_removing_a_member_stops_it_and_takes_its_name_out(cluster, ssh_hosts, client_key):
    first, second = ssh_hosts[:2]
    add(cluster, first, client_key, "central1", 10)
    add(cluster, second, client_key, "central2", 20)
    job = create_job("remove", cluster, "alice", member=cluster.members.get(name="central2"), params={"stop": True})
    assert run_job(job.pk) == "succeeded"
    assert Preferences.parse(second.preferences.read_bytes()).get("ClusterMemberName") is None
    assert second.service_state == "inactive"
    assert list(cluster.members.values_list("name", flat=True)) == ["central1"]


def test_one_job_at_a_time_per_cluster(cluster, ssh_hosts, client_key):
    member = add_linux_member(cluster, ssh_hosts[0], client_key, "central1", 10)
    first = create_job("add", cluster, "alice", member=member)
    with pytest.raises(ClusterBusy, match=f"job #{first.pk} \"Add member central1\" started by alice is queued"):
        create_job("switchover", cluster, "bob", member=member)


def test_a_windows_primary_and_a_linux_failover(cluster, windows_host, ssh_hosts, client_key):
    primary = add_windows_member(cluster, windows_host, "win1", 10)
    assert run_job(create_job("add", cluster, "alice", member=primary).pk) == "succeeded", Job.objects.first().error
    assert windows_host.preferences.read_bytes().endswith(b'<ClusterMemberName value="win1"/>\r\n')
    assert windows_host.log == ["stop", "start"]
    job = add(cluster, ssh_hosts[0], client_key, "lin2", 20)
    assert job.status == "succeeded", job.error
    assert b"\r\n" in ssh_hosts[0].preferences.read_bytes()
    assert states(cluster) == {"win1": "active", "lin2": "standby"}


def test_the_cli_builds_a_cluster_and_reports_its_status(db, ssh_hosts, client_key, capsys):
    call_command("ha", "cluster", "create", "lab", "--dns-name", "central.lab.example")
    host = ssh_hosts[0]
    call_command("ha", "member", "add", "lab", "central1", "--address", host.address, "--port", str(host.port),
                 "--key-file", str(client_key), "--accept-host-key")
    out = capsys.readouterr().out
    assert "accepting host key SHA256:" in out and "[4/5] Restart Central on central1" in out
    assert "succeeded" in out.splitlines()[-1]
    call_command("ha", "status", "lab", "--json")
    status = json.loads(capsys.readouterr().out)
    assert status["members"][0] | {"last_checked": None, "last_seen": None, "clock_skew": None} == {
        "name": "central1", "address": host.address, "priority": 10, "state": "active", "reason": "",
        "version": "11.0.3", "last_checked": None, "last_seen": None, "last_error": "", "clock_skew": None,
    }
    assert Member.objects.get().host_key == host.host_key_line


def test_the_cli_exits_non_zero_with_the_error(db, ssh_hosts, client_key):
    call_command("ha", "cluster", "create", "lab")
    host = ssh_hosts[0]
    host.fault("fail-start-once")
    with pytest.raises(CommandError, match="Restart Central on central1.*failed"):
        call_command("ha", "member", "add", "lab", "central1", "--address", host.address, "--port",
                     str(host.port), "--key-file", str(client_key), "--host-key", host.host_key_line)
    assert host.service_state == "active" and host.events() == ["restart-failed", "start"]
    assert b"ClusterMemberName" not in host.preferences.read_bytes()


def test_a_failed_add_from_the_panel_can_be_retried_with_the_presented_key_filled_in(
        admin_client, cluster, ssh_hosts, client_key, django_capture_on_commit_callbacks):
    from django.urls import reverse

    host = ssh_hosts[0]
    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post(reverse("member-add", args=[cluster.pk]), {
            "name": "central1", "priority": 10, "address": host.address, "port": host.port, "platform": "linux",
            "username": "root", "winrm_auth": "ntlm", "private_key": client_key.read_text()})
    job = Job.objects.get()
    assert run_job(job.pk) == "failed"
    page = admin_client.get(job.get_absolute_url()).content.decode()
    assert f"?retry={job.pk}" in page and "Try again with the same settings" in page
    form = admin_client.get(reverse("member-add", args=[cluster.pk]) + f"?retry={job.pk}").content.decode()
    assert host.host_key_line.split()[1] in form and 'value="central1"' in form and f'value="{host.address}"' in form
    assert "BEGIN OPENSSH PRIVATE KEY" not in form and "SHA256:" in form


def test_a_member_reached_as_a_non_root_user_with_sudo_is_configured(cluster, ssh_hosts, client_key):
    from tests.hosts.ssh_hosts import TEST_USER

    host = ssh_hosts[0]
    member = add_linux_member(cluster, host, client_key, "central1", 10, username=TEST_USER, use_sudo=True)
    assert run_job(create_job("add", cluster, "alice", member=member).pk) == "succeeded", Job.objects.get().error
    assert Preferences.parse(host.preferences.read_bytes()).get("ClusterMemberName") == "central1"
    assert host.events() == ["restart"] and cluster.members.get().state == "active"
