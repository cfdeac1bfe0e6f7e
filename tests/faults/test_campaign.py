"""A fault campaign: the procedures run again and again against the simulated hosts, each run with
one fault injected at a random step boundary, and after each run the invariants are checked:

- every host's preferences.cfg is byte for byte as before the run, or as the procedure intends;
  its service state is as before or as intended;
- no job is left active, and the cluster accepts a new job;
- the audit log holds the run's end.

Seeded and repeatable: HACONTROL_CAMPAIGN_SEED (default 2026) and HACONTROL_CAMPAIGN_RUNS (default
100; more for a longer campaign). It prints ``runs, faults, invariant violations``; 0 violations
pass. Run alone with ``pytest -m campaign -s``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection

from hacontrol.ha import actions
from hacontrol.ha.errors import Refused
from hacontrol.ha.models import ACTIVE_JOB_STATUSES, AuditEvent, Job, JobKind, JobStatus, Member
from hacontrol.ha.procedures import REGISTRY
from hacontrol.ha.procedures.base import JobContext
from hacontrol.ha.runner import JobRunner
from hacontrol.lib.prefs import Preferences
from hacontrol.remote import close_all
from tests.conftest import ROOT, add_member, linux_member_values, start_worker, stop_worker, worker_environment

pytestmark = pytest.mark.campaign

SEED = int(os.environ.get("HACONTROL_CAMPAIGN_SEED", "2026"))
RUNS = int(os.environ.get("HACONTROL_CAMPAIGN_RUNS", "100"))
FAULTS = ["host killed", "sshd stopped", "service will not start", "preferences.cfg unwritable",
          "worker killed", "CLI interrupted", "PostgreSQL restarted", "host stops answering"]
# Seconds a transient fault lasts before the host comes back (the undo waits it out).
OUTAGE = 1.5


@dataclass
class HostState:
    preferences: bytes
    running: bool

    @classmethod
    def of(cls, host) -> HostState:
        return cls(host.preferences.read_bytes(), host.central.running)


@dataclass
class Run:
    number: int
    procedure: str
    fault: str
    boundary: int
    violations: list[str] = field(default_factory=list)


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        time.sleep(0.05)


class Campaign:
    def __init__(self, cluster, hosts, client_key, micetro, tmp_path):
        self.cluster, self.client_key, self.micetro, self.tmp_path = cluster, client_key, micetro, tmp_path
        self.primary, self.spare = hosts[0], hosts[1]
        self.random = random.Random(SEED)

    # The procedures ----------------------------------------------------------------------------

    def member(self) -> Member | None:
        return self.cluster.members.filter(name="central2").first()

    def plan(self) -> tuple[str, Job, dict[str, HostState]]:
        """The next procedure on the spare host, its job, and what each host should end as."""
        before = HostState.of(self.spare)
        member = self.member()
        if member is None:
            job = actions.add_member("campaign", self.cluster, name="central2", registered=True,
                                     **linux_member_values(self.spare, self.client_key))
            prefs = Preferences.parse(self.primary.preferences.read_bytes())
            prefs.set("ClusterMemberName", "central2")
            return "add failover", job, {"before": before, "after": HostState(prefs.to_bytes(), True)}
        if self.random.random() < 0.5:
            job = actions.remove_member("campaign", member, stop=True, unregistered=True)
            prefs = Preferences.parse(before.preferences)
            prefs.remove("ClusterMemberName")
            return "remove member", job, {"before": before, "after": HostState(prefs.to_bytes(), False)}
        interval = self.random.choice([5, 6])
        job = actions.tune("campaign", self.cluster, interval=interval, max_downtime=20)
        prefs = Preferences.parse(before.preferences)
        prefs.set("HeartbeatInterval", str(interval))
        prefs.set("HeartbeatMaxAllowedDowntime", "20")
        return f"tune to {interval}", job, {"before": before, "after": HostState(prefs.to_bytes(), True)}

    # Running one job with one fault ----------------------------------------------------------

    def run(self, number: int) -> Run:
        procedure, job, expected = self.plan()
        fault = self.random.choice(FAULTS)
        steps = len(planned_steps(job))
        run = Run(number, procedure, fault, self.random.randint(1, max(1, steps)))
        if fault == "worker killed":
            self.run_in_worker(job, run)
        elif fault == "CLI interrupted":
            self.run_in_cli(job, run)
        else:
            self.run_here(job, run)
        self.check(job, run, expected)
        return run

    def at_boundary(self, job: Job, boundary: int, timeout: float = 60) -> bool:
        """Wait until step ``boundary`` starts (or the job ends first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.steps.filter(position=boundary).exclude(status="pending").exists():
                return True
            if not job.is_active:
                return False
            time.sleep(0.01)
        return False

    def run_here(self, job: Job, run: Run) -> None:
        runner = threading.Thread(target=lambda: JobRunner(job.pk).run(), daemon=True)
        runner.start()
        if self.at_boundary(job, run.boundary):
            self.inject(run.fault)
        runner.join(120)
        assert not runner.is_alive(), f"run {run.number}: the job never ended"

    def run_in_worker(self, job: Job, run: Run) -> None:
        victim = start_worker(log=self.tmp_path / "victim.log")
        try:
            from hacontrol.ha.tasks import run_job_task

            run_job_task.enqueue(job.pk)
            reached = self.at_boundary(job, run.boundary)
        finally:
            victim.send_signal(signal.SIGKILL)
            victim.wait()
        if reached:
            wait_for(lambda: not Job.objects.get(pk=job.pk).is_active, 60, f"run {run.number}: the recovery")

    def run_in_cli(self, job: Job, run: Run) -> None:
        Job.objects.filter(pk=job.pk).delete()  # the CLI makes its own job, the same way
        command = {"add failover": ["member", "add", self.cluster.name, "central2", "--address", self.spare.address,
                                    "--port", str(self.spare.port), "--key-file", str(self.client_key),
                                    "--host-key", self.spare.host_key_line, "--registered"],
                   "remove member": ["member", "remove", self.cluster.name, "central2", "--unregistered"]}
        argv = command.get(run.procedure) or ["tune", self.cluster.name, "--interval", run.procedure.split()[-1],
                                              "--max-downtime", "20"]
        if argv[0] == "member" and argv[1] == "add":
            Member.objects.filter(cluster=self.cluster, name="central2").delete()
        cli = subprocess.Popen([sys.executable, "manage.py", "ha", *argv], cwd=ROOT, env=worker_environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: Job.objects.filter(cluster=self.cluster, status="running").exists(), 30, "the CLI's job")
            job.pk = Job.objects.get(cluster=self.cluster, status="running").pk
            if self.at_boundary(job, run.boundary):
                cli.send_signal(signal.SIGINT)
            cli.wait(90)
        finally:
            if cli.poll() is None:
                cli.kill()

    def inject(self, fault: str) -> None:
        host = self.spare
        if fault == "host killed":
            running = host.kill()
            time.sleep(OUTAGE)
            host.reboot(central=running)
        elif fault == "sshd stopped":
            host.stop()
            time.sleep(OUTAGE)
            host.start()
        elif fault == "service will not start":
            host.fault("fail-start-once")
        elif fault == "preferences.cfg unwritable":
            subprocess.run(["chattr", "+i", str(host.data)], check=True)
            time.sleep(OUTAGE)
            subprocess.run(["chattr", "-i", str(host.data)], check=True)
        elif fault == "PostgreSQL restarted":
            restart_postgresql()
        elif fault == "host stops answering":
            host.freeze()
            time.sleep(OUTAGE)
            host.freeze(False)

    # The invariants ----------------------------------------------------------------------------

    def check(self, job: Job, run: Run, expected: dict[str, HostState]) -> None:
        self.spare.fault("fail-start-once", on=False)
        job.refresh_from_db()
        now = HostState.of(self.spare)
        if now.preferences not in (expected["before"].preferences, expected["after"].preferences):
            run.violations.append(f"preferences.cfg is neither as before nor as intended ({job.status})")
        if now.running not in (expected["before"].running, expected["after"].running):
            run.violations.append(f"Central {'runs' if now.running else 'is stopped'}, neither as before nor as intended")
        elif (now.preferences, now.running) not in ((expected["before"].preferences, expected["before"].running),
                                                     (expected["after"].preferences, expected["after"].running)):
            run.violations.append("the file and the service disagree (one as before, the other as intended)")
        status = self.spare.central.central_status()
        named = Preferences.parse(now.preferences).get("ClusterMemberName")
        if status is not None and status.get("name") != named:
            run.violations.append(f"Central runs as {status.get('name')!r} while its file names {named!r}")
        if Job.objects.filter(cluster=self.cluster, status__in=ACTIVE_JOB_STATUSES).exists():
            run.violations.append("a job is still active")
        try:
            probe = actions.tune("campaign", self.cluster, interval=5, max_downtime=20)
        except Refused as refusal:
            run.violations.append(f"the cluster refuses a new job: {refusal}")
        else:
            actions.cancel_job("campaign", probe)
        if not AuditEvent.objects.filter(detail__startswith=f"job #{job.pk} ").exists():
            run.violations.append(f"no audit event of job #{job.pk}'s end")
        self.settle(job)

    def settle(self, job: Job) -> None:
        close_all()


def planned_steps(job: Job) -> list:
    """The steps the job will walk, built as its runner builds them."""
    return REGISTRY[JobKind(job.kind)].build(JobContext(job, log=lambda line: None))


def restart_postgresql() -> None:
    from pgserver.postgres_server import POSTGRES_BIN_PATH

    data_dir = Path(connection.settings_dict["HOST"])
    if not (data_dir / "postmaster.pid").exists():
        return
    subprocess.run(["runuser", "-u", data_dir.owner(), "--", str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir),
                    "restart", "-m", "fast", "-w", "-l", str(data_dir / "restart.log")], capture_output=True, check=True)
    connection.close()


def test_the_fault_campaign_breaks_no_invariant(cluster, ssh_hosts, client_key, micetro, tmp_path, settings, capsys):
    settings.HACONTROL_COMMAND_TIMEOUT = 3
    micetro.register("central2", 20)
    assert add_member(cluster, ssh_hosts[0], client_key, "central1", micetro).status == JobStatus.SUCCEEDED
    campaign = Campaign(cluster, ssh_hosts, client_key, micetro, tmp_path)
    survivor = start_worker(log=tmp_path / "survivor.log")
    runs: list[Run] = []
    started = time.monotonic()
    try:
        for number in range(1, RUNS + 1):
            runs.append(campaign.run(number))
    finally:
        stop_worker(survivor)
    faults = Counter(run.fault for run in runs)
    violations = [f"run {r.number} ({r.procedure}, {r.fault} at step {r.boundary}): {v}" for r in runs for v in r.violations]
    with capsys.disabled():
        print(f"\nfault campaign (seed {SEED}): {len(runs)} runs, {sum(faults.values())} faults, "
              f"{len(violations)} invariant violations, {time.monotonic() - started:.0f} s")
        for name, count in sorted(faults.items()):
            print(f"  {name}: {count}")
        for line in violations:
            print(f"  {line}")
    assert not violations
