"""The `mmcentral` service and a `systemctl` stand-in, behaving as systemd documents for the commands the product
runs: start, stop, restart, is-active, status, show (plus a few neighbours).

running_micetro.rst (Linux): "After installation, all Micetro components are configured as system processes available
through ``systemctl``. Only use ``systemctl`` to stop, (re)start, and query the status of the components".

Sources: systemctl(1) (man7.org copy, systemd 252-260), "EXIT STATUS" table (LSB return codes: 0 "unit is active",
1 "unit not failed (used by is-failed)", 3 "unit is not active", 4 "no such unit"); `is-active`: "Returns an exit code 0
if at least one is active, or non-zero otherwise. Unless --quiet is specified, this will also print the current unit
state to standard output."; `--value`, `-P`, `--property=`; `--timestamp=unix`: "@seconds-since-the-epoch" (added in
251; Debian 12 ships 252); `--kill-whom=`: "For services of type Type=forking, the initial process started by the
manager for ExecStart= is a control process, while the process ultimately forked off by that one is then considered
the main process of the unit". systemd's job-result messages ("Job for X failed because the control process exited
with error code. See "systemctl status X" and "journalctl -xeu X" for details.") and its exit status for bus errors
(no such unit -> 5 "EXIT_NOTINSTALLED", job type not applicable -> 3, access denied -> 4; systemd.exec(5) "LSB service
exit codes") are systemd's as printed by 252.

State lives in `.systemd/` beside the stand-in scripts (see daemon.HostFiles); it is read and written with the same
code by the `systemctl` stand-in inside a host and by SimulatedCentralHost in the test process, so a daemon started by
either is the same service.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ._util import append_line, pid_alive, proc_start_ticks, read_json, wait_pid_gone, write_json
from .daemon import HostFiles

TYPE_CHECKING = False  # (not imported from typing: the daemon stays small)
if TYPE_CHECKING:
    from typing import Any

UNIT = "mmcentral.service"
# install_central.rst lists "/etc/init.d/mmcentral" (the init script) and "mmcentrald, usually in /usr/sbin or
# /usr/local/sbin". systemd runs an init script through a unit its sysv-generator makes (Type=forking), which is what
# `systemctl status mmcentral` (install_central.rst, central_ha.rst step 10) shows.
# ASSUMPTION (cosmetic): the description and paths shown by status/show below.
DESCRIPTION = "Micetro Central"
SOURCE_PATH = "/etc/init.d/mmcentral"
FRAGMENT_PATH = "/run/systemd/generator.late/mmcentral.service"
EXEC_PATH = "/usr/local/sbin/mmcentrald"
# systemd.service(5): TimeoutStartSec=/TimeoutStopSec= default to DefaultTimeoutStartSec=/DefaultTimeoutStopSec=, 90s.
TIMEOUT_START = 90.0
TIMEOUT_STOP = 90.0
HANG_LIMIT = 600.0  # the "hang" fault never lasts longer than this (so a forgotten fault cannot leak processes)

EXIT_SUCCESS = 0
EXIT_FAILURE = 1
EXIT_NOTIMPLEMENTED = 3
EXIT_NOPERMISSION = 4
EXIT_NOTINSTALLED = 5
EXIT_PROGRAM_NOT_RUNNING = 3
EXIT_STATUS_UNKNOWN = 4

CLD_EXITED, CLD_KILLED = 1, 2
_STATUS_NAMES = {0: "SUCCESS", 1: "FAILURE", 2: "INVALIDARGUMENT", 3: "NOTIMPLEMENTED", 4: "NOPERMISSION",
                 5: "NOTINSTALLED", 6: "NOTCONFIGURED", 7: "NOTRUNNING", 203: "EXEC"}


def _fresh_state() -> dict[str, Any]:
    return {
        "active_state": "inactive", "sub_state": "dead", "result": "success",
        "main_pid": 0, "main_ticks": None, "control_pid": 0,
        "exec_main_pid": 0, "exec_main_code": 0, "exec_main_status": 0,
        "exec_main_start": None, "exec_main_exit": None,
        "control_code": 0, "control_status": 0, "control_last_pid": 0,
        "active_enter": None, "active_exit": None, "inactive_enter": None, "inactive_exit": None,
        "state_change": None, "n_restarts": 0,
    }


def signal_name(n: int) -> str:
    try:
        return signal.Signals(n).name[3:]
    except ValueError:
        return str(n)


def status_text(n: int) -> str:
    return f"{n}/{_STATUS_NAMES.get(n, 'n/a')}"


class Service:
    """The mmcentral unit on one host. `source` tags the events this object records ("systemctl", "installer",
    "harness")."""

    def __init__(self, sbin: Path, source: str = "systemctl", daemon_args: list[str] | None = None):
        self.files = HostFiles(Path(sbin))
        self.sbin = Path(sbin)
        self.source = source
        self.daemon_args = daemon_args or []
        st = self.files.state
        self.unit_file = st / "units" / UNIT
        self.state_file = st / "mmcentral.state.json"
        self.lock_file = st / "lock"
        self.events_file = st / "events.log"
        self.last_error = ""

    # -- bookkeeping -----------------------------------------------------------------------------------------------

    def unit_exists(self) -> bool:
        return self.unit_file.exists()

    def can_write(self) -> bool:
        return os.access(self.files.state, os.W_OK)

    @contextlib.contextmanager
    def locked(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def event(self, action: str, source: str | None = None) -> None:
        with contextlib.suppress(OSError):
            append_line(self.events_file, f"{time.time():.6f}\t{source or self.source}\t{action}")

    def journal(self, message: str, ident: str = "systemd", pid: int = 1) -> None:
        self.files.journal_line(ident, pid, message)

    def _load(self) -> dict[str, Any]:
        st = read_json(self.state_file)
        return st if isinstance(st, dict) else _fresh_state()

    def _save(self, st: dict[str, Any]) -> None:
        write_json(self.state_file, st)

    def _observe(self, st: dict[str, Any], persist: bool) -> bool:
        """Notice a main process that ended by itself (exit or signal) since the last look."""
        if st["active_state"] == "activating" and st.get("control_pid") \
                and not pid_alive(st["control_pid"], st.get("control_ticks")):
            # A start job whose waiting systemctl was killed (fault "hang-start"): the simulator has no manager
            # process to carry the job on, so the job counts as cancelled.
            now = time.time()
            st.update(active_state="inactive", sub_state="dead", control_pid=0, inactive_enter=now, state_change=now)
            return True
        if st["active_state"] not in ("active", "reloading", "deactivating") or not st["main_pid"]:
            return False
        pid = st["main_pid"]
        if pid_alive(pid, st.get("main_ticks")):
            return False
        rec = read_json(self.files.state / f"exit-{pid}.json") or {}
        now = rec.get("time") or time.time()
        code, sig = rec.get("code"), rec.get("signal")
        st.update(main_pid=0, main_ticks=None, exec_main_exit=now, active_exit=now, inactive_enter=now,
                  state_change=now)
        msgs = []
        if rec and sig is None and code == 0:
            # A clean exit (SIGTERM handled): systemd treats it as success -> inactive (dead).
            st.update(active_state="inactive", sub_state="dead", result="success", exec_main_code=CLD_EXITED,
                      exec_main_status=0)
            msgs = [f"{UNIT}: Deactivated successfully."]
        elif rec and sig is None:
            st.update(active_state="failed", sub_state="failed", result="exit-code", exec_main_code=CLD_EXITED,
                      exec_main_status=int(code or 1))
            msgs = [f"{UNIT}: Main process exited, code=exited, status={status_text(int(code or 1))}",
                    f"{UNIT}: Failed with result 'exit-code'."]
        else:
            # No exit record: the process was killed (SIGKILL leaves no chance to write one) -> a crash.
            sig = int(sig or signal.SIGKILL)
            st.update(active_state="failed", sub_state="failed", result="signal", exec_main_code=CLD_KILLED,
                      exec_main_status=sig)
            msgs = [f"{UNIT}: Main process exited, code=killed, status={sig}/{signal_name(sig)}",
                    f"{UNIT}: Failed with result 'signal'."]
        if persist:
            for m in msgs:
                self.journal(m)
        return True

    def _stale(self, st: dict[str, Any]) -> bool:
        if st["active_state"] in ("active", "reloading", "deactivating") and st["main_pid"]:
            return not pid_alive(st["main_pid"], st.get("main_ticks"))
        if st["active_state"] == "activating" and st.get("control_pid"):
            return not pid_alive(st["control_pid"], st.get("control_ticks"))
        return False

    def state(self) -> dict[str, Any]:
        """The unit's current state (a process that died since the last look is noticed now)."""
        st = self._load()
        if self._stale(st):
            if self.can_write():
                with self.locked():
                    st = self._load()
                    if self._observe(st, persist=True):
                        self._save(st)
            else:
                self._observe(st, persist=False)
        return st

    def active_state(self) -> str:
        return self.state()["active_state"] if self.unit_exists() else "inactive"

    def main_pid(self) -> int:
        return int(self.state()["main_pid"]) if self.unit_exists() else 0

    # -- actions ---------------------------------------------------------------------------------------------------

    def start(self, use_faults: bool = True) -> tuple[bool, str]:
        """Start the unit. Returns (ok, message systemctl prints on failure)."""
        if use_faults and self.files.fault("hang-start"):
            ok, msg = self._hang_start()
            if not ok:
                return ok, msg
        with self.locked():
            st = self._load()
            self._observe(st, persist=True)
            if st["active_state"] in ("active", "reloading"):
                # A start of an active unit does nothing and succeeds (systemd returns 0, as SysV does).
                self._save(st)
                return True, ""
            return self._spawn(st)

    def _hang_start(self) -> tuple[bool, str]:
        """Fault "hang-start": the start job stays `activating` until the fault is lifted or TimeoutStartSec."""
        with self.locked():
            st = self._load()
            self._observe(st, persist=True)
            if st["active_state"] in ("active", "reloading"):
                self._save(st)
                return True, ""
            now = time.time()
            st.update(active_state="activating", sub_state="start", inactive_exit=now, state_change=now,
                      control_pid=os.getpid(), control_ticks=proc_start_ticks(os.getpid()))
            self._save(st)
            self.journal(f"Starting {UNIT} - {DESCRIPTION}...")
        deadline = time.monotonic() + TIMEOUT_START
        with self.files.held():
            while self.files.fault("hang-start") and time.monotonic() < deadline:
                time.sleep(0.1)
                if self._load()["active_state"] != "activating":
                    return False, f"Job for {UNIT} canceled.\n"
        if self.files.fault("hang-start"):
            with self.locked():
                st = self._load()
                now = time.time()
                st.update(active_state="failed", sub_state="failed", result="timeout", inactive_enter=now,
                          state_change=now)
                self._save(st)
                self.journal(f"{UNIT}: start operation timed out. Terminating.")
                self.journal(f"{UNIT}: Failed with result 'timeout'.")
                self.journal(f"Failed to start {UNIT} - {DESCRIPTION}.")
            return False, (f"Job for {UNIT} failed because a timeout was exceeded.\n"
                           f'See "systemctl status {UNIT}" and "journalctl -xeu {UNIT}" for details.\n')
        return True, ""

    def _spawn(self, st: dict[str, Any]) -> tuple[bool, str]:
        now = time.time()
        if st["active_state"] != "activating":
            self.journal(f"Starting {UNIT} - {DESCRIPTION}...")
        st.update(active_state="activating", sub_state="start", inactive_exit=now, state_change=now,
                  control_pid=os.getpid(), control_ticks=proc_start_ticks(os.getpid()))
        self._save(st)
        exe = self.sbin / "mmcentrald"
        code, out, err, cpid = 0, "", "", 0
        try:
            proc = subprocess.Popen([str(exe), *self.daemon_args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
            cpid = proc.pid
            try:
                o, e = proc.communicate(timeout=TIMEOUT_START)
                code, out, err = proc.returncode, o.decode(errors="replace"), e.decode(errors="replace")
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                code, err = -1, "timeout"
        except OSError as e:
            # systemd.exec(5): 203 EXIT_EXEC "The actual process execution failed (specifically, the execve(2) system
            # call). Most likely this is caused by a missing or non-accessible executable file."
            code, err = 203, str(e)
        main_pid = 0
        for line in out.splitlines():
            if line.startswith("MAINPID="):
                main_pid = int(line.split("=", 1)[1])
        now = time.time()
        st.update(control_last_pid=cpid, control_pid=0, control_ticks=None)
        if code == 0 and main_pid and pid_alive(main_pid):
            st.update(active_state="active", sub_state="running", result="success", main_pid=main_pid,
                      main_ticks=proc_start_ticks(main_pid), exec_main_pid=main_pid, exec_main_code=0,
                      exec_main_status=0, exec_main_start=now, exec_main_exit=None, active_enter=now,
                      state_change=now, control_code=CLD_EXITED, control_status=0)
            self._save(st)
            self.journal(f"Started {UNIT} - {DESCRIPTION}.")
            self.last_error = ""
            return True, ""
        reason = err.strip() or "Central exited during start-up"
        self.last_error = reason
        if code == -1:
            result, why = "timeout", "a timeout was exceeded"
        else:
            result, why = "exit-code", "the control process exited with error code"
        st.update(active_state="failed", sub_state="failed", result=result, main_pid=0, main_ticks=None,
                  inactive_enter=now, state_change=now, control_code=CLD_EXITED,
                  control_status=(code if code > 0 else 1))
        self._save(st)
        self.journal(f"{UNIT}: Control process exited, code=exited, status={status_text(st['control_status'])}")
        self.journal(f"{UNIT}: Failed with result '{result}'.")
        self.journal(f"Failed to start {UNIT} - {DESCRIPTION}.")
        self.event("start-failed")
        return False, (f"Job for {UNIT} failed because {why}.\n"
                       f'See "systemctl status {UNIT}" and "journalctl -xeu {UNIT}" for details.\n')

    def stop(self) -> tuple[bool, str]:
        with self.locked():
            st = self._load()
            self._observe(st, persist=True)
            if st["active_state"] not in ("active", "reloading", "activating", "deactivating") or not st["main_pid"]:
                # systemd src/core/unit.c, unit_stop(): "if (UNIT_IS_INACTIVE_OR_FAILED(state)) return -EALREADY;"
                # and the job then completes as done: stopping a unit that is not running succeeds and changes
                # nothing, so a failed unit stays failed (a start or `systemctl reset-failed` clears it).
                if st["active_state"] == "activating":  # a hung start job (fault "hang-start") is cancelled
                    now = time.time()
                    st.update(active_state="inactive", sub_state="dead", inactive_enter=now, state_change=now)
                self._save(st)
                return True, ""
            pid, ticks = st["main_pid"], st.get("main_ticks")
            now = time.time()
            st.update(active_state="deactivating", sub_state="stop-sigterm", state_change=now)
            self._save(st)
            self.journal(f"Stopping {UNIT} - {DESCRIPTION}...")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            killed = False
            if not wait_pid_gone(pid, ticks, TIMEOUT_STOP):
                # systemd.kill(5): after TimeoutStopSec= the remaining processes get SIGKILL.
                killed = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                wait_pid_gone(pid, ticks, 5)
            now = time.time()
            st.update(main_pid=0, main_ticks=None, exec_main_exit=now, active_exit=now, inactive_enter=now,
                      state_change=now)
            if killed:
                st.update(active_state="failed", sub_state="failed", result="timeout", exec_main_code=CLD_KILLED,
                          exec_main_status=int(signal.SIGKILL))
                self.journal(f"{UNIT}: State 'stop-sigterm' timed out. Killing.")
                self.journal(f"{UNIT}: Failed with result 'timeout'.")
            else:
                rec = read_json(self.files.state / f"exit-{pid}.json") or {}
                status = int(rec.get("code") or 0)
                # systemd.service(5), SuccessExitStatus=: "... the signals SIGHUP, SIGINT, SIGTERM, and SIGPIPE"
                # count as a clean exit; a daemon that exits 0 on SIGTERM is stopped cleanly.
                st.update(active_state="inactive", sub_state="dead", result="success", exec_main_code=CLD_EXITED,
                          exec_main_status=status)
                self.journal(f"{UNIT}: Deactivated successfully.")
            self.journal(f"Stopped {UNIT} - {DESCRIPTION}.")
            self._save(st)
            return True, ""

    def restart(self) -> tuple[bool, str]:
        self.stop()
        return self.start()

    def kill_main(self, sig: int = signal.SIGKILL) -> bool:
        """Send `sig` to the main process (host.crash(): SIGKILL, as a crash). Returns whether one was running."""
        st = self.state()
        pid = st["main_pid"]
        if not pid or not pid_alive(pid, st.get("main_ticks")):
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if sig == signal.SIGKILL:
            wait_pid_gone(pid, st.get("main_ticks"), 5)
            self.files.exit_record(pid, None, int(sig), "killed")
        self.state()
        return True

    def reset_failed(self) -> None:
        with self.locked():
            st = self._load()
            self._observe(st, persist=True)
            if st["active_state"] == "failed":
                st.update(active_state="inactive", sub_state="dead", result="success")
            self._save(st)


# ---------------------------------------------------------------------------------------------------------------
# systemctl stand-in
# ---------------------------------------------------------------------------------------------------------------


def _mangle(name: str) -> str:
    # systemctl(1): unit names without a suffix get ".service" appended.
    return name if "." in name else f"{name}.service"


def _fmt_ts(t: float | None, style: str) -> str:
    if not t:
        return ""
    if style == "unix":
        return f"@{int(t)}"
    utc = style in ("utc", "us+utc", "μs+utc")
    tm = time.gmtime(t) if utc else time.localtime(t)
    base = time.strftime("%a %Y-%m-%d %H:%M:%S", tm)
    if style in ("us", "μs", "us+utc", "μs+utc"):
        base += f".{int((t % 1) * 1e6):06d}"
    return f"{base} {'UTC' if utc else time.strftime('%Z', tm)}"


def _timespan(seconds: float) -> str:
    s = int(max(0, seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = []
    if d:
        parts.append(f"{d} day" + ("s" if d > 1 else ""))
    if h:
        parts.append(f"{h}h")
    if m:
        parts.append(f"{m}min")
    if s or not parts:
        parts.append(f"{s}s")
    return " ".join(parts[:2])


# systemctl show prints properties in D-Bus order: the service interface (Type, ..., MainPID, ...) before the unit
# interface (Id, ..., ActiveState, SubState, ..., ActiveEnterTimestamp, ...), whatever order -p gave them in.
SERVICE_PROPS = ["Type", "ExitType", "Restart", "PIDFile", "NotifyAccess", "RestartUSec", "TimeoutStartUSec",
                 "TimeoutStopUSec", "RemainAfterExit", "GuessMainPID", "MainPID", "ControlPID", "StatusErrno",
                 "Result", "ReloadResult", "CleanResult", "UID", "GID", "NRestarts", "ExecMainStartTimestamp",
                 "ExecMainExitTimestamp", "ExecMainPID", "ExecMainCode", "ExecMainStatus"]
UNIT_PROPS = ["Id", "Names", "Description", "LoadState", "ActiveState", "FreezerState", "SubState", "SourcePath",
              "FragmentPath", "UnitFileState", "UnitFilePreset", "StateChangeTimestamp", "InactiveExitTimestamp",
              "ActiveEnterTimestamp", "ActiveExitTimestamp", "InactiveEnterTimestamp", "CanStart", "CanStop",
              "CanReload", "CanIsolate", "CanFreeze"]
TIMESTAMP_PROPS = {"ExecMainStartTimestamp": "exec_main_start", "ExecMainExitTimestamp": "exec_main_exit",
                   "StateChangeTimestamp": "state_change", "InactiveExitTimestamp": "inactive_exit",
                   "ActiveEnterTimestamp": "active_enter", "ActiveExitTimestamp": "active_exit",
                   "InactiveEnterTimestamp": "inactive_enter"}


def show_properties(unit: str, st: dict[str, Any] | None, ts_style: str) -> list[tuple[str, str]]:
    loaded = st is not None
    s = st or _fresh_state()
    values: dict[str, str] = {
        "Type": "forking" if loaded else "simple", "ExitType": "main", "Restart": "no", "NotifyAccess": "none",
        "PIDFile": "",
        "RestartUSec": "100ms", "TimeoutStartUSec": "1min 30s", "TimeoutStopUSec": "1min 30s",
        "RemainAfterExit": "no", "GuessMainPID": "yes",
        "MainPID": str(s["main_pid"] or 0), "ControlPID": "0", "StatusErrno": "0",
        "Result": s["result"], "ReloadResult": "success", "CleanResult": "success", "UID": "[not set]",
        "GID": "[not set]", "NRestarts": str(s.get("n_restarts", 0)),
        "ExecMainPID": str(s["exec_main_pid"] or 0), "ExecMainCode": str(s["exec_main_code"] or 0),
        "ExecMainStatus": str(s["exec_main_status"] or 0),
        "Id": unit, "Names": unit, "Description": DESCRIPTION if loaded else unit,
        "LoadState": "loaded" if loaded else "not-found", "ActiveState": s["active_state"], "FreezerState": "running",
        "SubState": s["sub_state"], "SourcePath": SOURCE_PATH if loaded else "",
        "FragmentPath": FRAGMENT_PATH if loaded else "", "UnitFileState": "generated" if loaded else "",
        "UnitFilePreset": "", "CanStart": "yes" if loaded else "no", "CanStop": "yes" if loaded else "no",
        "CanReload": "no", "CanIsolate": "no", "CanFreeze": "yes",
    }
    for prop, key in TIMESTAMP_PROPS.items():
        values[prop] = _fmt_ts(s.get(key), ts_style)
    return [(p, values[p]) for p in SERVICE_PROPS + UNIT_PROPS]


def _status_lines(svc: Service, unit: str, st: dict[str, Any], lines: int, ts_style: str) -> list[str]:
    state = st["active_state"]
    dot = {"active": "●", "reloading": "●", "activating": "●", "deactivating": "●", "failed": "×"}.get(state, "○")
    now = time.time()
    out = [f"{dot} {unit} - {DESCRIPTION}",
           f"     Loaded: loaded ({SOURCE_PATH}; generated)"]

    def since(t: float | None) -> str:
        return f" since {_fmt_ts(t, ts_style if ts_style != 'unix' else 'pretty')}; {_timespan(now - t)} ago" if t \
            else ""

    if state in ("active", "reloading"):
        out.append(f"     Active: active (running){since(st['active_enter'])}")
    elif state == "failed":
        out.append(f"     Active: failed (Result: {st['result']}){since(st['inactive_enter'])}")
    elif state == "activating":
        out.append(f"     Active: activating ({st['sub_state']}){since(st['inactive_exit'])}")
    elif state == "deactivating":
        out.append(f"     Active: deactivating ({st['sub_state']}){since(st['state_change'])}")
    else:
        out.append(f"     Active: inactive (dead){since(st['inactive_enter'])}")
    if st.get("control_last_pid"):
        out.append(f"    Process: {st['control_last_pid']} ExecStart={EXEC_PATH} (code=exited, "
                   f"status={status_text(int(st.get('control_status') or 0))})")
    if state in ("active", "reloading", "deactivating") and st["main_pid"]:
        pid = st["main_pid"]
        out += [f"   Main PID: {pid} (mmcentrald)",
                "      Tasks: 1",
                f"     CGroup: /system.slice/{unit}",
                f"             └─{pid} {EXEC_PATH}"]
    elif st["exec_main_pid"]:
        how = (f"code=killed, signal={signal_name(st['exec_main_status'])}" if st["exec_main_code"] == CLD_KILLED
               else f"code=exited, status={status_text(st['exec_main_status'])}")
        out.append(f"   Main PID: {st['exec_main_pid']} ({how})")
    if lines > 0:
        entries = _journal_tail(svc, lines)
        if entries:
            out.append("")
            out += entries
    return out


def _journal_tail(svc: Service, n: int) -> list[str]:
    try:
        with open(svc.files.journal, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            raw = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    host = socket.gethostname().split(".")[0]
    out = []
    for line in raw[-n:]:
        parts = line.split("\t", 3)
        if len(parts) != 4:
            continue
        try:
            t = float(parts[0])
        except ValueError:
            continue
        out.append(f"{time.strftime('%b %d %H:%M:%S', time.localtime(t))} {host} {parts[1]}[{parts[2]}]: {parts[3]}")
    return out


def _parse_args(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    opts: dict[str, Any] = {"props": [], "value": False, "quiet": False, "lines": 10, "ts": "pretty",
                            "no_block": False, "signal": "SIGTERM"}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if a == "--":
            rest += argv[i + 1:]
            break
        if a.startswith("--property=") or a.startswith("-p") and len(a) > 2 or a.startswith("-P") and len(a) > 2:
            val = a.split("=", 1)[1] if a.startswith("--") else a[2:]
            opts["props"] += [p for p in val.split(",") if p]
            if a.startswith("-P"):
                opts["value"] = True
        elif a in ("-p", "--property", "-P"):
            if nxt is None:
                raise ValueError(f"option '{a}' requires an argument")
            opts["props"] += [p for p in nxt.split(",") if p]
            if a == "-P":
                opts["value"] = True
            i += 1
        elif a == "--value":
            opts["value"] = True
        elif a in ("-q", "--quiet"):
            opts["quiet"] = True
        elif a.startswith("--lines=") or a.startswith("-n") and len(a) > 2:
            opts["lines"] = int(a.split("=", 1)[1] if a.startswith("--") else a[2:])
        elif a in ("-n", "--lines"):
            opts["lines"] = int(nxt or 0)
            i += 1
        elif a.startswith("--timestamp="):
            opts["ts"] = a.split("=", 1)[1]
            if opts["ts"] not in ("pretty", "unix", "us", "μs", "utc", "us+utc", "μs+utc"):
                raise ValueError(f"Invalid value for --timestamp: {opts['ts']}")
        elif a.startswith("--signal=") or a.startswith("-s") and len(a) > 2:
            opts["signal"] = a.split("=", 1)[1] if a.startswith("--") else a[2:]
        elif a in ("-s", "--signal"):
            opts["signal"] = nxt or "SIGTERM"
            i += 1
        elif a == "--no-block":
            opts["no_block"] = True
        elif a in ("--no-pager", "-l", "--full", "-a", "--all", "--no-legend", "--plain", "--system",
                   "--no-ask-password", "--show-types", "-f", "--force", "--now", "--no-reload", "--no-warn"):
            pass
        elif a.startswith("-o") or a.startswith("--output=") or a.startswith("--job-mode=") or a == "--fail":
            pass
        elif a in ("-o", "--output"):
            i += 1
        elif a == "--user" or a in ("-H", "--host", "-M", "--machine") or a.startswith(("--host=", "--machine=")):
            raise ValueError(f"{a} is not supported by this stand-in")
        elif a.startswith("-") and a != "-":
            raise ValueError(f"unrecognized option '{a}'")
        else:
            rest.append(a)
        i += 1
    return opts, rest


def systemctl_main(argv: list[str], script: str) -> int:
    sbin = Path(os.path.abspath(script)).parent
    svc = Service(sbin, source="systemctl")
    # Test-only fault "hang": every systemctl call hangs (until the fault is lifted; never longer than HANG_LIMIT).
    if svc.files.fault("hang"):
        deadline = time.monotonic() + HANG_LIMIT
        with svc.files.held():
            while svc.files.fault("hang") and time.monotonic() < deadline:
                time.sleep(0.1)
    try:
        opts, rest = _parse_args(argv)
    except ValueError as e:
        print(f"systemctl: {e}", file=sys.stderr)
        return EXIT_FAILURE
    if not rest:
        rest = ["list-units"]
    verb, names = rest[0], [_mangle(n) for n in rest[1:]]
    out = sys.stdout

    def ours(unit: str) -> bool:
        return unit == UNIT and svc.unit_exists()

    if verb in ("start", "stop", "restart", "try-restart", "reload", "reload-or-restart", "kill", "reset-failed",
                "enable", "disable"):
        if not names:
            print("Too few arguments.", file=sys.stderr)
            return EXIT_FAILURE
        if os.geteuid() != 0:
            # Without polkit authorization (no agent on an SSH session), a non-root user cannot change units.
            for n in names:
                print(f"Failed to {verb} {n}: Interactive authentication required.\n"
                      f"See system logs and 'systemctl status {n}' for details.", file=sys.stderr)
            return EXIT_FAILURE
        rc = EXIT_SUCCESS
        for unit in names:
            if not ours(unit):
                if verb == "stop" or verb == "kill" or verb == "reset-failed":
                    print(f"Failed to {verb} {unit}: Unit {unit} not loaded.", file=sys.stderr)
                elif verb in ("enable", "disable"):
                    print(f"Failed to {verb} unit: Unit file {unit} does not exist.", file=sys.stderr)
                    rc = EXIT_FAILURE
                    continue
                else:
                    print(f"Failed to {verb} {unit}: Unit {unit} not found.", file=sys.stderr)
                rc = EXIT_NOTINSTALLED
                continue
            if verb == "start":
                svc.event("start")
                ok, msg = svc.start()
            elif verb == "stop":
                svc.event("stop")
                ok, msg = svc.stop()
            elif verb in ("restart", "reload-or-restart"):
                svc.event("restart")
                ok, msg = svc.restart()
            elif verb == "try-restart":
                if svc.active_state() != "active":
                    continue
                svc.event("restart")
                ok, msg = svc.restart()
            elif verb == "reload":
                print(f"Failed to reload {unit}: Job type reload is not applicable for unit {unit}.",
                      file=sys.stderr)
                rc = EXIT_NOTIMPLEMENTED
                continue
            elif verb == "kill":
                try:
                    sig = signal.Signals[opts["signal"] if opts["signal"].startswith("SIG") else "SIG" + opts["signal"]]
                except KeyError:
                    sig = signal.Signals(int(opts["signal"]))
                svc.event(f"kill-{sig.name}")
                svc.kill_main(sig)
                ok, msg = True, ""
            elif verb == "reset-failed":
                svc.reset_failed()
                ok, msg = True, ""
            else:  # enable/disable: the generated unit has no install state to change
                print(f"{unit} is not a native service, redirecting to systemd-sysv-install.", file=sys.stderr)
                print(f"Executing: /lib/systemd/systemd-sysv-install {verb} mmcentral", file=sys.stderr)
                ok, msg = True, ""
            if not ok:
                if not opts["no_block"]:
                    sys.stderr.write(msg)
                    rc = EXIT_FAILURE
        return rc

    if verb in ("is-active", "is-failed"):
        if not names:
            print("Too few arguments.", file=sys.stderr)
            return EXIT_FAILURE
        want = ("active", "reloading") if verb == "is-active" else ("failed",)
        hit = False
        for unit in names:
            state = svc.active_state() if ours(unit) else "inactive"
            hit = hit or state in want
            if not opts["quiet"]:
                print(state, file=out)
        # is-active: 0 if at least one is active, else 3 ("unit is not active"); is-failed: else 1.
        if hit:
            return EXIT_SUCCESS
        return EXIT_PROGRAM_NOT_RUNNING if verb == "is-active" else EXIT_FAILURE

    if verb == "is-enabled":
        rc = EXIT_SUCCESS
        for unit in names:
            if ours(unit):
                if not opts["quiet"]:
                    print("generated")
            else:
                print(f"Failed to get unit file state for {unit}: No such file or directory", file=sys.stderr)
                rc = EXIT_FAILURE
        return rc

    if verb == "status":
        if not names:
            print("● simulated-host\n    State: running\n     Jobs: 0 queued\n   Failed: 0 units", file=out)
            return EXIT_SUCCESS
        rc = EXIT_SUCCESS
        first = True
        for unit in names:
            if not ours(unit):
                print(f"Unit {unit} could not be found.", file=sys.stderr)
                rc = rc or EXIT_STATUS_UNKNOWN
                continue
            st = svc.state()
            if not first:
                print(file=out)
            first = False
            print("\n".join(_status_lines(svc, unit, st, opts["lines"], opts["ts"])), file=out)
            if st["active_state"] not in ("active", "reloading"):
                rc = rc or EXIT_PROGRAM_NOT_RUNNING
        return rc

    if verb == "show":
        if not names:
            props = [("Version", "252 (simulated)"), ("Virtualization", ""), ("SystemState", "running")]
            for k, v in props:
                if not opts["props"] or k in opts["props"]:
                    print(v if opts["value"] else f"{k}={v}", file=out)
            return EXIT_SUCCESS
        blocks = []
        for unit in names:
            unit_state = svc.state() if ours(unit) else None
            lines = []
            for k, v in show_properties(unit, unit_state, opts["ts"]):
                if opts["props"] and k not in opts["props"]:
                    continue
                if not opts["props"] and v == "":
                    continue  # without -p, systemctl show skips empty values (unless --all)
                lines.append(v if opts["value"] else f"{k}={v}")
            blocks.append("\n".join(lines))
        print("\n\n".join(blocks), file=out)
        return EXIT_SUCCESS

    if verb in ("daemon-reload", "daemon-reexec"):
        if os.geteuid() != 0:
            print("Failed to reload daemon: Interactive authentication required.", file=sys.stderr)
            return EXIT_FAILURE
        return EXIT_SUCCESS

    if verb in ("list-units", "list-unit-files"):
        if svc.unit_exists():
            st = svc.state()
            if verb == "list-units":
                print(f"  {UNIT} loaded {st['active_state']} {st['sub_state']} {DESCRIPTION}", file=out)
            else:
                print(f"{UNIT} generated -", file=out)
        return EXIT_SUCCESS

    print(f"Unknown command verb '{verb}'.", file=sys.stderr)
    return EXIT_FAILURE
