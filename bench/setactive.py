"""Set Active on a 3-member cluster of simulated Centrals (HeartbeatInterval 5,
HeartbeatMaxAllowedDowntime 20: the vendor's shortest), timed beside its floor.

Central fails over only once the Active member's last heartbeat is older than
HeartbeatMaxAllowedDowntime, and its successor notices at its next heartbeat: after the Active
member stops, the switch can take up to HeartbeatMaxAllowedDowntime + HeartbeatInterval, and
hacontrol (which cannot read Central's database) must wait that long before it can say so. That sum
is the floor."""

from __future__ import annotations

import statistics
import time

from bench.lab import Lab
from hacontrol.ha import actions
from hacontrol.ha.jobs import run_here
from hacontrol.ha.models import Cluster, JobStatus
from hacontrol.remote import close_all

INTERVAL, MAX_DOWNTIME = 5, 20  # tests/hosts/ssh_hosts.INITIAL_PREFERENCES
FLOOR = MAX_DOWNTIME + INTERVAL
NAMES = ("central1", "central2", "central3")


def build(lab: Lab) -> Cluster | None:
    """central1 (10), central2 (20), central3 (30), registered in Micetro beforehand, added by
    hacontrol's own jobs; central1 ends Active."""
    hosts = lab.hosts[:3]
    lab.fresh(hosts)
    micetro = lab.micetro()
    Cluster.objects.filter(name="bench-setactive").delete()
    cluster = actions.create_cluster("bench", name="bench-setactive")
    for index, (name, host) in enumerate(zip(NAMES, hosts, strict=True)):
        micetro.register(name, 10 * (index + 1))
        job = actions.add_member("bench", cluster, name=name, priority=10 * (index + 1), registered=True,
                                 **lab.member_values(host))
        if run_here(job) != JobStatus.SUCCEEDED:
            job.refresh_from_db()
            print(f"\n(Set Active not measured: adding {name} failed: {job.error})")
            return None
    return cluster


def phases(job) -> dict[str, float]:
    """Seconds per kind of step: the checks, the stops, the wait for Central, the starts."""
    spent = {"check": 0.0, "stop": 0.0, "wait": 0.0, "start": 0.0}
    for step in job.steps.all():
        seconds = (step.finished - step.started).total_seconds() if step.finished and step.started else 0.0
        kind = ("stop" if step.name.startswith("Stop") else "start" if step.name.startswith("Start")
                else "wait" if step.name.startswith("Wait") else "check")
        spent[kind] += seconds
    return spent


def failover_times(job, events: list[tuple[float, str]], since: float) -> tuple[float | None, float | None]:
    """Seconds from the Active member's stop to Central's failover (the simulator's database log),
    and to the moment hacontrol's wait for it ended (the job's step)."""
    stopped = next((t for t, text in events if t >= since and text.endswith(" stopped")), None)
    switched = next((t for t, text in events if t >= since and text.startswith("failover ")), None)
    wait = next((step for step in job.steps.all() if step.name.startswith("Wait")), None)
    if stopped is None:
        return None, None
    seen = wait.finished.timestamp() - stopped if wait is not None and wait.finished else None
    return (switched - stopped if switched is not None else None), seen


def run(lab: Lab, runs: int = 3) -> None:
    cluster = build(lab)
    if cluster is None:
        return
    micetro = lab.micetro()
    rows = []
    # To the last member (two stopped: the Active one and the one Central would choose first), then
    # back to the first (only the Active one stopped), and so on.
    for index in range(runs):
        target = NAMES[2] if index % 2 == 0 else NAMES[0]
        close_all()
        job = actions.switchover("bench", cluster.members.get(name=target))
        since = time.time()
        started = time.perf_counter()
        status = run_here(job)
        wall = time.perf_counter() - started
        job.refresh_from_db()
        switched, seen = failover_times(job, micetro.events(), since)
        right = micetro.active() == target
        rows.append((target, len(job.params.get("stop", [])), wall, phases(job), switched, seen, status, right,
                     job.error))
    close_all()
    print(f"\n## Set Active on a 3-member cluster (HeartbeatInterval {INTERVAL}, HeartbeatMaxAllowedDowntime "
          f"{MAX_DOWNTIME}): floor {MAX_DOWNTIME} + {INTERVAL} = {FLOOR} s, target within the floor + 5 s")
    print("| run | to | members stopped | job wall time | over the floor | checks | stops | wait for Central "
          "| starts | between steps | Central failed over (after the stop) | hacontrol saw it (after the stop) "
          "| status | truly Active |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for number, (target, stopped, wall, spent, switched, seen, status, right, error) in enumerate(rows, 1):
        between = wall - sum(spent.values())
        print(f"| {number} | {target} | {stopped} | {wall:.1f} s | {wall - FLOOR:+.1f} s | {spent['check']:.1f} s | "
              f"{spent['stop']:.1f} s | {spent['wait']:.1f} s | {spent['start']:.1f} s | {between:.1f} s | "
              f"{_seconds(switched)} | {_seconds(seen)} | {status} | {'yes' if right else 'NO'} |"
              + (f" {error}" if error else ""))
    walls = [wall for _, _, wall, *_ in rows]
    print(f"\nmedian {statistics.median(walls):.1f} s over {len(walls)} runs; floor + 5 s = {FLOOR + 5} s")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"
