"""`python -m bench.windows_host ROOT ADDRESS PASSWORD`: the emulated Windows host of the tests
(tests/hosts/windows, Central 11.0.3 as service "Micetro Central") served over WS-Management on
ADDRESS, in a process of its own. Prints `PORT n` once it listens; stops on SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from tests.hosts.windows import WindowsHost, WinRMServer


def main() -> None:
    root, address, password = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    host = WindowsHost(root)
    server = WinRMServer(host, address, password=password).start()
    print(f"PORT {server.port}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        host.shutdown()


if __name__ == "__main__":
    main()
