"""Where background jobs run: a worker process lends its thread pool; anywhere else, inline.

A worker runs several clusters' jobs at once (a thirty-minute upgrade of one cluster never holds
up a switchover of another), each job under its lease.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.db import connection

logger = logging.getLogger("hacontrol.worker")
_pool: ThreadPoolExecutor | None = None
_running: set[Future] = set()


def install(threads: int) -> None:
    """Called once by the worker: from now on :func:`submit` runs work in ``threads`` threads."""
    global _pool
    _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="job")


def submit(work: Callable[[], object]) -> None:
    """Run ``work`` in the worker's pool, or right here when there is none."""
    if _pool is None:
        work()
        return
    future = _pool.submit(_guarded, work)
    _running.add(future)
    future.add_done_callback(_running.discard)


def _guarded(work: Callable[[], object]) -> None:
    try:
        work()
    except Exception:  # noqa: BLE001 - a crashed job is recovered through its lease; the pool lives on
        logger.exception("a background job crashed")
    finally:
        connection.close()


def busy() -> int:
    """How many jobs run in the pool now."""
    return len(_running)


def shutdown(wait_seconds: float) -> None:
    """Wait up to ``wait_seconds`` for running jobs; any still running are recovered elsewhere
    once their lease expires."""
    if _pool is None:
        return
    wait(list(_running), timeout=wait_seconds)
    _pool.shutdown(wait=False, cancel_futures=True)
