"""The vendor's procedures end to end, on real SSH hosts running the simulated Central: every state
hacontrol reports is compared with the simulator's truth, which hacontrol itself never reads."""

import pytest

from hacontrol.ha import actions
from hacontrol.ha.errors import Refused
from hacontrol.ha.models import AuditEvent, JobStatus
from hacontrol.lib.prefs import Preferences
from tests.conftest import add_member, finish, linux_member_values
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
