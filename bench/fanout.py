"""Probe fan-out against ansible-core, and the procedure's own overhead, on real SSH hosts."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings

from hacontrol.ha.jobs import create_job, run_job
from hacontrol.ha.models import Cluster, Member
from hacontrol.ha.probe import observe, probe_cluster
from hacontrol.remote import close_all, connect
from hacontrol.remote.ssh import SSHRemote
from tests.hosts.ssh_hosts import make_client_key, make_hosts

ROOT = Path(__file__).resolve().parent.parent
ANSIBLE_VENV = ROOT / "bench" / ".ansible-venv"
ANSIBLE_VERSION = "ansible-core>=2.19,<2.20"


def ansible_binary() -> Path:
    """ansible-core from PyPI in a venv of its own (installed on first use)."""
    binary = ANSIBLE_VENV / "bin" / "ansible"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True)
        subprocess.run([str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", ANSIBLE_VERSION], check=True)
    return binary


def ansible_seconds(hosts, key: Path, workdir: Path) -> float:
    """Wall time of `ansible all -m command -a 'systemctl is-active mmcentral' -f N`, cold."""
    inventory = workdir / "inventory.ini"
    inventory.write_text("[central]\n" + "".join(
        f"{h.address} ansible_port={h.port} ansible_user=root ansible_ssh_private_key_file={key}\n" for h in hosts))
    control = Path(tempfile.mkdtemp(prefix="cp-", dir=workdir))
    env = {
        **os.environ, "ANSIBLE_HOME": str(workdir / "ansible-home"), "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control), "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3", "ANSIBLE_SSH_ARGS": "-o UserKnownHostsFile=/dev/null "
        "-o ControlMaster=auto -o ControlPersist=60s", "ANSIBLE_NOCOLOR": "1",
    }
    started = time.perf_counter()
    result = subprocess.run([str(ansible_binary()), "all", "-i", str(inventory), "-m", "command", "-a",
                             "systemctl is-active mmcentral", "-f", str(len(hosts))],
                            env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    ok = result.stdout.count("CHANGED") + result.stdout.count("SUCCESS")
    if ok != len(hosts):
        print(f"  ansible: only {ok}/{len(hosts)} hosts answered:\n{result.stdout[-800:]}{result.stderr[-800:]}")
    subprocess.run(["pkill", "-f", str(control)], capture_output=True)
    return seconds


def make_cluster(name: str, hosts, key: Path) -> Cluster:
    Cluster.objects.filter(name=name).delete()
    cluster = Cluster.objects.create(name=name)
    Member.objects.bulk_create(
        Member(cluster=cluster, name=f"c{i}", priority=10 * (i + 1), address=h.address, port=h.port,
               username="root", private_key=key.read_text(), host_key=h.host_key_line)
        for i, h in enumerate(hosts)
    )
    return cluster


def median_of(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(sizes: list[int], *, with_ansible: bool, with_fanout: bool, with_procedure: bool) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="hacontrol-bench-"))
    key = make_client_key(workdir)
    started = time.perf_counter()
    hosts = make_hosts(workdir, max(sizes), first=1, network="127.0.1.")
    print(f"\nstarted {len(hosts)} OpenSSH test hosts in {time.perf_counter() - started:.1f} s")
    try:
        for index, host in enumerate(hosts):
            host.preferences.write_text(host.preferences.read_text() + f'<ClusterMemberName value="c{index}"/>\n')
        if with_fanout:
            fanout_table(sizes, hosts, key, workdir, with_ansible)
        if with_procedure:
            procedure_overhead(hosts[:2], key)
    finally:
        close_all()
        for host in hosts:
            host.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def fanout_table(sizes, hosts, key, workdir, with_ansible) -> None:
    print("\n## Probe fan-out: one full state refresh of N members (status, clock, version, "
          "preferences.cfg; states saved)")
    print("| N | hacontrol cold | hacontrol warm | one command round trip | warm / round trip "
          "| this machine's floor | warm / floor | ansible-core cold | ansible / hacontrol cold |")
    print("|---|---|---|---|---|---|---|---|---|")
    single = connect(make_cluster("bench-1", hosts[:1], key).members.get().connection_settings())
    round_trip = median_of(lambda: single.run("systemctl is-active mmcentral"), 30)
    for size in sizes:
        cluster = make_cluster(f"bench-{size}", hosts[:size], key)
        settings.HACONTROL_PROBE_CONCURRENCY = size  # like ansible's -f N
        close_all()
        started = time.perf_counter()
        probe_cluster(cluster)
        cold = time.perf_counter() - started
        states = set(cluster.members.values_list("state", flat=True))
        warm = median_of(lambda: probe_cluster(cluster), 7)
        # Every test host runs on this machine's few cores: the work of N hosts cannot finish
        # faster than doing it one host after the other, divided by the cores.
        targets = [m.connection_settings() for m in cluster.members.all()]
        floor = median_of(lambda: [observe(target) for target in targets], 3) / (os.cpu_count() or 1)
        ansible = ansible_seconds(hosts[:size], key, workdir) if with_ansible else float("nan")
        print(f"| {size} | {cold * 1000:.0f} ms | {warm * 1000:.0f} ms | {round_trip * 1000:.1f} ms | "
              f"{warm / round_trip:.1f}x | {floor * 1000:.0f} ms | {warm / floor:.2f}x | {ansible * 1000:.0f} ms | "
              f"{ansible / cold:.1f}x |")
        assert states <= {"active", "standby"}, states


def procedure_overhead(hosts, key) -> None:
    """An add-failover job's wall time minus the time spent waiting on the hosts."""
    waited = [0.0]
    originals = {}
    for name in ("run", "read_file", "write_file", "upload", "__init__"):
        original = getattr(SSHRemote, name)
        originals[name] = original

        def timed(*args, _original=original, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                waited[0] += time.perf_counter() - started

        setattr(SSHRemote, name, timed)
    try:
        rows = []
        for _ in range(5):
            for host in hosts:
                host.reset()
            Cluster.objects.filter(name="bench-procedure").delete()
            cluster = Cluster.objects.create(name="bench-procedure")
            primary = Member.objects.create(cluster=cluster, name="p", priority=10, address=hosts[0].address,
                                            port=hosts[0].port, private_key=key.read_text(), host_key=hosts[0].host_key_line)
            run_job(create_job("add", cluster, "bench", member=primary).pk)
            failover = Member.objects.create(cluster=cluster, name="f", priority=20, address=hosts[1].address,
                                             port=hosts[1].port, private_key=key.read_text(), host_key=hosts[1].host_key_line)
            close_all()
            waited[0] = 0.0
            started = time.perf_counter()
            status = run_job(create_job("add", cluster, "bench", member=failover).pk)
            wall = time.perf_counter() - started
            rows.append((wall, waited[0], status))
        wall, hosts_time, status = sorted(rows)[len(rows) // 2]
        print("\n## Procedure overhead: add a failover (7 steps, cold connections), median of 5")
        print("| job wall time | waiting on hosts | hacontrol's own overhead | status |")
        print("|---|---|---|---|")
        print(f"| {wall * 1000:.0f} ms | {hosts_time * 1000:.0f} ms | {(wall - hosts_time) * 1000:.0f} ms | {status} |")
    finally:
        for name, original in originals.items():
            setattr(SSHRemote, name, original)
