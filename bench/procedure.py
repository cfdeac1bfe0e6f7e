"""An add-failover job's own overhead: its wall time minus the time it spends waiting on hosts
(every SSH connection, command and file transfer, overlapping waits counted once)."""

from __future__ import annotations

import statistics
import threading
import time

from bench.lab import Lab
from hacontrol.ha import actions
from hacontrol.ha.jobs import run_here
from hacontrol.ha.models import Cluster, JobStatus, Member
from hacontrol.remote import close_all
from hacontrol.remote.ssh import SSHRemote

# Every way a job waits on a Linux host: connecting, a command (report, service, control and
# run_batch all end in run_bytes), and SFTP reads and writes.
TIMED = ("__init__", "run_bytes", "read_file", "write_file")


class HostClock:
    """Records the intervals spent inside SSHRemote's host operations, from any thread."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self.lock = threading.Lock()
        self.originals = {name: getattr(SSHRemote, name) for name in TIMED}

    def __enter__(self) -> HostClock:
        for name, original in self.originals.items():
            def timed(*args, _original=original, **kwargs):
                started = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    with self.lock:
                        self.intervals.append((started, time.perf_counter()))

            setattr(SSHRemote, name, timed)
        return self

    def __exit__(self, *exc) -> None:
        for name, original in self.originals.items():
            setattr(SSHRemote, name, original)

    def waited(self, start: float, end: float) -> tuple[float, int]:
        """Seconds within [start, end] covered by at least one host operation, and how many calls."""
        spans = sorted((max(a, start), min(b, end)) for a, b in self.intervals if b > start and a < end)
        total, reach = 0.0, start
        for a, b in spans:
            if b > reach:
                total += b - max(a, reach)
                reach = b
        return total, len(spans)


def run(lab: Lab, repeat: int = 5) -> None:
    primary_host, failover_host = lab.hosts[:2]
    lab.fresh([primary_host, failover_host])
    micetro = lab.micetro()
    micetro.register("p", 10)
    micetro.register("f", 20)
    Cluster.objects.filter(name="bench-procedure").delete()
    cluster = actions.create_cluster("bench", name="bench-procedure")
    job = actions.add_member("bench", cluster, name="p", priority=10, registered=True,
                             **lab.member_values(primary_host))
    status = run_here(job)
    if status != JobStatus.SUCCEEDED:
        job.refresh_from_db()
        print(f"\n(procedure overhead not measured: making the primary ended {status}: {job.error})")
        return
    rows = []
    with HostClock() as clock:
        for _ in range(repeat):
            failover_host.reset()
            close_all()
            job = actions.add_member("bench", cluster, name="f", priority=20, registered=True,
                                     **lab.member_values(failover_host))
            started = time.perf_counter()
            status = run_here(job)
            ended = time.perf_counter()
            waited, calls = clock.waited(started, ended)
            job.refresh_from_db()
            rows.append((ended - started, waited, calls, job.steps.count(), status, job.error))
            # Ready for the next run: forget the member (the host is reset above).
            Member.objects.filter(cluster=cluster, name="f").delete()
    close_all()
    wall, waited, calls, steps, status, error = sorted(rows)[len(rows) // 2]
    print(f"\n## Procedure overhead: add a failover ({steps} steps, registered beforehand, cold connections), "
          f"median of {repeat}")
    print("| job wall time | waiting on hosts | hacontrol's own overhead | host calls | status |")
    print("|---|---|---|---|---|")
    print(f"| {wall * 1000:.0f} ms | {waited * 1000:.0f} ms | {(wall - waited) * 1000:.0f} ms | {calls} | {status} |")
    overheads = sorted((w - h) * 1000 for w, h, *_ in rows)
    print(f"\nown overhead over the {repeat} runs: " + ", ".join(f"{o:.0f}" for o in overheads) + " ms"
          f" (median {statistics.median(overheads):.0f} ms)" + (f"; failed: {error}" if error else ""))
