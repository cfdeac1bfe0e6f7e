"""Command overrides run as root on the host: the state probe (every 15 s, outside any job) runs only
the read-only ones (status, start time, clock, version) and reads preferences.cfg; an override of
stop, start, restart or install runs only in a job an administrator started."""

from hacontrol.ha import actions
from hacontrol.ha.probe import probe_cluster
from hacontrol.remote.commands import LINUX, PlatformCommands
from tests.conftest import add_linux_member, finish

READ_ONLY = {"status", "started", "clock", "version"}


def test_the_probe_runs_only_the_read_only_overrides_and_a_job_runs_the_others(cluster, ssh_hosts, client_key):
    host = ssh_hosts[0]
    host.set_name("central1")
    host.central.restart()
    overrides = {name: f"touch /var/mmsuite/ran-{name}; {getattr(LINUX, name)}" for name in PlatformCommands.names()}
    add_linux_member(cluster, host, client_key, "central1", 10, commands=overrides)
    for _ in range(3):
        probe_cluster(cluster)
    ran = {path.name.removeprefix("ran-") for path in (host.root / "mmsuite").glob("ran-*")}
    assert ran == READ_ONLY, "the probe ran nothing that changes the host"
    assert cluster.members.get().last_error == "" and cluster.members.get().version == "11.0.3"
    job = finish(actions.tune("alice", cluster, interval=6, max_downtime=24), None)
    assert job.status == "succeeded", job.error
    assert "restart" in {path.name.removeprefix("ran-") for path in (host.root / "mmsuite").glob("ran-*")}
