"""Probe fan-out: one full state refresh of N members against ansible-core's ad-hoc command, and
against the floor this machine sets when every host shares its cores."""

from __future__ import annotations

import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from bench.lab import Lab
from hacontrol.ha.models import Member
from hacontrol.ha.probe import observe, probe_clusters
from hacontrol.remote import borrow, close_all

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


def ansible_seconds(lab: Lab, size: int) -> float:
    """Wall time of `ansible all -m command -a 'systemctl is-active mmcentral' -f N`, cold."""
    hosts, workdir = lab.hosts[:size], lab.workdir
    inventory = workdir / "inventory.ini"
    inventory.write_text("[central]\n" + "".join(
        f"{h.address} ansible_port={h.port} ansible_user=root ansible_ssh_private_key_file={lab.key}\n" for h in hosts))
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
    # The ControlPersist masters ansible left behind, each asked to exit through its own socket.
    for socket in control.iterdir():
        subprocess.run(["ssh", "-O", "exit", "-o", f"ControlPath={socket}", "bench"], capture_output=True)
    return seconds


def median_of(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def round_trips(lab: Lab) -> tuple[float, float, float]:
    """On an open connection to one host: `systemctl is-active mmcentral` (the simulator's
    stand-in), `true` (the transport and a shell alone), and one full look (``report()``)."""
    with borrow(lab.settings(lab.hosts[0])) as remote:
        remote.run("true")
        return (median_of(lambda: remote.run("systemctl is-active mmcentral"), 20),
                median_of(lambda: remote.run("true"), 20), median_of(remote.report, 10))


def run(lab: Lab, sizes: list[int], *, with_ansible: bool) -> None:
    """On the hosts as the lab started them: Central running standalone on each, its
    preferences.cfg naming it as a member (c0, c1, ...), nobody registered in Micetro."""
    for index, host in enumerate(lab.hosts):
        host.set_name(f"c{index}")
    one_command, bare, look = round_trips(lab)
    cores = os.cpu_count() or 1
    print("\n## Probe fan-out: one full state refresh of N members (service, start time, clock, version, "
          "preferences.cfg and its backups of each, states derived and saved)")
    print("| N | hacontrol cold | hacontrol warm | one command round trip | warm / round trip "
          "| this machine's floor | warm / floor | ansible-core cold | ansible / hacontrol cold |")
    print("|---|---|---|---|---|---|---|---|---|")
    states: dict[int, collections.Counter] = {}
    for size in sizes:
        cluster = lab.cluster(f"bench-{size}", lab.hosts[:size])
        settings.HACONTROL_PROBE_CONCURRENCY = size  # like ansible's -f N
        close_all()
        started = time.perf_counter()
        probe_clusters([cluster])
        cold = time.perf_counter() - started
        states[size] = collections.Counter(cluster.members.values_list("state", flat=True))
        warm = median_of(lambda: probe_clusters([cluster]), 5 if size <= 50 else 3)
        # Every test host runs on this machine's cores: the work of N hosts cannot finish faster
        # than looking at them one after the other (warm connections), divided by the cores.
        members = list(Member.objects.filter(cluster=cluster))
        floor = median_of(lambda: [observe(member) for member in members], 3 if size <= 50 else 1) / cores
        ansible = ansible_seconds(lab, size) if with_ansible else float("nan")
        print(f"| {size} | {cold * 1000:.0f} ms | {warm * 1000:.0f} ms | {one_command * 1000:.1f} ms | "
              f"{warm / one_command:.1f}x | {floor * 1000:.0f} ms | {warm / floor:.2f}x | {ansible * 1000:.0f} ms | "
              f"{ansible / cold:.1f}x |", flush=True)
    close_all()
    print(f"\none host, open connection: `true` {bare * 1000:.1f} ms, `systemctl is-active mmcentral` "
          f"{one_command * 1000:.1f} ms, one full look (`report()`: 6 commands in one shell) {look * 1000:.1f} ms")
    print("states found (every preferences.cfg names its member; no member is registered in Micetro): "
          + "; ".join(f"N={size}: " + ", ".join(f"{count} {state}" for state, count in found.items())
                      for size, found in states.items()))
