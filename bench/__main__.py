"""`make bench`: hacontrol's speed, measured against what an administrator would otherwise use.

Prints figures, asserts nothing. Uses its own database (hacontrol_bench) on the embedded
PostgreSQL unless DATABASE_URL names one, its own SSH hosts on 127.0.1.x running the simulated
Central, and an emulated Windows host on 127.0.2.1; all of them stop at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECTIONS = ("fanout", "ansible", "transfer", "procedure", "setactive", "panel")


def bench_database() -> str | None:
    """Point Django at a database of the bench's own, created when missing; returns the
    embedded server's URL when the bench started it."""
    if os.environ.get("DATABASE_URL"):
        return None
    import psycopg

    from hacontrol.embedded_db import embedded_database_url

    url = embedded_database_url(ROOT / "var" / "pgdata")
    with psycopg.connect(url, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = 'hacontrol_bench'").fetchone():
            connection.execute("CREATE DATABASE hacontrol_bench")
    os.environ["DATABASE_URL"] = url.replace("/postgres?", "/hacontrol_bench?")
    return url


def load() -> None:
    """The machine is shared: say how busy it was as each section began."""
    one, five, _ = os.getloadavg()
    print(f"\n(load average before the next section: {one:.2f} over 1 min, {five:.2f} over 5 min, "
          f"on {os.cpu_count()} cores)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,50,100", help="numbers of SSH hosts for the fan-out")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of panel load")
    parser.add_argument("--runs", type=int, default=3, help="Set Active jobs to time")
    parser.add_argument("--transfer-mb", type=int, default=100, help="size of the installer transferred")
    parser.add_argument("--skip", default="", help="comma-separated: " + ",".join(SECTIONS))
    args = parser.parse_args()
    # A stop request unwinds like Ctrl-C, so every host, server and process the bench started stops.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    skip = set(filter(None, args.skip.split(",")))
    unknown = skip - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections to skip: {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hacontrol.settings")
    os.environ.setdefault("SECRET_KEY_FILE", str(ROOT / "var" / "secret_key"))
    embedded = bench_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from bench import fanout, panel, procedure, setactive, transfer
    from bench.lab import Lab

    started = time.monotonic()
    print(f"# hacontrol bench, {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()}: "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}", flush=True)
    sizes = [int(n) for n in args.sizes.split(",")]
    with_fanout = "fanout" not in skip
    needs_hosts = with_fanout or not {"transfer", "procedure", "setactive"} <= skip
    try:
        if needs_hosts:
            with Lab(max(sizes) if with_fanout else 3) as lab:
                if with_fanout:
                    load()
                    fanout.run(lab, sizes, with_ansible="ansible" not in skip)
                lab.retire(keep=3)
                if "transfer" not in skip:
                    load()
                    transfer.run(lab, args.transfer_mb)
                if "procedure" not in skip:
                    load()
                    procedure.run(lab)
                if "setactive" not in skip:
                    load()
                    setactive.run(lab, args.runs)
        if "panel" not in skip:
            load()
            panel.run(args.duration)
    finally:
        if embedded:
            from django.db import connections

            from hacontrol.embedded_db import stop_if_unused

            connections.close_all()
            stop_if_unused(embedded)
    print(f"\nbench done in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
