"""Installer transfer: a 100 MB file staged to a Linux host with `Remote.stage()` (SFTP into a
private folder, SHA-256 checked on the host) beside a plain `scp` of the same file to the same
host, and staged to the emulated Windows host over WinRM (one PowerShell reading base64 lines on
its stdin, Get-FileHash)."""

from __future__ import annotations

import hashlib
import os
import shlex
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench.lab import Lab
from hacontrol.remote import borrow, open_connection

MB = 1024 * 1024


def make_installer(directory: Path, size_mb: int) -> tuple[Path, str]:
    """A file of random bytes (nothing to gain from compression), and its SHA-256."""
    path = directory / f"micetro-central-11.1.0.linux.x64-{size_mb}MB.tgz"
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for _ in range(size_mb):
            block = os.urandom(MB)
            digest.update(block)
            handle.write(block)
    return path, digest.hexdigest()


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def scp_seconds(lab: Lab, path: Path, repeat: int) -> list[float]:
    """`scp` of ``path`` to the first host, with the host's pinned key and the bench's login."""
    host = lab.hosts[0]
    known = lab.workdir / "known_hosts"
    known.write_text(f"[{host.address}]:{host.port} {host.host_key_line}\n")
    target = f"/tmp/bench-scp-{os.getpid()}"
    command = ["scp", "-q", "-i", str(lab.key), "-P", str(host.port), "-o", f"UserKnownHostsFile={known}",
               "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", str(path), f"root@{host.address}:{target}"]
    try:
        return timed(lambda: subprocess.run(command, check=True), repeat)
    finally:
        with borrow(lab.settings(host)) as remote:
            remote.run(f"rm -f -- {shlex.quote(target)}")


def stage_seconds(settings, path: Path, digest: str, repeat: int) -> tuple[list[float], list[float]]:
    """Wall times of opening a connection and ``stage()`` (as scp opens its own), and of the
    host's own checksum of the staged copy (timed again after each stage, Linux only)."""
    times, checks = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        remote = open_connection(settings)
        try:
            staged = remote.stage(str(path), digest)
            times.append(time.perf_counter() - started)
            if settings.platform == "linux":
                started = time.perf_counter()
                remote.run(f"sha256sum -- {shlex.quote(staged)}")
                checks.append(time.perf_counter() - started)
            remote.unstage(staged)
        finally:
            remote.close()
    return times, checks


def run(lab: Lab, size_mb: int = 100, repeat: int = 3) -> None:
    path, digest = make_installer(lab.workdir, size_mb)
    try:
        scp = scp_seconds(lab, path, repeat)
        sftp, check = stage_seconds(lab.settings(lab.hosts[0], timeout=300), path, digest, repeat)
        winrm, _ = stage_seconds(lab.windows_settings(timeout=600), path, digest, repeat)
    finally:
        path.unlink(missing_ok=True)
    rate = {name: size_mb / statistics.median(times) for name, times in
            (("scp", scp), ("sftp", sftp), ("winrm", winrm))}
    print(f"\n## Installer transfer: a {size_mb} MB file (random bytes) over loopback, median of {repeat}; "
          "every run opens its own connection")
    print("| to | how | time | MB/s | time vs scp |")
    print("|---|---|---|---|---|")
    rows = [
        ("Linux host (OpenSSH)", "`scp` (the anchor)", scp, rate["scp"]),
        ("Linux host (OpenSSH)", "`Remote.stage()`: SFTP into a private folder, SHA-256 on the host", sftp, rate["sftp"]),
        ("emulated Windows host (WinRM)", "`WinRMRemote.stage()`: one PowerShell, base64 lines on stdin, Get-FileHash",
         winrm, rate["winrm"]),
    ]
    for where, how, times, mbs in rows:
        print(f"| {where} | {how} | {statistics.median(times):.2f} s | {mbs:.1f} | {rate['scp'] / mbs:.2f}x |")
    print(f"\nof the Linux stage, the host's SHA-256 of the copy takes {statistics.median(check):.2f} s; "
          f"all runs (s): scp {_runs(scp)}, stage {_runs(sftp)}, WinRM {_runs(winrm)}")


def _runs(times: list[float]) -> str:
    return " / ".join(f"{t:.2f}" for t in times)
