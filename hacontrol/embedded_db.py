"""The default database: a PostgreSQL server shipped in the pgserver wheel, kept under ./var/."""

from __future__ import annotations

import os
import time
from pathlib import Path

# Each process names its connections after itself, so the last one out can tell its own (and dead
# processes') connections from those of a live process still using the server.
APPLICATION_NAME = "hacontrol-pid-{pid}"


def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in ``data_dir`` and return its URL.

    The server stops when the last process that started or joined it exits, so tests and
    ``make run`` leave nothing behind.
    """
    # pgserver warns on every start when this is unset; it only picks a runtime folder.
    runtime = data_dir.parent / "run"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    forget_dead_handles(data_dir)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    return f"{server.get_uri()}&application_name={APPLICATION_NAME.format(pid=os.getpid())}"


def forget_dead_handles(data_dir: Path) -> None:
    """Drop processes that died without deregistering (killed, or ended by os._exit) from
    pgserver's list of users, so the last live one still stops the server when it exits."""
    import json

    import psutil
    from pgserver.postgres_server import PostgresServer

    handles_file = data_dir / ".handle_pids.json"
    with PostgresServer._lock:  # the lock pgserver itself takes around this list
        try:
            handles = json.loads(handles_file.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in handles if psutil.pid_exists(pid)]
        if alive != handles:
            handles_file.write_text(json.dumps(alive))


def stop_if_unused(url: str) -> bool:
    """Stop the embedded server at ``url`` unless another live process uses it.

    pgserver stops the server when its last registered process exits, but not after the server
    was restarted underneath it (the fault tests do that), and a process killed with SIGKILL (a
    crashed worker) never deregisters: this is the explicit last word. Our own registration is
    dropped afterwards so pgserver's exit handler finds nothing left to do.
    """
    import json
    import subprocess
    from urllib.parse import parse_qs, urlsplit

    import psutil
    from pgserver.postgres_server import POSTGRES_BIN_PATH

    data_dir = Path(parse_qs(urlsplit(url).query)["host"][0])
    handles_file = data_dir / ".handle_pids.json"
    if not (data_dir / "postmaster.pid").exists():
        return False
    try:
        handles = json.loads(handles_file.read_text())
    except (OSError, ValueError):
        handles = []
    if any(pid != os.getpid() and psutil.pid_exists(pid) for pid in handles):
        return False
    if _still_used(url):
        return False
    owner = data_dir.owner()
    command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), "-w", "stop", "-m", "fast"]
    if os.geteuid() == 0 and owner != "root":
        command = ["runuser", "-u", owner, "--", *command]
    stopped = subprocess.run(command, capture_output=True).returncode == 0
    if stopped:
        from pgserver.postgres_server import PostgresServer

        with PostgresServer._lock:
            handles_file.write_text(json.dumps([pid for pid in handles if pid != os.getpid()]))
    return stopped


def _still_used(url: str, patience: float = 5.0) -> bool:
    """Whether a live process other than this one is connected. Connections named after this
    process (its threads') or after a dead one do not count; a process that is just exiting is
    given ``patience`` seconds to go."""
    import psutil
    import psycopg

    prefix = APPLICATION_NAME.format(pid="")
    deadline = time.monotonic() + patience
    while True:
        with psycopg.connect(url, autocommit=True) as connection:
            names = [row[0] for row in connection.execute(
                "SELECT application_name FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND pid <> pg_backend_pid()").fetchall()]
        pids = [int(name[len(prefix):]) if name.startswith(prefix) and name[len(prefix):].isdigit() else None
                for name in names]
        if all(pid is not None and (pid == os.getpid() or not psutil.pid_exists(pid)) for pid in pids):
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.25)
