"""gunicorn settings shared by `make run`, the container and the benchmark.

Single-threaded workers, two per core: the panel is CPU-bound Python, and threads sharing one
interpreter lock measured worse (p95 53 ms here with 4x1, 77-96 ms with 2x4 or 4x2; bench/RESULTS.md).
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
threads = 1
timeout = 60
accesslog = os.environ.get("ACCESS_LOG", "-") or None
