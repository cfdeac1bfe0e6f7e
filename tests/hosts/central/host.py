"""A simulated Linux host running Central: the stand-in executables in ROOT/sbin (the host's /usr/local/sbin) and
Central's data in ROOT/mmsuite (the host's /var/mmsuite).

The harness runs one sshd per host in a private mount namespace with ROOT/mmsuite bound over /var/mmsuite, ROOT/sbin
over /usr/local/sbin (first in PATH) and an empty home over /root. Inside, the product runs `systemctl ... mmcentral`,
`mmcentrald -v` and the vendor installer; outside, the test process drives the same host through this class. Both use
the same files, so a daemon started by either is the same `mmcentral` service.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ._util import pid_alive, read_json, usable_python, write_json
from .core import CENTRAL_PORT, CentralStartError
from .service import UNIT, Service, _fresh_state
from .store import CentralStore

TYPE_CHECKING = False  # (not imported from typing: the daemon stays small)
if TYPE_CHECKING:
    from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE_PARENT = PACKAGE_DIR.parent
PACKAGE_NAME = PACKAGE_DIR.name

FAULTS = ("fail-start", "fail-start-once", "hang", "hang-start", "fail-install", "slow-install", "db-unreachable")
DEFAULT_VERSION = "11.0.3"


def _script(python: str, body: str) -> str:
    # -I: ignore PYTHON* variables and the user's site; -S: no site-packages (the stand-ins use the standard library
    # only, and start faster without it).
    return (f"#!{python} -IS\n"
            f"# Stand-in written by the Micetro Central simulator ({PACKAGE_DIR}). Not the vendor's program.\n"
            f"{body}")


def systemctl_script(python: str) -> str:
    return _script(python, f"import sys\nsys.path.insert(0, {str(PACKAGE_PARENT)!r})\n"
                           f"from {PACKAGE_NAME}.service import systemctl_main\n"
                           f"sys.exit(systemctl_main(sys.argv[1:], __file__))\n")


def mmcentrald_script(python: str, version: str) -> str:
    return _script(python, f"VERSION = {version!r}\nimport sys\nsys.path.insert(0, {str(PACKAGE_PARENT)!r})\n"
                           f"from {PACKAGE_NAME}.daemon import main\n"
                           f"sys.exit(main(sys.argv[1:], __file__, VERSION))\n")


def date_script(python: str) -> str:
    # A `date` that honours the host's clock offset (ha_tweaks_central.rst: members use their local time; a product
    # that checks clock skew between members reads it with `date`). Without an offset, or when the caller names the
    # time itself (-d/-s/-r/-f), the real date runs unchanged.
    return _script(python, """import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
try:
    with open(os.path.join(here, ".central-host.json")) as f:
        off = float(json.load(f).get("clock_offset") or 0)
except (OSError, ValueError):
    off = 0.0
real = "/usr/bin/date" if os.path.exists("/usr/bin/date") else "/bin/date"
args = sys.argv[1:]
def names_time(a):
    if a.startswith("--"):
        return a.split("=")[0] in ("--date", "--set", "--reference", "--file")
    if not a.startswith("-"):
        return False
    for c in a[1:]:
        if c in "dsrf":
            return True
        if c == "I":  # -I[FMT]: the rest is its argument
            return False
    return False
if off and not any(names_time(a) for a in args):
    args = ["-d", "@%.6f" % (time.time() + off)] + args
os.execv(real, [real] + args)
""")


def _write_exe(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    os.replace(tmp, path)


_VERSION_RE = re.compile(r"^VERSION = ['\"]([^'\"]+)['\"]", re.M)


class SimulatedCentralHost:
    """One Linux host with Micetro Central. See the module docstring."""

    def __init__(self, root: Path | str, address: str, store: CentralStore, python: str = sys.executable,
                 port: int = CENTRAL_PORT):
        self.root = Path(root)
        self.address = address
        self.store = store
        # sys.executable here lives under /root (pyenv), which a host's namespace hides: see usable_python().
        self.python = usable_python(python)
        self.port = port
        self.sbin = self.root / "sbin"
        self.mmsuite = self.root / "mmsuite"
        self.data_dir = self.mmsuite / "mmcentral"
        self.preferences_path = self.data_dir / "preferences.cfg"
        self.state_dir = self.sbin / ".systemd"
        self.config_path = self.sbin / ".central-host.json"
        self.last_error = ""

    # -- files -----------------------------------------------------------------------------------------------------

    def _service(self) -> Service:
        # `-d` is the vendor's data-path option (running_micetro.rst); --store and --listen are the simulator's.
        return Service(self.sbin, source="harness", daemon_args=[
            "-d", str(self.data_dir), "--store", str(self.store.root), "--listen", f"{self.address}:{self.port}"])

    def _config(self) -> dict[str, Any]:
        return read_json(self.config_path, {}) or {}

    def install(self) -> None:
        """Write the stand-ins (systemctl, mmcentrald, date) and their configuration into ROOT/sbin.

        A Central of DEFAULT_VERSION is installed (daemon + unit) if none is; its data folder is created if missing.
        """
        for d in (self.sbin, self.state_dir / "units", self.state_dir / "faults", self.data_dir):
            d.mkdir(parents=True, exist_ok=True)
        cfg = self._config()
        write_json(self.config_path, {
            "address": self.address, "port": self.port, "store": str(self.store.root), "mmsuite": str(self.mmsuite),
            "python": self.python, "package": str(PACKAGE_DIR), "clock_offset": float(cfg.get("clock_offset") or 0.0),
        })
        _write_exe(self.sbin / "systemctl", systemctl_script(self.python))
        _write_exe(self.sbin / "date", date_script(self.python))
        if not (self.sbin / "mmcentrald").exists():
            self._install_central(DEFAULT_VERSION)

    def _install_central(self, version: str) -> None:
        _write_exe(self.sbin / "mmcentrald", mmcentrald_script(self.python, version))
        (self.state_dir / "units" / UNIT).write_text(f"# generated from /etc/init.d/mmcentral ({version})\n")

    def uninstall(self) -> None:
        """Remove Central (daemon and unit), as on a host where it was never installed. The data folder stays."""
        self.shutdown()
        for p in (self.sbin / "mmcentrald", self.state_dir / "units" / UNIT, self.state_dir / "mmcentral.state.json"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def reset(self, preferences: str | bytes, version: str = DEFAULT_VERSION, running: bool = True) -> None:
        """A fresh Central install: data folder recreated with these preferences, this version installed, the service
        started (raises CentralStartError when it cannot start) or left stopped. Faults, events and journal are
        cleared; the clock offset is kept."""
        if not self.config_path.exists():
            self.install()
        self.shutdown()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        self.preferences_path.write_bytes(preferences.encode("utf-8") if isinstance(preferences, str) else preferences)
        self._install_central(version)
        write_json(self.state_dir / "mmcentral.state.json", _fresh_state())
        for p in list(self.state_dir.glob("exit-*.json")) + [self.state_dir / n for n in
                                                             ("journal.log", "events.log", "central-status.json")]:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        if running and not self.start():
            raise CentralStartError(self.last_error)
        self.clear_events()

    # -- service control (the harness's; bypasses systemctl faults such as "hang") --------------------------------

    def start(self) -> bool:
        svc = self._service()
        svc.event("start")
        ok, _ = svc.start(use_faults=False)
        self.last_error = svc.last_error
        return ok

    def stop(self) -> None:
        svc = self._service()
        svc.event("stop")
        svc.stop()

    def restart(self) -> bool:
        svc = self._service()
        svc.event("restart")
        svc.stop()
        ok, _ = svc.start(use_faults=False)
        self.last_error = svc.last_error
        return ok

    def crash(self) -> bool:
        """SIGKILL the daemon (a crash: the service shows `failed`). Returns whether one was running."""
        svc = self._service()
        svc.event("crash")
        return svc.kill_main(signal.SIGKILL)

    def shutdown(self) -> None:
        """Teardown: kill the stand-ins blocked by a fault or waiting for input (so none acts later), lift every
        fault, stop the daemon (SIGKILL if it does not stop within 2 s)."""
        svc = self._service()
        svc.files.kill_held()
        with contextlib.suppress(FileNotFoundError):
            for f in (self.state_dir / "faults").iterdir():
                f.unlink()
        if not svc.unit_exists() and not svc.state_file.exists():
            return
        st = svc.state()
        pid = st["main_pid"]
        if pid and pid_alive(pid, st.get("main_ticks")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 2
            while pid_alive(pid, st.get("main_ticks")) and time.monotonic() < deadline:
                time.sleep(0.01)
            if pid_alive(pid, st.get("main_ticks")):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        svc.state()

    # -- observation -----------------------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._service().main_pid()

    @property
    def running(self) -> bool:
        st = self._service().state()
        return bool(st["main_pid"]) and pid_alive(st["main_pid"], st.get("main_ticks"))

    @property
    def service_state(self) -> str:
        """systemd's ActiveState: "active", "inactive", "failed", "activating", "deactivating"."""
        return self._service().active_state()

    @property
    def version(self) -> str | None:
        try:
            m = _VERSION_RE.search((self.sbin / "mmcentrald").read_text())
        except FileNotFoundError:
            return None
        return m.group(1) if m else None

    def central_status(self) -> dict[str, Any] | None:
        """What the running daemon says about itself (mode, role, name, reason, database), or None when stopped."""
        st = read_json(self.state_dir / "central-status.json")
        if not st or not self.running or st.get("pid") != self.pid:
            return None
        return st  # type: ignore[no-any-return]

    def events(self, include_harness: bool = False) -> list[str]:
        """Service actions in order: what systemctl was asked to do (start, stop, restart, kill-SIG...), start-failed,
        and the installer's install-VERSION / install-failed-VERSION. With include_harness, also this class's own
        actions, as "harness:start" etc."""
        try:
            lines = (self.state_dir / "events.log").read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            parts = line.split("\t")
            if len(parts) != 3:
                continue
            _, source, action = parts
            if source == "harness":
                if include_harness:
                    out.append(f"harness:{action}")
            else:
                out.append(action)
        return out

    def clear_events(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "events.log").unlink()

    def journal(self, lines: int = 50) -> list[str]:
        try:
            raw = (self.state_dir / "journal.log").read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [line.split("\t", 3)[-1] if line.count("\t") >= 3 else line for line in raw[-lines:]]

    # -- test switches ---------------------------------------------------------------------------------------------

    def fault(self, name: str, on: bool | float | str = True) -> None:
        """Switch a test-only fault on or off.

        fail-start       Central exits during start-up, every time (systemctl start fails with systemd's message)
        fail-start-once  the next start fails, then the fault clears itself
        hang             every `systemctl` call hangs until the fault is lifted (at most 600 s)
        hang-start       `systemctl start/restart` stays `activating` until lifted (then starts) or until systemd's
                         TimeoutStartSec (90 s, then fails with "a timeout was exceeded")
        fail-install     the installer fails cleanly: exit 1, nothing changed
        slow-install     the installer takes `on` seconds (True: 20) after stopping the service; lifting the fault
                         ends the wait
        db-unreachable   this host's Central cannot reach its database: it does not start; a running one writes no
                         heartbeats
        """
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        path = self.state_dir / "faults" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if on is False or on is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            path.write_text("" if on is True else str(on))

    @property
    def clock_offset(self) -> float:
        return float(self._config().get("clock_offset") or 0.0)

    @clock_offset.setter
    def clock_offset(self, seconds: float) -> None:
        cfg = self._config()
        cfg["clock_offset"] = float(seconds)
        write_json(self.config_path, cfg)

    # -- running the stand-ins from the test process (outside the host's namespace) -------------------------------

    def run(self, *argv: str, stdin: bytes | None = b"", timeout: float = 30, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a stand-in (e.g. run("systemctl", "is-active", "mmcentral")) against this host from the test process.

        Outside the host's mount namespace, so the installer is pointed at ROOT with MMSIM_SBIN/MMSIM_MMSUITE.
        """
        exe = argv[0] if "/" in argv[0] else str(self.sbin / argv[0])
        full_env = {"PATH": f"{self.sbin}:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                    "MMSIM_SBIN": str(self.sbin), "MMSIM_MMSUITE": str(self.mmsuite)}
        full_env.update(env or {})
        return subprocess.run([exe, *argv[1:]], input=stdin.decode() if stdin is not None else None,
                              stdin=None if stdin is not None else subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, cwd=cwd, env=full_env)
