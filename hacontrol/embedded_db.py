"""The default database: a PostgreSQL server shipped in the pgserver wheel, kept under ./var/."""

from __future__ import annotations

import os
from pathlib import Path


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
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    return server.get_uri()
