"""The background worker: runs queued jobs (django-tasks' db_worker, jobs in a thread pool), keeps
the queue honest, and looks at every member of every cluster every HACONTROL_PROBE_INTERVAL s.

Several workers may run, on several machines: each job runs once (claimed in the database), and
exactly one worker holds the monitor's lease and probes; when it dies another takes over within
one probe interval.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import InterfaceError, OperationalError, close_old_connections, connection, connections
from django.db.models import F, Q
from django.db.models.functions import Now

from hacontrol.ha import executor
from hacontrol.ha.jobs import tidy_queue
from hacontrol.ha.models import Cluster, Lease, StateChange
from hacontrol.ha.notify import drain
from hacontrol.ha.probe import check_dns, probe_clusters
from hacontrol.ha.runner import WORKER_ID

logger = logging.getLogger("hacontrol.worker")
MONITOR = "monitor"
# Rounds between two prunings of the state history.
PRUNE_EVERY = 240


def hold(name: str, seconds: float) -> bool:
    """Take or renew the named lease for ``seconds``; True when this process holds it."""
    Lease.objects.get_or_create(name=name)
    taken = Lease.objects.filter(Q(owner=WORKER_ID) | Q(expires__isnull=True) | Q(expires__lt=Now()), name=name).update(
        owner=WORKER_ID, expires=Now() + timedelta(seconds=seconds))
    return bool(taken)


def release(name: str) -> None:
    Lease.objects.filter(name=name, owner=WORKER_ID).update(owner="", expires=None)


class Monitor(threading.Thread):
    """Probes every cluster while it holds the monitor lease; tidies the job queue either way."""

    def __init__(self) -> None:
        super().__init__(name="state-monitor", daemon=True)
        self.stopping = threading.Event()
        self.rounds = 0

    def run(self) -> None:
        interval = settings.HACONTROL_PROBE_INTERVAL
        # The queue is tidied more often than hosts are probed: a dead process's job is recovered
        # soon after its lease runs out, whatever the probe interval.
        tick = max(0.5, min(interval, settings.HACONTROL_JOB_LEASE / 2))
        renewer = threading.Thread(target=self._renew, name="monitor-lease", daemon=True)
        renewer.start()
        last_round = -float(interval)
        while not self.stopping.is_set():
            close_old_connections()
            try:
                tidy_queue()
                if time.monotonic() - last_round >= interval and hold(MONITOR, interval):
                    last_round = time.monotonic()
                    self.probe_round()
            except Exception:  # noqa: BLE001 - the monitor outlives any one failed round
                logger.exception("a monitor round failed")
            self.stopping.wait(tick)
        connection.close()

    def _renew(self) -> None:
        """Keep the lease while this process lives, however long a round takes, so another
        worker takes over within one interval of this one dying, and never before."""
        interval = settings.HACONTROL_PROBE_INTERVAL
        while not self.stopping.wait(max(0.5, interval / 3)):
            try:
                Lease.objects.filter(name=MONITOR, owner=WORKER_ID).update(expires=Now() + timedelta(seconds=interval))
            except Exception:  # noqa: BLE001 - the database may be restarting; the next try will do
                connection.close()
        try:
            release(MONITOR)
        except Exception:  # noqa: BLE001 - the lease then simply expires
            pass
        finally:
            connection.close()

    def probe_round(self) -> None:
        if self.rounds % PRUNE_EVERY == 0:
            StateChange.objects.prune()
        self.rounds += 1
        clusters = list(Cluster.objects.all())
        started = time.monotonic()
        probe_clusters(clusters)
        Lease.objects.filter(name=MONITOR).update(rounds=F("rounds") + 1, last_round_finished=Now(),
                                                  last_round_seconds=time.monotonic() - started)
        for cluster in clusters:
            if cluster.dns_name:
                try:
                    check_dns(cluster)
                except Exception:  # noqa: BLE001 - one cluster's DNS never stops the others
                    logger.exception("the DNS check of %s failed", cluster.name)


def run_worker() -> None:
    """Run until SIGTERM/SIGINT: the task worker in this thread, the monitor beside it. A database
    that goes away (restarted, failed over) is waited for, not died of."""
    executor.install(settings.HACONTROL_WORKER_JOBS)
    monitor = Monitor()
    monitor.start()
    try:
        while True:
            try:
                call_command("db_worker", "--no-reload", "--interval", "0.5", "--worker-id", WORKER_ID[:64])
                return  # stopped by a signal
            except (OperationalError, InterfaceError):
                logger.warning("the database went away; the worker waits for it")
                connections.close_all()
                time.sleep(1)
    finally:
        monitor.stopping.set()
        executor.shutdown(settings.HACONTROL_WORKER_GRACE)
        drain()
        monitor.join(5)
