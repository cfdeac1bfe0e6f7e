"""Faults injected for real: a host killed mid-copy, the worker killed mid-job, PostgreSQL
restarted mid-job. Nothing is lost or half-written; each test prints its figures."""

import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from pgserver.postgres_server import POSTGRES_BIN_PATH

from hacontrol.ha.jobs import create_job, run_job, run_job_task
from hacontrol.ha.models import AuditEvent, Cluster, Job
from hacontrol.remote import RemoteError, open_connection
from tests.conftest import add_linux_member, start_worker, stop_worker

PREFS = "/var/mmsuite/mmcentral/preferences.cfg"


def test_a_host_killed_mid_copy_keeps_its_old_file(ssh_hosts, client_key, cluster):
    host = ssh_hosts[3]
    member = add_linux_member(cluster, host, client_key, "central1", 10)
    original = host.preferences.read_bytes()
    big = b"<Padding value=\"" + b"x" * (8 * 1024 * 1024) + b"\"/>\n"
    injected = recovered = 0
    for delay in (0.01, 0.03, 0.06, 0.1, 0.2):
        host.start() if host.process is None else None
        remote = open_connection(member.connection_settings())
        errors = []
        writer = threading.Thread(target=lambda: errors.append(_write(remote, big)))
        writer.start()
        time.sleep(delay)
        host.stop()
        injected += 1
        writer.join(30)
        content = host.preferences.read_bytes()
        if content in (original, big) and (content == original or errors == [None]):
            recovered += 1
        assert content in (original, big), "never half-written"
        if content == big:
            host.preferences.write_bytes(original)
        host.start()
    print(f"\nhost killed mid-copy: {injected} faults injected, {recovered} recovered (file whole)")
    assert recovered == injected


def _write(remote, data):
    try:
        remote.write_file(PREFS, data)
    except (RemoteError, OSError, EOFError) as error:
        return error
    return None


def wait_until(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def kill_worker_and_restart(worker, job, host, fault: str) -> None:
    """SIGKILL the worker running ``job``, lift the host's fault, start a fresh worker and wait
    until it has failed the orphaned job."""
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    host.fault(fault, on=False)
    worker = start_worker()
    try:
        wait_until(lambda: Job.objects.get(pk=job.pk).status == "failed")
    finally:
        stop_worker(worker)
    job.refresh_from_db()


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_dies_is_failed_on_restart_and_a_rerun_succeeds(ssh_hosts, client_key):
    cluster = Cluster.objects.create(name="faults")
    host = ssh_hosts[0]
    member = add_linux_member(cluster, host, client_key, "central1", 10)
    host.fault("hang")  # the first command never returns
    worker = start_worker()
    job = create_job("add", cluster, "alice", member=member)
    run_job_task.enqueue(job.pk)
    wait_until(lambda: Job.objects.get(pk=job.pk).status == "running")
    kill_worker_and_restart(worker, job, host, "hang")
    assert "died" in job.error and AuditEvent.objects.filter(detail__contains=f"job #{job.pk} failed").exists()
    assert b"ClusterMemberName" not in host.preferences.read_bytes()
    assert not cluster.members.exists(), "an add that never finished leaves no record"
    member = add_linux_member(cluster, host, client_key, "central1", 10)
    retry = create_job("add", cluster, "alice", member=member)
    assert run_job(retry.pk) == "succeeded"
    print("\nworker killed mid-job: 1 fault injected, 1 recovered (job failed on restart, re-run succeeded)")


@pytest.mark.django_db(transaction=True)
def test_postgresql_restarted_mid_job_loses_no_step_and_no_audit_event(ssh_hosts, client_key, settings):
    from django.db import connection

    data_dir = Path(connection.settings_dict["HOST"])
    pg_ctl = POSTGRES_BIN_PATH / "pg_ctl"
    if not (data_dir / "postmaster.pid").exists():
        pytest.skip("DATABASE_URL names a server the tests do not control")
    owner = data_dir.owner()
    cluster = Cluster.objects.create(name="pg-restart")
    add_linux_member(cluster, ssh_hosts[0], client_key, "central1", 10)
    second = add_linux_member(cluster, ssh_hosts[1], client_key, "central2", 20)
    ssh_hosts[0].preferences.write_text(ssh_hosts[0].preferences.read_text() + '<ClusterMemberName value="central1"/>\n')
    ssh_hosts[1].fault("hang")  # holds the job inside a step while the database restarts
    settings.HACONTROL_COMMAND_TIMEOUT = 4
    job = create_job("add", cluster, "alice", member=second)
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(run_job(job.pk)))
    runner.start()
    time.sleep(1.0)
    restart = subprocess.run(["runuser", "-u", owner, "--", str(pg_ctl), "-D", str(data_dir), "restart", "-m", "fast",
                              "-w", "-l", str(data_dir / "restart.log")], capture_output=True, text=True)
    ssh_hosts[1].fault("hang", on=False)
    runner.join(120)
    connection.close()
    job.refresh_from_db()
    assert restart.returncode == 0, restart.stderr
    assert outcome == ["failed"] and job.status == "failed", "the hung command timed out: a clean failure"
    steps = list(job.steps.all())
    assert all(step.status in ("succeeded", "failed", "undone", "skipped") for step in steps)
    assert AuditEvent.objects.filter(detail__startswith=f"job #{job.pk} failed").count() == 1
    print(f"\nPostgreSQL restarted mid-job: 1 fault injected, 1 recovered ({len(steps)} steps and the audit "
          "event all recorded)")


@pytest.mark.django_db(transaction=True)
def test_a_worker_dying_mid_procedure_has_its_host_restored_on_restart(ssh_hosts, client_key):
    cluster = Cluster.objects.create(name="restore")
    primary, host = ssh_hosts[:2]
    primary.preferences.write_text(primary.preferences.read_text() + '<ClusterMemberName value="central1"/>\n')
    add_linux_member(cluster, primary, client_key, "central1", 10)
    member = add_linux_member(cluster, host, client_key, "central2", 20)
    original = host.preferences.read_bytes()
    host.fault("hang-start")  # stopped, preferences written, then the start never returns
    worker = start_worker()
    job = create_job("add", cluster, "alice", member=member)
    run_job_task.enqueue(job.pk)
    wait_until(lambda: job.steps.filter(name="Start Central on central2", status="running").exists())
    assert host.service_state == "inactive" and b"central2" in host.preferences.read_bytes()
    kill_worker_and_restart(worker, job, host, "hang-start")
    assert job.error.endswith("restored central2")
    assert host.preferences.read_bytes() == original and host.service_state == "active"
    assert not cluster.members.filter(name="central2").exists()
    restore = job.steps.get(name="Restore the hosts after the worker died")
    assert "wrote /var/mmsuite/mmcentral/preferences.cfg" in restore.output
    print("\nworker killed mid-procedure: 1 fault injected, 1 recovered (host's file and service restored)")
