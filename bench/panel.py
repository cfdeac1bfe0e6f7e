"""The panel under load: gunicorn serving 20 clusters of 10 members to 10 concurrent clients."""

from __future__ import annotations

import http.client
import os
import random
import runpy
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from hacontrol.ha.models import Cluster, Member

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 10
CLUSTERS, MEMBERS = 20, 10
STATES = ["active", "standby", "standby", "offline", "standby"]


def populate() -> list[int]:
    Cluster.objects.filter(name__startswith="panel-").delete()
    ids = []
    for c in range(CLUSTERS):
        cluster = Cluster.objects.create(name=f"panel-{c:02}", dns_name=f"central{c}.example.com")
        Member.objects.bulk_create(
            Member(cluster=cluster, name=f"central{m}", priority=10 * (m + 1), address=f"192.0.2.{m + 1}",
                   state=STATES[m % len(STATES)], version="11.1.0", state_reason="" if m % 5 != 3 else "service stopped")
            for m in range(MEMBERS)
        )
        ids.append(cluster.pk)
    return ids


def queries_per_request(user) -> list[tuple[int, int, int]]:
    client = Client()
    client.force_login(user)
    rows = []
    for size in (1, 10, 200):
        Cluster.objects.filter(name=f"queries-{size}").delete()
        cluster = Cluster.objects.create(name=f"queries-{size}")
        Member.objects.bulk_create(Member(cluster=cluster, name=f"c{i}", priority=10 * (i + 1),
                                          address=f"10.0.{i // 250}.{i % 250 + 1}") for i in range(size))
        counts = []
        for headers, suffix in (({}, ""), ({"HX-Request": "true"}, "?fragment=members")):
            with CaptureQueriesContext(connection) as captured:
                client.get(cluster.get_absolute_url() + suffix, headers=headers)
            counts.append(len(captured))
        rows.append((size, *counts))
    return rows


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by gunicorn's workers and the PostgreSQL backends serving them: what
    the panel costs, however busy the machine is with other work."""
    workers = psutil.Process(pid).children()
    backends = [p for p in psutil.process_iter(["name", "cmdline"])
                if p.info["name"] == "postgres" and "hacontrol_bench" in " ".join(p.info["cmdline"] or [])]
    total = 0.0
    for process in workers + backends:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load(port: int, cookie: str, paths: list[tuple[str, dict]], duration: float):
    results: list[tuple[str, float, int]] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.perf_counter() < stop_at:
            path, headers = random.choice(paths)
            started = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie, **headers})
            response = conn.getresponse()
            response.read()
            mine.append(("fragment" if headers else "page", time.perf_counter() - started, response.status))
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def wrk_load(port: int, cookie: str, pages: list[str], fragments: list[str], duration: float):
    """Two wrk processes at once, half the clients each: full pages, and htmx fragments."""
    script = Path(__file__).with_name("load.lua")
    runs = []
    for kind, paths, extra in (("page", pages, []), ("fragment", fragments, ["-H", "HX-Request: true"])):
        command = ["wrk", "-t1", f"-c{CLIENTS // 2}", f"-d{max(1, round(duration))}s", "-s", str(script), "-H", f"Cookie: {cookie}",
                   *extra, f"http://127.0.0.1:{port}", "--", ",".join(paths)]
        runs.append((kind, subprocess.Popen(command, stdout=subprocess.PIPE, text=True)))
    rows = []
    for kind, process in runs:
        line = next(out for out in process.communicate()[0].splitlines() if out.startswith("RESULT"))
        requests, errors, median, p95, seconds, kinds = line.split()[1:]
        described = ", ".join(k for k in kinds.split(",") if not k.endswith("=0"))
        rows.append((kind, int(requests) / float(seconds), float(median), float(p95),
                     f"{errors} ({described})" if described else errors))
    return rows




def summarize(results, duration: float):
    rows = []
    for kind in ("page", "fragment"):
        latencies = [r[1] for r in results if r[0] == kind]
        errors = sum(1 for r in results if r[0] == kind and r[2] != 200)
        rows.append((kind, len(latencies) / duration, statistics.median(latencies) * 1000,
                     percentile(latencies, 0.95) * 1000, errors))
    return rows


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(duration: float) -> None:
    ids = populate()
    User = get_user_model()
    user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser("bench-admin", "", "x")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    query_rows = queries_per_request(user)
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}"
    port = free_port()
    ready = Path(tempfile.mkdtemp(prefix="hacontrol-bench-gunicorn-"))
    workers = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"]
    env = {**os.environ, "DEBUG": "0", "SECURE_COOKIES": "0", "ALLOWED_HOSTS": "127.0.0.1", "ACCESS_LOG": "",
           "BENCH_READY_DIR": str(ready),
           # Static files are collected only for deployments; whitenoise's warning says so, per worker.
           "PYTHONWARNINGS": "ignore:No directory at:UserWarning"}
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "hacontrol.wsgi", "--config",
         str(ROOT / "bench" / "gunicorn_ready.py"), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env)
    try:
        # Every worker booted (on a busy machine that takes seconds), not just the first.
        deadline = time.monotonic() + 60
        while len(list(ready.iterdir())) < workers:
            if gunicorn.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start its {workers} workers")
            time.sleep(0.1)
        pages = [f"/clusters/{pk}/" for pk in ids]
        fragments = [f"/clusters/{pk}/?fragment=members" for pk in ids]
        if shutil.which("wrk"):
            tool = "wrk"
            wrk_load(port, cookie, pages, fragments, 2.0)  # warm-up: database connections, templates
            before = cpu_seconds(gunicorn.pid)
            rows = wrk_load(port, cookie, pages, fragments, duration)
            cpu = (cpu_seconds(gunicorn.pid) - before) / max(1, sum(rate * duration for _, rate, *_ in rows))
        else:
            tool = "Python threads (install wrk for a lighter load generator)"
            paths = [(p, {}) for p in pages] + [(f, {"HX-Request": "true"}) for f in fragments]
            load(port, cookie, paths, 2.0)
            before = cpu_seconds(gunicorn.pid)
            rows = summarize(load(port, cookie, paths, duration), duration)
            cpu = (cpu_seconds(gunicorn.pid) - before) / max(1, sum(rate * duration for _, rate, *_ in rows))
    finally:
        gunicorn.terminate()
        gunicorn.wait(10)
        shutil.rmtree(ready, ignore_errors=True)
    print(f"\n## Panel: gunicorn ({workers} workers x 1 thread, gunicorn.conf.py), {CLUSTERS} clusters x {MEMBERS} members, "
          f"{CLIENTS} concurrent clients ({CLIENTS // 2} on pages, {CLIENTS // 2} on fragments) for {duration:g} s, "
          f"load from {tool}")
    print("| request | requests/s | median | p95 | errors |")
    print("|---|---|---|---|---|")
    for kind, rate, median, p95, errors in rows:
        print(f"| {kind} | {rate:.0f} | {median:.1f} ms | {p95:.1f} ms | {errors} |")
    print(f"\nCPU per request, pages and fragments together (gunicorn's workers and their PostgreSQL backends): "
          f"{cpu * 1000:.1f} ms")
    print("\n## SQL queries per request (members in the cluster -> queries)")
    print("| members | panel page | members fragment |")
    print("|---|---|---|")
    for size, page, fragment in query_rows:
        print(f"| {size} | {page} | {fragment} |")
