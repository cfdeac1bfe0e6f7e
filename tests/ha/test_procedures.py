"""The vendor's procedures end to end, on real SSH hosts running the simulated Central: every state
hacontrol reports is compared with the simulator's truth, which hacontrol itself never reads."""

import pytest

from hacontrol.ha import actions
from hacontrol.ha.errors import Refused
from hacontrol.ha.models import AuditEvent, JobStatus
from hacontrol.lib.prefs import Preferences
from tests.conftest import AdministratorAtTheConsole, add_member, finish, linux_member_values
from tests.hosts.ssh_hosts import FRESH_PREFERENCES


def states(cluster):
    return {m.name: m.state for m in cluster.members.all()}


def name_on(host):
    return Preferences.parse(host.preferences.read_bytes()).get("ClusterMemberName")


def test_the_first_member_is_named_registered_restarted_and_active(cluster, ssh_hosts, client_key, micetro):
    host = ssh_hosts[0]
    job = add_member(cluster, host, client_key, "central1", micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert name_on(host) == "central1" and len(host.backups()) == 1
    assert host.events() == ["restart", "restart"], "restarted after naming it and after registering it"
    assert micetro.members() == {"central1": 10}
    assert micetro.truth() == {"central1": "active"}
    assert states(cluster) == {"central1": "active"}
    steps = [s.name for s in job.steps.all()]
    assert "In Micetro: add central1 with priority 10 to the High Availability configuration" in steps


def test_a_failover_is_registered_first_then_configured_and_is_standby(cluster, ssh_hosts, client_key, micetro):
    first, second = ssh_hosts[:2]
    assert add_member(cluster, first, client_key, "central1", micetro).status == JobStatus.SUCCEEDED
    job = add_member(cluster, second, client_key, "central2", micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    steps = [s.name for s in job.steps.all()]
    assert steps.index("In Micetro: add central2 with priority 20 to the High Availability configuration") < \
        steps.index("Stop Central on central2")
    assert second.events() == ["stop", "start"]
    assert micetro.truth() == {"central1": "active", "central2": "standby"}
    assert states(cluster) == {"central1": "active", "central2": "standby"}


def test_a_freshly_installed_secondary_with_sqlite_defaults_joins(cluster, ssh_hosts, client_key, micetro):
    first, second = ssh_hosts[:2]
    second.reset(FRESH_PREFERENCES)
    assert add_member(cluster, first, client_key, "central1", micetro).status == JobStatus.SUCCEEDED
    job = add_member(cluster, second, client_key, "central2", micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert second.backups()[0].read_text() == FRESH_PREFERENCES
    assert micetro.truth() == {"central1": "active", "central2": "standby"}


def test_cancelling_a_job_waiting_for_micetro_undoes_it(cluster, ssh_hosts, client_key, micetro):
    host = ssh_hosts[0]
    original = host.preferences.read_bytes()
    job = actions.add_member("alice", cluster, name="central1", **linux_member_values(host, client_key))
    assert finish_until_waiting(job) == JobStatus.WAITING
    assert name_on(host) == "central1"
    job = actions.cancel_job("bob", job, reason="wrong host")
    assert finish(job, None).status == JobStatus.CANCELLED
    assert host.preferences.read_bytes() == original
    assert not cluster.members.exists()
    assert AuditEvent.objects.filter(action="job cancel", reason="wrong host").exists()


def finish_until_waiting(job):
    from hacontrol.ha.jobs import run_here

    return run_here(job)


def test_a_refused_add_leaves_no_record(cluster, ssh_hosts, client_key, micetro):
    host = ssh_hosts[0]
    job = actions.add_member("alice", cluster, name="central1", **linux_member_values(host, client_key))
    with pytest.raises(Refused, match="is busy"):
        actions.add_member("alice", cluster, name="central2", **linux_member_values(ssh_hosts[1], client_key))
    assert list(cluster.members.values_list("name", flat=True)) == ["central1"]
    assert AuditEvent.objects.filter(action="member add", outcome="refused").exists()
    assert finish(job, micetro).status == JobStatus.SUCCEEDED


@pytest.fixture
def pair(cluster, ssh_hosts, client_key, micetro):
    """central1 (10, Active) and central2 (20, Standby), built by the procedures."""
    for index, name in enumerate(["central1", "central2"]):
        assert add_member(cluster, ssh_hosts[index], client_key, name, micetro).status == JobStatus.SUCCEEDED
    return ssh_hosts[:2]


def test_a_service_that_will_not_start_is_undone_and_a_rerun_succeeds(cluster, pair, ssh_hosts, client_key, micetro):
    host = ssh_hosts[2]
    original = host.preferences.read_bytes()
    host.fault("fail-start-once")
    job = add_member(cluster, host, client_key, "central3", micetro)
    assert job.status == JobStatus.FAILED
    assert 'step 8 "Start Central on central3" failed' in job.error
    assert "Job for mmcentral.service failed" in job.error
    assert host.preferences.read_bytes() == original, "the original preferences.cfg is back"
    assert host.service_state == "active", "running again, as it was"
    assert not cluster.members.filter(name="central3").exists()
    assert "Remove the member central3 from Micetro's High Availability configuration" in job.follow_up
    statuses = {s.name: s.status for s in job.steps.all()}
    assert statuses["Stop Central on central3"] == "undone"
    assert statuses["Check central3 runs as a Standby beside an Active member"] == "skipped"
    micetro.unregister("central3")
    assert add_member(cluster, host, client_key, "central3", micetro).status == JobStatus.SUCCEEDED


def test_an_undo_that_fails_too_is_reported_on_its_step(cluster, pair, ssh_hosts, client_key, micetro):
    host = ssh_hosts[2]
    host.fault("fail-start")
    job = add_member(cluster, host, client_key, "central3", micetro)
    stop = job.steps.get(name="Stop Central on central3")
    assert job.status == JobStatus.FAILED and stop.error.startswith("undo failed: on central3: `systemctl start mmcentral` exited 1")
    assert b"ClusterMemberName" not in host.preferences.read_bytes()


def test_an_unreachable_host_fails_the_first_check_and_changes_nothing(cluster, ssh_hosts, client_key, micetro):
    host = ssh_hosts[0]
    host.stop()
    job = add_member(cluster, host, client_key, "central1", micetro)
    assert job.status == JobStatus.FAILED and "refused the connection" in job.error
    assert not cluster.members.exists() and micetro.members() == {}
    host.start()
    assert add_member(cluster, host, client_key, "central1", micetro).status == JobStatus.SUCCEEDED


def test_an_unwritable_file_fails_the_write_and_leaves_the_host_as_it_was(cluster, pair, ssh_hosts, client_key, micetro):
    import subprocess

    host = ssh_hosts[2]
    original = host.preferences.read_bytes()
    subprocess.run(["chattr", "+i", str(host.data)], check=True)  # not even root makes a file beside it
    try:
        job = add_member(cluster, host, client_key, "central3", micetro)
    finally:
        subprocess.run(["chattr", "-i", str(host.data)], check=True)
    assert job.status == JobStatus.FAILED and "Write central1's preferences.cfg to central3" in job.error
    assert host.preferences.read_bytes() == original and host.service_state == "active"


def test_a_first_member_on_a_sqlite_central_is_refused_with_the_reason(cluster, ssh_hosts, client_key, micetro):
    host = ssh_hosts[0]
    host.reset(FRESH_PREFERENCES)
    job = add_member(cluster, host, client_key, "central1", micetro)
    assert job.status == JobStatus.FAILED and "high availability needs MSSQL or PostgreSQL" in job.error
    assert host.preferences.read_text() == FRESH_PREFERENCES and host.events() == []


def test_copying_between_different_versions_is_refused_naming_both(cluster, pair, ssh_hosts, client_key, micetro):
    host = ssh_hosts[2]
    host.reset(version="11.2.0")
    job = add_member(cluster, host, client_key, "central3", micetro)
    assert job.status == JobStatus.FAILED
    assert "central1 runs Central 11.0.3 and central3 runs 11.2.0: members must run the same version" in job.error
    assert host.events() == [], "nothing touched on the host"


def test_an_unknown_host_key_is_refused_and_kept_for_review(cluster, ssh_hosts, client_key, micetro):
    host = ssh_hosts[0]
    job = add_member(cluster, host, client_key, "central1", micetro, host_key="")
    assert job.status == JobStatus.FAILED and "unknown host key ssh-ed25519 SHA256:" in job.error
    assert host.events() == []
    assert job.params["form"]["host_key"] == host.host_key_line


def test_removing_a_member_stops_it_unregisters_it_and_takes_its_name_out(cluster, pair, micetro):
    member = cluster.members.get(name="central2")
    job = finish(actions.remove_member("alice", member, stop=True), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert name_on(pair[1]) is None and pair[1].service_state == "inactive"
    assert micetro.members() == {"central1": 10}
    assert list(cluster.members.values_list("name", flat=True)) == ["central1"]


def test_removing_the_active_member_needs_a_confirmation(cluster, pair, micetro):
    member = cluster.members.get(name="central1")
    with pytest.raises(Refused) as refused:
        actions.remove_member("alice", member)
    assert refused.value.check == "confirm-active"
    assert "central1 is the Active member and the others depend on it" in str(refused.value)


def test_a_dead_member_is_forgotten_without_touching_its_host(cluster, pair, micetro):
    pair[1].kill()
    from hacontrol.ha.probe import probe_cluster

    probe_cluster(cluster)
    member = cluster.members.get(name="central2")
    assert member.state == "offline"
    with pytest.raises(Refused, match="give the reason"):
        actions.forget_member("alice", member, confirm=True)
    job = finish(actions.forget_member("alice", member, confirm=True, reason="host decommissioned"), micetro)
    assert job.status == JobStatus.SUCCEEDED and micetro.members() == {"central1": 10}
    assert list(cluster.members.values_list("name", flat=True)) == ["central1"]
    assert [s.name for s in job.steps.all()] == [
        "In Micetro: remove central2 from the High Availability configuration", "Remove central2 from hacontrol's records"]
    pair[1].start()


def test_the_last_members_can_be_forgotten_and_the_cluster_deleted(cluster, pair, micetro):
    for host in pair:
        host.kill()
    from hacontrol.ha.probe import probe_cluster

    probe_cluster(cluster)
    for member in cluster.members.all():
        job = actions.forget_member("alice", member, confirm=True, reason="site closed", unregistered=True)
        assert finish(job, None).status == JobStatus.SUCCEEDED
    actions.delete_cluster("alice", cluster, reason="site closed")
    assert not type(cluster).objects.filter(pk=cluster.pk).exists()
    for host in pair:
        host.start()


def test_a_priority_change_waits_for_micetro_then_records_it(cluster, pair, micetro):
    member = cluster.members.get(name="central2")
    job = actions.edit_member("alice", member, priority=25, reason="make room")
    assert job is not None and cluster.members.get(name="central2").priority == 20, "not before Micetro has it"
    assert finish(job, micetro).status == JobStatus.SUCCEEDED
    assert cluster.members.get(name="central2").priority == 25 and micetro.members()["central2"] == 25


def test_tuning_writes_heartbeats_secondaries_first_and_the_active_member_last(cluster, pair, micetro):
    job = finish(actions.tune("alice", cluster, interval=6, max_downtime=24), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    for host in pair:
        prefs = Preferences.parse(host.preferences.read_bytes())
        assert (prefs.get("HeartbeatInterval"), prefs.get("HeartbeatMaxAllowedDowntime")) == ("6", "24")
    restarts = [step.name for step in job.steps.all() if step.name.startswith("Restart")]
    assert restarts == ["Restart Central on central2", "Restart Central on central1"]
    assert micetro.truth() == {"central1": "active", "central2": "standby"}


def test_a_refused_tuning_changes_no_setting(cluster, pair, micetro):
    busy = actions.switchover("alice", cluster.members.get(name="central2"))
    with pytest.raises(Refused, match="is busy"):
        actions.tune("alice", cluster, interval=6, max_downtime=24)
    cluster.refresh_from_db()
    assert (cluster.heartbeat_interval, cluster.heartbeat_max_downtime) == (None, None)
    actions.cancel_job("alice", busy)
    assert finish(busy, None).status == JobStatus.CANCELLED


def test_a_member_reached_as_a_non_root_user_with_sudo_is_configured(cluster, ssh_hosts, client_key, micetro):
    from tests.hosts.ssh_hosts import TEST_USER

    host = ssh_hosts[0]
    job = add_member(cluster, host, client_key, "central1", micetro, username=TEST_USER, use_sudo=True)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert name_on(host) == "central1" and host.preferences.stat().st_uid == 0
    assert micetro.truth() == {"central1": "active"}


def test_the_cli_builds_a_cluster_confirming_each_registration(transactional_db, ssh_hosts, client_key, micetro, capsys, monkeypatch):
    """Through the CLI: three members, each registration done in Micetro when the job asks."""
    import json

    from django.core.management import call_command

    monkeypatch.setattr("sys.stdin", AdministratorAtTheConsole(micetro))
    call_command("ha", "cluster", "create", "lab")
    for index, name in enumerate(["central1", "central2", "central3"]):
        host = ssh_hosts[index]
        call_command("ha", "member", "add", "lab", name, "--address", host.address, "--port", str(host.port),
                     "--key-file", str(client_key), "--host-key", host.host_key_line)
    out = capsys.readouterr().out
    assert out.count("In Micetro, do this now: Add the member") == 3
    assert micetro.truth() == {"central1": "active", "central2": "standby", "central3": "standby"}
    call_command("ha", "status", "lab", "--json")
    status = json.loads(capsys.readouterr().out)
    assert status["active"] == "central1"
    assert [(m["name"], m["state"]) for m in status["members"]] == [
        ("central1", "active"), ("central2", "standby"), ("central3", "standby")]


def test_the_cli_leaves_a_job_waiting_without_an_answer_and_confirms_it_later(transactional_db, ssh_hosts, client_key, micetro, monkeypatch):
    import io

    from django.core.management import CommandError, call_command

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    call_command("ha", "cluster", "create", "lab")
    host = ssh_hosts[0]
    with pytest.raises(CommandError) as raised:
        call_command("ha", "member", "add", "lab", "central1", "--address", host.address, "--key-file",
                     str(client_key), "--host-key", host.host_key_line, "--port", str(host.port))
    assert raised.value.returncode == 3 and "ha job confirm" in str(raised.value)
    from hacontrol.ha.models import Job

    job = Job.objects.get()
    micetro.register("central1", 10)
    call_command("ha", "job", "confirm", str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and micetro.truth() == {"central1": "active"}


def test_a_windows_primary_and_a_linux_failover(cluster, windows_host, ssh_hosts, client_key, micetro):
    from tests.conftest import windows_member_values

    job = finish(actions.add_member("alice", cluster, name="win1", **windows_member_values(windows_host)), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert windows_host.preferences.read_bytes().endswith(b'<ClusterMemberName value="win1"/>\r\n')
    assert windows_host.events()[-4:] == ["stop", "start", "stop", "start"], "restarted twice, the vendor's way"
    job = add_member(cluster, ssh_hosts[0], client_key, "lin2", micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert b"\r\n" in ssh_hosts[0].preferences.read_bytes()
    assert micetro.truth() == {"win1": "active", "lin2": "standby"}
    assert states(cluster) == {"win1": "active", "lin2": "standby"}


def test_a_windows_host_without_central_is_refused_with_the_reason(cluster, tmp_path, central_store, micetro):
    from tests.conftest import loopback, make_windows_host, windows_member_values

    host = make_windows_host(tmp_path / "bare", central_store, loopback(33), central_installed=False)
    try:
        job = finish(actions.add_member("alice", cluster, name="win1", **windows_member_values(host)), micetro)
    finally:
        host.server.stop()
        host.shutdown()
    assert job.status == JobStatus.FAILED and "Central is not installed on" in job.error
