"""Jobs that never wedge: leases recovered wherever the process died, cancel from every door,
Ctrl-C on the CLI, several workers, isolated probes. Real worker and CLI processes throughout."""

import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from hacontrol.ha import actions
from hacontrol.ha.jobs import run_here
from hacontrol.ha.models import AuditEvent, Cluster, Job, JobStatus, Lease, Member
from hacontrol.ha.probe import probe_cluster, probe_clusters, record
from hacontrol.ha.tasks import run_job_task
from tests.conftest import (
    JOB_LEASE,
    ROOT,
    add_member,
    finish,
    linux_member_values,
    start_worker,
    stop_worker,
    worker_environment,
)


def wait_until(condition, seconds=40, what="the condition"):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.2)


def job_status(job):
    return Job.objects.get(pk=job.pk).status


@pytest.fixture
def pair(cluster, ssh_hosts, client_key, micetro):
    for index, name in enumerate(["central1", "central2"]):
        assert add_member(cluster, ssh_hosts[index], client_key, name, micetro).status == JobStatus.SUCCEEDED
    return ssh_hosts[:2]


def test_a_worker_killed_mid_job_is_recovered_by_another_and_the_host_put_back(cluster, pair, ssh_hosts, client_key,
                                                                                micetro, tmp_path):
    host = ssh_hosts[2]
    original = host.preferences.read_bytes()
    micetro.register("central3", 30)
    host.fault("hang-start")  # stopped, preferences written, then the start never returns
    first, second = start_worker(log=tmp_path / "w1.log"), None
    try:
        job = actions.add_member("alice", cluster, name="central3", registered=True,
                                 **linux_member_values(host, client_key))
        run_job_task.enqueue(job.pk)
        wait_until(lambda: job.steps.filter(name="Start Central on central3", status="running").exists())
        assert host.service_state != "active" and b"central3" in host.preferences.read_bytes()
        first.send_signal(signal.SIGKILL)
        first.wait()
        host.fault("hang-start", on=False)
        second = start_worker(log=tmp_path / "w2.log")  # another process, with another name: it recovers
        wait_until(lambda: job_status(job) == JobStatus.FAILED, what="recovery")
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                stop_worker(process)
    job.refresh_from_db()
    assert "stopped answering; every host was put back" in job.error
    assert host.preferences.read_bytes() == original and host.service_state == "active"
    assert not cluster.members.filter(name="central3").exists(), "the add never finished: no record"
    recovery = job.steps.get(name="Recover: undo what the job did, from its snapshots")
    assert recovery.status == "succeeded" and "wrote /var/mmsuite/mmcentral/preferences.cfg" in recovery.output
    assert AuditEvent.objects.filter(detail__startswith=f"job #{job.pk} failed").exists()
    assert not job.vault, "the snapshots went with the job's end"


def test_a_cli_killed_mid_job_is_recovered_by_the_next_action_on_the_cluster(cluster, pair, ssh_hosts, client_key):
    host = ssh_hosts[2]
    original = host.preferences.read_bytes()
    host.fault("hang-start")
    cli = subprocess.Popen(
        [sys.executable, "manage.py", "ha", "member", "add", cluster.name, "central3", "--address", host.address,
         "--port", str(host.port), "--key-file", str(client_key), "--host-key", host.host_key_line, "--registered"],
        cwd=ROOT, env=worker_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: Job.objects.filter(steps__name="Start Central on central3", steps__status="running").exists())
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait()
    host.fault("hang-start", on=False)
    job = Job.objects.get(member_name="central3")
    time.sleep(JOB_LEASE + 1)
    with pytest.raises(actions.Refused, match="priority 10 is already central1's"):
        actions.add_member("bob", cluster, name="centralX", priority=10, **linux_member_values(ssh_hosts[3], client_key))
    tune = actions.tune("bob", cluster, interval=5, max_downtime=20)  # any action on the cluster recovers first
    assert job_status(job) == JobStatus.FAILED and host.preferences.read_bytes() == original
    actions.cancel_job("bob", tune)
    assert finish(tune, None).status == JobStatus.CANCELLED


def test_ctrl_c_on_a_cli_switchover_undoes_it_and_frees_the_cluster(cluster, pair, micetro):
    cli = subprocess.Popen([sys.executable, "manage.py", "ha", "switchover", cluster.name, "--to", "central2"],
                           cwd=ROOT, env=worker_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: Job.objects.filter(steps__name="Wait for Central to fail over to central2",
                                              steps__status="running").exists())
        assert pair[0].service_state == "inactive"
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=60)
    finally:
        cli.kill()
    job = Job.objects.get(kind="switchover")
    assert cli.returncode == 1 and "interrupted: cancelling after the current step" in err
    assert job.status == JobStatus.CANCELLED and "cancelled by cli:" in job.error
    assert pair[0].service_state == "active" and pair[1].service_state == "active", "the hosts are as they were"
    assert micetro.truth() == {"central1": "active", "central2": "standby"}, "back before Central could fail over"
    job = finish(actions.switchover("alice", cluster.members.get(name="central2")), micetro)
    assert job.status == JobStatus.SUCCEEDED, f"the cluster takes the next job: {job.error}"


def test_a_job_is_cancelled_from_the_page_while_it_waits_for_central(admin_client, cluster, pair, micetro, tmp_path):
    worker = start_worker(log=tmp_path / "worker.log")
    try:
        target = cluster.members.get(name="central2")
        admin_client.post(reverse("member-activate", args=[cluster.pk, target.pk]), {"reason": "test"})
        job = Job.objects.get(kind="switchover")
        wait_until(lambda: job.steps.filter(name="Wait for Central to fail over to central2", status="running").exists())
        page = admin_client.get(job.get_absolute_url()).content.decode()
        assert "In progress" in page and "Waiting for Central" in page and "not failed" in page
        admin_client.post(reverse("job-cancel", args=[job.pk]), {"reason": "wrong member"})
        wait_until(lambda: job_status(job) == JobStatus.CANCELLED, what="the cancel")
    finally:
        stop_worker(worker)
    job.refresh_from_db()
    assert job.error == "cancelled by alice: wrong member"
    assert all(host.service_state == "active" for host in pair)
    assert AuditEvent.objects.filter(action="job cancel", reason="wrong member").exists()


def test_a_queued_job_whose_hand_off_was_lost_is_handed_over_again(cluster, pair, micetro, tmp_path):
    job = actions.switchover("alice", cluster.members.get(name="central2"))  # never enqueued: the hand-off is lost
    Job.objects.filter(pk=job.pk).update(params={**job.params, "enqueued": time.time() - 60})
    worker = start_worker(log=tmp_path / "worker.log")
    try:
        wait_until(lambda: job_status(job) in (JobStatus.SUCCEEDED, JobStatus.FAILED), seconds=90, what="the job")
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, job.error + "".join(step.output for step in job.steps.all()) + str(job.params)
    finally:
        stop_worker(worker)
    assert micetro.truth() == {"central1": "standby", "central2": "active"}


def test_three_workers_run_each_job_once_and_probe_with_one_monitor(transactional_db, ssh_hosts, client_key,
                                                                    micetro, tmp_path):
    clusters = []
    for index in range(3):
        cluster = Cluster.objects.create(name=f"c{index}")
        micetro.register(f"m{index}", 10)
        clusters.append((cluster, actions.add_member("alice", cluster, name=f"m{index}", registered=True,
                                                     **linux_member_values(ssh_hosts[index], client_key))))
    workers = [start_worker(probe_interval=2, log=tmp_path / f"w{i}.log") for i in range(3)]
    try:
        for _, job in clusters:
            run_job_task.enqueue(job.pk)
        wait_until(lambda: all(job_status(job) == JobStatus.SUCCEEDED for _, job in clusters), seconds=90)
        for _, job in clusters:
            assert job.steps.filter(name__startswith="Record").count() == 1
        wait_until(lambda: Lease.objects.filter(name="monitor").exclude(owner="").exists())
        holder = Lease.objects.get(name="monitor").owner
        assert holder.split(":")[1] in {str(w.pid) for w in workers}
        victim = next(w for w in workers if str(w.pid) == holder.split(":")[1])
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        wait_until(lambda: Lease.objects.get(name="monitor").owner not in ("", holder), seconds=2 * 2 + 3,
                   what="another monitor taking over")
    finally:
        for process in workers:
            if process.poll() is None:
                stop_worker(process)


def test_a_member_with_a_broken_setting_is_offline_and_the_others_are_still_probed(cluster, pair):
    Member.objects.filter(name="central2").update(host_key="ssh-ed25519 AAAAnotbase64!!")
    other = Cluster.objects.create(name="other")
    Member.objects.create(cluster=other, name="x1", priority=10, address="127.0.0.1", port=1, registered=True,
                          private_key="-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n")
    pair[0].central.stop()
    result = probe_clusters([cluster, other])
    states = {m.name: (m.state, m.state_reason) for ms in result.values() for m in ms}
    assert states["central2"][0] == "offline" and "the pinned host key cannot be used" in states["central2"][1]
    assert states["x1"][0] == "offline" and "cannot be read" in states["x1"][1]
    assert states["central1"] == ("offline", "service stopped"), "the broken members stop nobody else's probe"


def test_a_look_older_than_the_states_a_job_saved_is_dropped(cluster, pair):
    version = Cluster.objects.get(pk=cluster.pk).state_version
    members = list(cluster.members.all())
    probe_cluster(cluster)  # someone saved newer states meanwhile
    assert record(cluster, members, {}, version=version) is False


def test_a_look_beaten_to_saving_is_taken_again_so_a_job_never_decides_on_older_states(cluster, pair, monkeypatch):
    from django.db.models import F

    from hacontrol.ha import probe

    probe_cluster(cluster)
    looks = []

    def observe_while_an_older_look_saves(members):
        seen = real(members)
        if not looks:  # the monitor's look, begun before Central was started again, saves now
            Cluster.objects.filter(pk=cluster.pk).update(state_version=F("state_version") + 1)
        looks.append(seen)
        return seen

    real = probe.observe_all
    monkeypatch.setattr(probe, "observe_all", observe_while_an_older_look_saves)
    # What the job's look loads: the older look's states, from before the start.
    Member.objects.filter(name="central2").update(state="offline", state_reason="service stopped")
    states = {m.name: m.state for m in probe_cluster(cluster)}
    assert states == {"central1": "active", "central2": "standby"} and len(looks) == 2


class SlowHook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        time.sleep(30)

    def log_message(self, *args):
        pass


def test_a_hung_webhook_never_holds_up_the_probe(cluster, pair, settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.HACONTROL_NOTIFY_TIMEOUT = 2
    Cluster.objects.filter(pk=cluster.pk).update(notify_webhook=f"http://127.0.0.1:{server.server_port}/")
    cluster.refresh_from_db()
    pair[1].central.stop()
    started = time.monotonic()
    probe_cluster(cluster)
    assert time.monotonic() - started < 2
    server.shutdown()


def test_a_planned_stop_by_a_job_raises_no_offline_alarm(cluster, pair, settings, micetro):
    from django.core import mail

    from hacontrol.ha.notify import drain

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Cluster.objects.filter(pk=cluster.pk).update(notify_email="ops@example.com")
    job = finish(actions.remove_member("alice", cluster.members.get(name="central2"), stop=True), micetro)
    assert job.status == JobStatus.SUCCEEDED
    drain()
    assert mail.outbox == [], [m.subject for m in mail.outbox]


def test_cancelling_a_queued_job_ends_it_at_once(cluster, pair):
    job = actions.switchover("alice", cluster.members.get(name="central2"))
    job = actions.cancel_job("bob", job, reason="changed my mind")
    assert job.status == JobStatus.CANCELLED and "before it started" in job.error
    assert run_here(job) == JobStatus.CANCELLED



def test_a_second_ctrl_c_stops_waiting_for_the_undo_and_says_what_is_left(cluster, pair, micetro):
    cli = subprocess.Popen([sys.executable, "manage.py", "ha", "switchover", cluster.name, "--to", "central2"],
                           cwd=ROOT, env=worker_environment(HACONTROL_COMMAND_TIMEOUT="3", HACONTROL_UNDO_PATIENCE="60"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: Job.objects.filter(steps__name="Wait for Central to fail over to central2",
                                              steps__status="running").exists())
        pair[0].freeze()  # the stopped member's host stops answering: its undo (a start) waits
        cli.send_signal(signal.SIGINT)
        wait_until(lambda: "does not answer" in Job.objects.get(kind="switchover").steps.get(position=2).output, 40,
                   "the undo waiting for the host")
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=60)
    finally:
        cli.kill()
        pair[0].freeze(False)
    job = Job.objects.get(kind="switchover")
    assert "second interrupt: stopping the undo" in err
    assert job.status == JobStatus.CANCELLED and "NOT UNDONE (put it back by hand): Stop Central on central1" in job.error
    assert "NOT UNDONE" in out
