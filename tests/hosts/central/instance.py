"""CentralInstance: the same Central as the Linux daemon, run in-process in a thread (for a Windows host emulator,
or for fast tests). All of Central's behaviour is in core.CentralCore; this only drives it.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from .core import CentralCore, CentralFatal, CentralStartError, serve
from .store import CentralStore


class CentralInstance:
    """The same Central, in-process (a thread): for a Windows host emulator or for fast tests.

    inst = CentralInstance(preferences_path, data_dir, store, version, listen, clock_offset=0.0)
    inst.start() -> bool (False when Central cannot start; the reason is in inst.error)
    inst.stop() (clean, like stopping the service); inst.kill() (a crash: nothing cleaned up)
    """

    def __init__(
        self,
        preferences_path: Path,
        data_dir: Path,
        store: CentralStore,
        version: str,
        listen: tuple[str, int] | None,
        clock_offset: float = 0.0,
        *,
        log_path: Path | None = None,
        host: str = "",
    ):
        self.preferences_path = Path(preferences_path)
        self.data_dir = Path(data_dir)
        self.store = store
        self.version = version
        self.listen = listen
        self.clock_offset = clock_offset
        self.log_path = Path(log_path) if log_path else None
        self.host = host
        self.faults: set[str] = set()  # "fail-start", "fail-start-once", "db-unreachable"
        self.error: str | None = None
        self.started_at: float | None = None
        self.log_lines: list[str] = []
        self.core: CentralCore | None = None
        self._thread: threading.Thread | None = None
        self._stop = False
        self._crash = False
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._lock = threading.Lock()

    def _log(self, msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        self.log_lines.append(line)
        del self.log_lines[:-500]
        if self.log_path:
            with contextlib.suppress(OSError), open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        return self.core.status() if self.core else {"mode": "stopped", "role": "stopped"}

    def start(self) -> bool:
        with self._lock:
            if self.running:
                return True
            self.error = None
            if "fail-start" in self.faults or "fail-start-once" in self.faults:
                self.faults.discard("fail-start-once")
                self.error = "Central exited during start-up (simulated fault)"
                self._log(self.error)
                return False
            core = CentralCore(
                preferences_path=self.preferences_path,
                data_dir=self.data_dir,
                store=self.store,
                version=self.version,
                listen=self.listen,
                clock_offset=lambda: self.clock_offset,
                log=self._log,
                db_reachable=lambda: "db-unreachable" not in self.faults,
                host=self.host,
            )
            try:
                core.startup()
            except CentralStartError as e:
                self.error = str(e)
                self._log(f"start-up failed: {e}")
                return False
            self.core = core
            self.started_at = core.started_at
            self._stop = self._crash = False
            self._close_pipe()  # left by a run that ended on its own (CentralFatal)
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            self._thread = threading.Thread(target=self._run, name=f"central-{core.name or 'x'}", daemon=True)
            self._thread.start()
            return True

    def _run(self) -> None:
        core = self.core
        wake_r = self._wake_r
        assert core is not None and wake_r is not None
        try:
            serve(core, wake_r, lambda: self._stop)
        except CentralFatal as e:
            self.error = str(e)
            self._log(f"exiting: {e}")
            core.shutdown(clean=True)
        except Exception as e:  # pragma: no cover - a bug in the simulator
            self.error = f"simulator error: {e!r}"
            self._log(self.error)
            core.shutdown(clean=False)
        else:
            core.shutdown(clean=not self._crash)
        # The wake-up pipe is closed by _halt() or the next start(), never here: closing it while _halt() may still
        # write to it could let that write land in a file that reused the descriptor number.

    def _close_pipe(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = None

    def _halt(self, crash: bool, timeout: float) -> None:
        with self._lock:
            t = self._thread
            if t is None:
                return
            self._crash = crash
            self._stop = True
            if self._wake_w is not None:
                with contextlib.suppress(OSError):
                    os.write(self._wake_w, b"x")
            t.join(timeout)
            self._thread = None
            if not t.is_alive():
                self._close_pipe()

    def stop(self, timeout: float = 10.0) -> None:
        self._halt(False, timeout)

    def kill(self, timeout: float = 10.0) -> None:
        self._halt(True, timeout)
