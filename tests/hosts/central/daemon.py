"""`mmcentrald`, the Linux Central daemon stand-in.

install_central.rst: "Micetro Central daemon: mmcentrald, usually in /usr/sbin or /usr/local/sbin". The stand-in is a
small script written into the host's /usr/local/sbin (host.py) that imports this module.

    mmcentrald -v            prints the version (one line, see VERSION_LINE) and exits 0
    mmcentrald [options]     (the vendor's options, running_micetro.rst: -d <path>, -p <port>, -ll, -u, -g, -h)
                             starts Central: forks, the child detaches (new session) and starts up; the parent
                             prints MAINPID=<pid> and exits 0 once Central is up, or exits 1 (reason on stderr) when
                             Central exits during start-up. This is a classic forking daemon (systemd Type=forking:
                             the process systemd starts is the "control process", the child the "main process"),
                             which is what the unit systemd generates from the vendor's init script is
                             (install_central.rst lists "/etc/init.d/mmcentral", an init script).
      --foreground           do not fork (for debugging)
      -d DIR, --data-dir DIR Central's data directory (default /var/mmsuite/mmcentral, see _default_data_dir)
      --preferences FILE     default DIR/preferences.cfg
      --store DIR            the shared store (default: the host's configuration)
      --listen HOST:PORT     default: the host's address, port 1231; --no-listen to listen nowhere

The host's configuration is `.central-host.json` beside the script (written by SimulatedCentralHost.install()); the
service manager's state (journal, exit records, faults) is in `.systemd/` beside the script. Both are found from the
script's own path, which works inside the host's mount namespace (/usr/local/sbin) and outside it (ROOT/sbin).
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path

from ._util import append_line, write_json

TYPE_CHECKING = False  # (not imported from typing: the daemon stays small)
if TYPE_CHECKING:
    from typing import Any

# running_micetro.rst: "-v  Displays version information". ASSUMPTION: what it prints is not documented; we print one
# line, "Micetro Central version X.Y.Z", the product name the vendor uses ("Micetro Central") and the version.
VERSION_LINE = "Micetro Central version {version}"


class HostFiles:
    """The files beside the stand-in scripts: host configuration and the simulated systemd's state folder."""

    def __init__(self, sbin: Path):
        self.sbin = sbin
        self.config_path = sbin / ".central-host.json"
        self.state = sbin / ".systemd"
        self.faults = self.state / "faults"
        self.journal = self.state / "journal.log"
        self._mtime: int | None = None
        self._config: dict[str, Any] = {}

    def config(self) -> dict[str, Any]:
        try:
            st = os.stat(self.config_path)
        except FileNotFoundError:
            return self._config
        if st.st_mtime_ns != self._mtime:
            with contextlib.suppress(OSError, ValueError):
                self._config = json.loads(self.config_path.read_bytes())
                self._mtime = st.st_mtime_ns
        return self._config

    def fault(self, name: str) -> bool:
        return (self.faults / name).exists()

    def fault_value(self, name: str) -> str | None:
        try:
            return (self.faults / name).read_text().strip()
        except OSError:
            return None

    @contextlib.contextmanager
    def held(self):  # type: ignore[no-untyped-def]
        """Mark this process as blocked (by a fault, or waiting for an answer on stdin) while inside the block, so
        that a teardown (SimulatedCentralHost.shutdown) can kill it instead of letting it act later."""
        from ._util import proc_start_ticks

        d = self.state / "held"
        path = d / str(os.getpid())
        with contextlib.suppress(OSError):
            d.mkdir(parents=True, exist_ok=True)
            path.write_text(str(proc_start_ticks(os.getpid())))
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def kill_held(self) -> None:
        from ._util import pid_alive

        with contextlib.suppress(FileNotFoundError):
            for path in (self.state / "held").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    pid, ticks = int(path.name), int(path.read_text() or 0)
                    if pid != os.getpid() and pid_alive(pid, ticks):
                        os.kill(pid, 9)
                    path.unlink()

    def clear_fault(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.faults / name).unlink()

    def journal_line(self, ident: str, pid: int, message: str) -> None:
        with contextlib.suppress(OSError):
            append_line(self.journal, f"{time.time():.6f}\t{ident}\t{pid}\t{message}")

    def exit_record(self, pid: int, code: int | None, signal_no: int | None = None, reason: str = "") -> None:
        with contextlib.suppress(OSError):
            write_json(self.state / f"exit-{pid}.json",
                       {"pid": pid, "code": code, "signal": signal_no, "time": time.time(), "reason": reason})


def _traceback() -> str:
    import traceback

    return traceback.format_exc()


def version_line(version: str) -> str:
    return VERSION_LINE.format(version=version)


def _default_data_dir(files: HostFiles) -> Path:
    """/var/mmsuite/mmcentral inside the host's mount namespace; the host's own folder when run from outside it."""
    configured = files.config().get("mmsuite")
    var = Path("/var/mmsuite")
    if configured:
        cfg = Path(configured)
        try:
            if cfg.exists() and not os.path.samefile(var, cfg):
                return cfg / "mmcentral"
        except OSError:
            return cfg / "mmcentral"
    return var / "mmcentral"


USAGE = """Usage: mmcentrald [options]
  -ll <level>   log level 0-5 (default 3)
  -p <port>     port number to listen to (default 1231)
  -u <user>     user name or id to run as
  -g <group>    group name or id to run as
  -d <path>     path of the data files (default /var/mmsuite/mmcentral)
  -v            version information
  -h            this help
Simulator options: --preferences FILE, --store DIR, --listen HOST:PORT, --no-listen, --foreground"""


def _parse(argv: list[str]) -> dict[str, Any]:
    # running_micetro.rst ("You can set several options when starting Micetro Central"): -ll <level>, -p <port>,
    # -u <user>, -g <group>, -d <path> ("the default path is /var/mmsuite/mmcentral"), -v, -h. The long options are
    # the simulator's own (where the shared store is, which address to listen on).
    # ASSUMPTION: -ll, -u and -g are accepted and have no effect in the simulator (it logs at one level and runs as
    # whoever started it).
    opts: dict[str, Any] = {"foreground": False, "listen": "default"}
    it = iter(argv)
    for arg in it:
        key, eq, val = arg.partition("=")
        if key in ("--data-dir", "--preferences", "--store", "--listen"):
            opts[key[2:].replace("-", "_")] = val if eq else next(it, "")
        elif arg == "-d":
            opts["data_dir"] = next(it, "")
        elif arg == "-p":
            port = next(it, "")
            if not port.isdigit():
                raise SystemExit(f"mmcentrald: invalid port {port!r}")
            opts["port"] = int(port)
        elif arg in ("-ll", "-u", "-g"):
            next(it, None)
        elif arg == "--no-listen":
            opts["listen"] = None
        elif arg == "--foreground":
            opts["foreground"] = True
        else:
            raise SystemExit(f"mmcentrald: unknown option {arg}\n{USAGE}")
    return opts


def main(argv: list[str], script: str, version: str) -> int:
    # running_micetro.rst: "-v  Displays version information"; "-h  Displays available command line options".
    if any(a in ("-v", "-V", "--version") for a in argv):
        print(version_line(version))
        return 0
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE)
        return 0
    files = HostFiles(Path(os.path.abspath(script)).parent)
    try:
        opts = _parse(argv)
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    cfg = files.config()
    data_dir = Path(opts.get("data_dir") or _default_data_dir(files)).absolute()
    prefs_path = Path(opts.get("preferences") or data_dir / "preferences.cfg").absolute()
    store_opt = opts.get("store") or cfg.get("store")
    if not store_opt:
        print("mmcentrald: no store configured", file=sys.stderr)
        return 2
    store_root = Path(store_opt).absolute()
    listen: tuple[str, int] | None
    if opts["listen"] is None:
        listen = None
    elif opts["listen"] == "default":
        addr = cfg.get("address")
        listen = (addr, int(opts.get("port") or cfg.get("port", 1231))) if addr else None
    else:
        host, _, port = str(opts["listen"]).rpartition(":")
        listen = (host.strip("[]"), int(port))

    if opts["foreground"]:
        return _run(files, version, data_dir, prefs_path, store_root, listen, ready_fd=None)

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the daemon
        os.close(r)
        os.setsid()
        os.chdir("/")  # a daemon keeps no folder busy (the installer's may be deleted)
        os.umask(0o022)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        code = 1
        try:
            code = _run(files, version, data_dir, prefs_path, store_root, listen, ready_fd=w)
        finally:
            os._exit(code)
    # The launcher: wait for the daemon to say it is up (or to die trying).
    os.close(w)
    buf = b""
    deadline = time.monotonic() + 80
    while time.monotonic() < deadline:
        ready, _, _ = select.select([r], [], [], 0.5)
        if ready:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            buf += chunk
            if b"\n" in buf:
                break
    os.close(r)
    line = buf.decode("utf-8", "replace").strip()
    if line.startswith("READY "):
        print(f"MAINPID={line.split()[1]}")
        return 0
    reason = line[5:] if line.startswith("FAIL ") else "Central exited during start-up"
    print(reason, file=sys.stderr)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return 1


def _run(files: HostFiles, version: str, data_dir: Path, prefs_path: Path, store_root: Path,
         listen: tuple[str, int] | None, ready_fd: int | None) -> int:
    from .core import CentralCore, CentralFatal, CentralStartError, serve
    from .store import CentralStore

    pid = os.getpid()
    stop = {"flag": False}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)

    def on_term(signum: int, frame: object) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.set_wakeup_fd(wake_w)

    def log(msg: str) -> None:
        # running_micetro.rst: "Micetro Central sends event messages to the system log" (here: the unit's journal).
        files.journal_line("mmcentrald", pid, msg)

    def report(text: str) -> None:
        if ready_fd is not None:
            with contextlib.suppress(OSError):
                os.write(ready_fd, (text.replace("\n", " ") + "\n").encode())
                os.close(ready_fd)

    # Test-only faults (SimulatedCentralHost.fault): Central exits during start-up.
    if files.fault("fail-start-once"):
        files.clear_fault("fail-start-once")
        log("Central exited during start-up (simulated fault fail-start-once)")
        report("FAIL Central exited during start-up (simulated fault)")
        return 1
    if files.fault("fail-start"):
        log("Central exited during start-up (simulated fault fail-start)")
        report("FAIL Central exited during start-up (simulated fault)")
        return 1

    def status_sink(status: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            write_json(files.state / "central-status.json", status)

    core = CentralCore(
        preferences_path=prefs_path,
        data_dir=data_dir,
        store=CentralStore(store_root),
        version=version,
        listen=listen,
        clock_offset=lambda: float(files.config().get("clock_offset") or 0.0),
        log=log,
        db_reachable=lambda: not files.fault("db-unreachable"),
        host=str(files.config().get("address") or socket.gethostname()),
        pid=pid,
        status_sink=status_sink,
    )
    try:
        core.startup()
    except CentralStartError as e:
        log(f"Start-up failed: {e}")
        report(f"FAIL {e}")
        return 1
    except Exception as e:  # a simulator bug: say so loudly
        log("Start-up crashed: " + _traceback().replace("\n", " | "))
        report(f"FAIL simulator error {e!r}")
        return 1
    report(f"READY {pid}")
    code = 0
    reason = ""
    try:
        serve(core, wake_r, lambda: stop["flag"])
        core.shutdown(clean=True)
    except CentralFatal as e:
        log(f"Exiting: {e}")
        reason = str(e)
        code = 1
        core.shutdown(clean=True)
    except Exception:
        log("Crashed: " + _traceback().replace("\n", " | "))
        reason = "simulator error"
        code = 1
        core.shutdown(clean=False)
    files.exit_record(pid, code, None, reason)
    return code
