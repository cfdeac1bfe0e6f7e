"""gunicorn settings shared by `make run`, the container and the benchmark.

Single-threaded workers, two per core: the panel is CPU-bound Python, and threads sharing one
interpreter lock measured worse (p95 53 ms here with 4x1, 77-96 ms with 2x4 or 4x2; bench/RESULTS.md).

A sync worker that is silent for ``timeout`` seconds is killed, and an installer upload keeps its
worker for as long as the upload takes: the timeout allows HACONTROL_MAX_INSTALLER_SIZE at 1 MiB/s
(2 GiB: about 35 minutes), unless WEB_TIMEOUT says otherwise. Every other request is bounded far
below that by hacontrol itself (a page never waits on a host).
"""

import multiprocessing
import os

MAX_INSTALLER_SIZE = int(os.environ.get("HACONTROL_MAX_INSTALLER_SIZE") or 2 * 1024**3)

workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
threads = 1
timeout = int(os.environ.get("WEB_TIMEOUT") or max(60, MAX_INSTALLER_SIZE // (1024 * 1024)))
accesslog = os.environ.get("ACCESS_LOG", "-") or None
