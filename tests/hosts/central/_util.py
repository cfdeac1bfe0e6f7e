"""Small helpers shared by the simulator's modules (standard library only, cheap to import).

Nothing here encodes a rule of Central or of systemd; the rules live in the modules that use these helpers.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

TYPE_CHECKING = False  # (not imported from typing: the daemon stays small)
if TYPE_CHECKING:
    from typing import Any


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` in one step (readers never see half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_json(path: Path, value: Any, mode: int = 0o644) -> None:
    atomic_write(path, json.dumps(value, indent=1, sort_keys=True).encode(), mode)


def read_json(path: Path, default: Any = None) -> Any:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read() or b"null")
    except (FileNotFoundError, ValueError):
        return default


def proc_start_ticks(pid: int) -> int | None:
    """The process's start time (field 22 of /proc/PID/stat), or None when it is gone or a zombie.

    A zombie counts as gone: on these machines PID 1 does not reap orphans, so a daemon that exited (or was killed)
    stays a zombie, and `kill(pid, 0)` would still succeed on it.
    """
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    rest = raw[raw.rfind(")") + 2:].split()
    if not rest or rest[0] in ("Z", "X", "x"):
        return None
    try:
        return int(rest[19])  # field 22 overall = index 19 after the state (field 3)
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int, start_ticks: int | None = None) -> bool:
    """True when `pid` runs and (if given) is the same process that had `start_ticks` (no PID reuse)."""
    ticks = proc_start_ticks(pid)
    if ticks is None:
        return False
    return start_ticks is None or ticks == start_ticks


def wait_pid_gone(pid: int, start_ticks: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid, start_ticks):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def append_line(path: Path, line: str) -> None:
    """Append one line with O_APPEND (one write: concurrent writers do not interleave short lines)."""
    data = (line.replace("\n", " ") + "\n").encode("utf-8", "replace")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def version_tuple(version: str) -> tuple[int, ...]:
    """'11.0.3' -> (11, 0, 3); '11.1' -> (11, 1, 0). Raises ValueError for anything else."""
    parts = version.strip().split(".")
    if not 2 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a Micetro version: {version!r}")
    nums = tuple(int(p) for p in parts)
    return nums + (0,) * (3 - len(nums)) if len(nums) < 3 else nums


# The folders a simulated host sees replaced by its own (bind mounts in its private mount namespace).
MASKED_IN_HOSTS = ("/root/", "/usr/local/sbin/", "/var/mmsuite/")


def usable_python(python: str) -> str:
    """An interpreter path that still works inside a host's mount namespace.

    /root is replaced there by an empty home, so an interpreter living under it (pyenv, or a venv whose python links
    into pyenv) is not there: fall back to the system's python3 (the stand-ins use the standard library only).
    """
    real = os.path.realpath(python)
    if not real.startswith(MASKED_IN_HOSTS) and not python.startswith(MASKED_IN_HOSTS):
        return python
    for candidate in ("/usr/bin/python3", "/bin/python3"):
        if os.path.exists(candidate) and not os.path.realpath(candidate).startswith(MASKED_IN_HOSTS):
            return candidate
    return python

