"""The emulated Windows host: drives, environment, services, processes, Micetro Central and its installer.

Sources (comments below cite the rule each line encodes):
* Central's install folder and data files: vendor docs ``guides/implementation/config_files.rst``
  (``C:\\Program Files\\Men and Mice\\Central`` install directory,
  ``C:\\ProgramData\\Men and Mice\\Central\\preferences.cfg`` configuration file) and
  ``install_central.rst`` ("The service will be started automatically after installation"; "The installer
  creates the data directories ... at the default location ... even if the installation target is on a
  different drive or path").
* Service states / codes: MS-SCMR 2.2.47/2.2.49 SERVICE_STATUS(_PROCESS)
  https://learn.microsoft.com/openspecs/windows_protocols/ms-scmr/c2f0ab87-eb16-4371-8380-ddf9cd29931e
* Win32 error codes: https://learn.microsoft.com/windows/win32/debug/system-error-codes--0-499- and
  --1000-1299- (5 ERROR_ACCESS_DENIED, 1056 ERROR_SERVICE_ALREADY_RUNNING, 1060 ERROR_SERVICE_DOES_NOT_EXIST,
  1062 ERROR_SERVICE_NOT_ACTIVE, 1067 ERROR_PROCESS_ABORTED).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Protocol, runtime_checkable

from . import paths as wp
from .paths import WinFS

# ---------------------------------------------------------------------------------------------------------
# Emulated executables.  A file is a program of this host when it starts with MARK; the first line after it
# names the program and the following ``key=value`` lines are its properties (e.g. version=11.0.3).
MARK = b"MZ\x90\x00#WINDOWS-HOST-EMULATOR-PROGRAM:"


def program_bytes(name: str, **props: str) -> bytes:
    body = name + "\n" + "".join(f"{k}={v}\n" for k, v in props.items())
    return MARK + body.encode("utf-8") + b"\x00" * 64


def read_program(real: Path) -> tuple[str, dict[str, str]] | None:
    try:
        with open(real, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if not head.startswith(MARK):
        return None
    text = head[len(MARK):].split(b"\x00", 1)[0].decode("utf-8", "replace")
    lines = text.split("\n")
    props = {}
    for line in lines[1:]:
        if "=" in line:
            k, v = line.split("=", 1)
            props[k.strip()] = v.strip()
    return lines[0].strip(), props


def windows_installer(directory: Path, version: str) -> Path:
    """Write a Micetro Central Windows installer stand-in for ``version`` into ``directory``.

    # ASSUMPTION: the file name follows the Linux package naming shown in install_central.rst
    # (micetro-central-10.3.5.linux.x64.tgz) with "windows" and ".exe".
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / f"micetro-central-{version}.windows.x64.exe"
    p.write_bytes(program_bytes("micetro-central-installer", version=version) + b"installer payload\n" * 64)
    return p


# ---------------------------------------------------------------------------------------------------------
# Win32 errors used by the service control paths, with FormatMessage texts from the System Error Codes pages.
WIN32_MESSAGES = {
    2: "The system cannot find the file specified.",
    3: "The system cannot find the path specified.",
    5: "Access is denied.",
    1053: "The service did not respond to the start or control request in a timely fashion.",
    1056: "An instance of the service is already running.",
    1058: "The service cannot be started, either because it is disabled or because it has no enabled devices "
          "associated with it.",
    1060: "The specified service does not exist as an installed service.",
    1062: "The service has not been started.",
    1067: "The process terminated unexpectedly.",
}


@runtime_checkable
class CentralService(Protocol):
    """What the host needs from the Central behind the ``mmcentral`` service."""

    running: bool
    started_at: Optional[float]

    def start(self) -> Any: ...  # False or an exception means Central could not start

    def stop(self) -> None: ...

    def kill(self) -> None: ...


class TrivialCentral:
    """Default Central: starts and stops, nothing else."""

    def __init__(self, host: "WindowsHost"):
        self.host = host
        self.running = False
        self.started_at: Optional[float] = None

    def start(self) -> bool:
        self.running = True
        self.started_at = time.time()
        return True

    def stop(self) -> None:
        self.running = False
        self.started_at = None

    def kill(self) -> None:
        self.stop()


@dataclass
class ProcessInfo:
    pid: int
    name: str
    path: str
    command_line: str
    start_time: datetime
    parent_pid: int = 0
    session_id: int = 0


@dataclass
class Service:
    name: str
    display_name: str
    path_name: str
    start_mode: str = "Auto"          # Win32_Service.StartMode: Boot, System, Auto, Manual, Disabled
    state: str = "Stopped"            # Win32_Service.State: Stopped, Start Pending, Stop Pending, Running, ...
    pid: int = 0
    service_type: str = "Own Process"
    start_name: str = "LocalSystem"
    description: str = ""
    is_central: bool = False
    exit_code: int = 0
    started_at: Optional[datetime] = None
    accept_stop: bool = True


class WindowsHost:
    """One emulated Windows Server.  See the module docstring for the sources of its rules."""

    def __init__(self, root: Path, *, central_installed: bool = True, service_name: str = "mmcentral",
                 display_name: str = "Micetro Central",
                 install_dir: str = r"C:\Program Files\Men and Mice\Central", version: str = "11.0.3",
                 central_factory: Callable[["WindowsHost"], CentralService] | None = None,
                 hostname: str = "WIN-CENTRAL1", clock_offset: float = 0.0, central_running: bool = True):
        self.root = Path(root)
        self.lock = threading.RLock()
        self.hostname = hostname.upper()
        self.clock_offset = clock_offset
        self.service_name = service_name
        self.display_name = display_name
        self.install_dir = wp.normalize(install_dir)
        self._faults: dict[str, Any] = {}
        self._events: list[str] = []
        self.central_factory = central_factory
        self.central: Optional[CentralService] = None
        self._central_version: Optional[str] = None
        self.unsupported: list[str] = []   # PowerShell commands the emulator does not implement (diagnostics)
        drives = {"C", self.install_dir[0].upper()}
        self.fs = WinFS(self.root, tuple(sorted(drives)))
        self.services: dict[str, Service] = {}
        self.processes: dict[int, ProcessInfo] = {}
        self._next_pid = 1000
        self._boot = self.now() - timedelta(hours=3)
        self._layout()
        self._base_processes()
        if central_installed:
            self._install_files(version, self.install_dir)
            self._register_central_service()
            if central_running:
                err = self.service_start(self.service_name, record=False)
                if err:
                    raise RuntimeError(f"Central could not start at host setup: {WIN32_MESSAGES.get(err, err)}")

    # ------------------------------------------------------------------ basics
    def now(self) -> datetime:
        # ASSUMPTION: the host's local time zone is UTC (keeps DateTime and DateTimeOffset simple).
        return datetime.now(timezone.utc) + timedelta(seconds=self.clock_offset)

    def path(self, winpath: str) -> Path:
        """The real file behind a Windows path."""
        return self.fs.real(winpath)

    @property
    def preferences(self) -> Path:
        return self.fs.real(r"C:\ProgramData\Men and Mice\Central\preferences.cfg")

    @property
    def data_dir(self) -> Path:
        return self.fs.real(r"C:\ProgramData\Men and Mice\Central")

    def events(self) -> list[str]:
        with self.lock:
            return list(self._events)

    def event(self, e: str) -> None:
        with self.lock:
            self._events.append(e)

    def fault(self, name: str, on: Any = True) -> None:
        """Fault knobs: fail_start, fail_install, slow_install (True or seconds), hang (server level),
        access_denied (service control refused with error 5)."""
        known = {"fail_start", "fail_install", "slow_install", "hang", "access_denied"}
        if name not in known:
            raise ValueError(f"unknown fault {name!r}; known: {sorted(known)}")
        with self.lock:
            if on is False or on is None:
                self._faults.pop(name, None)
            else:
                self._faults[name] = on

    def faulted(self, name: str) -> Any:
        return self._faults.get(name)

    # ------------------------------------------------------------------ layout
    SYSTEM32 = r"C:\Windows\System32"
    PS_HOME = r"C:\Windows\System32\WindowsPowerShell\v1.0"

    def _layout(self) -> None:
        fs = self.fs
        for d in (r"C:\Windows\System32\WindowsPowerShell\v1.0", r"C:\Windows\System32\wbem",
                  r"C:\Windows\Temp", r"C:\ProgramData", r"C:\Program Files", r"C:\Program Files (x86)",
                  r"C:\Users\Administrator\AppData\Local\Temp", r"C:\Users\Administrator\AppData\Roaming",
                  r"C:\Users\Administrator\Documents", r"C:\Users\Public"):
            fs.mkdir(d)
        # Programs of %SystemRoot%\System32 this host emulates; powershell.exe lives in
        # System32\WindowsPowerShell\v1.0 (its $PSHOME, on the default PATH).
        for exe in ("sc.exe", "cmd.exe", "fsutil.exe", "where.exe", "hostname.exe", "whoami.exe"):
            p = fs.real(wp.join(self.SYSTEM32, exe))
            if not p.exists():
                p.write_bytes(program_bytes(exe[:-4]))
        p = fs.real(wp.join(self.PS_HOME, "powershell.exe"))
        if not p.exists():
            p.write_bytes(program_bytes("powershell", version="5.1.17763.1"))

    def system_env(self, user: str = "Administrator") -> dict[str, str]:
        """The environment a WinRM shell of ``user`` starts with.
        # ASSUMPTION: values of a default Windows Server 2019 install (PATH without any application folder:
        # Central's installer does not add its folder to PATH)."""
        prof = f"C:\\Users\\{user}"
        return {
            "ALLUSERSPROFILE": r"C:\ProgramData",
            "APPDATA": prof + r"\AppData\Roaming",
            "CommonProgramFiles": r"C:\Program Files\Common Files",
            "CommonProgramFiles(x86)": r"C:\Program Files (x86)\Common Files",
            "CommonProgramW6432": r"C:\Program Files\Common Files",
            "COMPUTERNAME": self.hostname,
            "ComSpec": r"C:\Windows\system32\cmd.exe",
            "LOCALAPPDATA": prof + r"\AppData\Local",
            "NUMBER_OF_PROCESSORS": "2",
            "OS": "Windows_NT",
            "Path": r"C:\Windows\system32;C:\Windows;C:\Windows\System32\Wbem;"
                    r"C:\Windows\System32\WindowsPowerShell\v1.0\;" + prof + r"\AppData\Local\Microsoft\WindowsApps",
            "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC",
            "PROCESSOR_ARCHITECTURE": "AMD64",
            "ProgramData": r"C:\ProgramData",
            "ProgramFiles": r"C:\Program Files",
            "ProgramFiles(x86)": r"C:\Program Files (x86)",
            "ProgramW6432": r"C:\Program Files",
            "PSModulePath": prof + r"\Documents\WindowsPowerShell\Modules;C:\Program Files\WindowsPowerShell\Modules;"
                            r"C:\Windows\system32\WindowsPowerShell\v1.0\Modules",
            "PUBLIC": r"C:\Users\Public",
            "SystemDrive": "C:",
            "SystemRoot": r"C:\Windows",
            "TEMP": prof + r"\AppData\Local\Temp",
            "TMP": prof + r"\AppData\Local\Temp",
            "USERDOMAIN": self.hostname,
            "USERNAME": user,
            "USERPROFILE": prof,
            "windir": r"C:\Windows",
        }

    def user_dirs(self, user: str) -> None:
        self.fs.mkdir(f"C:\\Users\\{user}\\AppData\\Local\\Temp")
        self.fs.mkdir(f"C:\\Users\\{user}\\AppData\\Roaming")

    # ------------------------------------------------------------------ processes
    def _base_processes(self) -> None:
        t = self._boot
        self.processes[4] = ProcessInfo(4, "System", "", "", t)
        self.processes[612] = ProcessInfo(612, "services.exe", r"C:\Windows\system32\services.exe",
                                          r"C:\Windows\system32\services.exe", t, 4)
        winrm_pid = 1396
        self.processes[winrm_pid] = ProcessInfo(winrm_pid, "svchost.exe", r"C:\Windows\System32\svchost.exe",
                                                r"C:\Windows\System32\svchost.exe -k NetworkService -p", t, 612)
        self.services["winrm"] = Service(
            "WinRM", "Windows Remote Management (WS-Management)",
            r"C:\Windows\System32\svchost.exe -k NetworkService -p", "Auto", "Running", winrm_pid,
            "Share Process", "NT AUTHORITY\\NetworkService", started_at=t)
        self.services["eventlog"] = Service(
            "EventLog", "Windows Event Log", r"C:\Windows\System32\svchost.exe -k LocalServiceNetworkRestricted -p",
            "Auto", "Running", winrm_pid, "Share Process", "NT AUTHORITY\\LocalService", started_at=t)

    def new_pid(self) -> int:
        with self.lock:
            while True:
                self._next_pid += 4  # Windows process ids are multiples of 4
                if self._next_pid not in self.processes:
                    return self._next_pid

    def spawn(self, name: str, path: str, command_line: str, parent: int = 0) -> ProcessInfo:
        with self.lock:
            pi = ProcessInfo(self.new_pid(), name, path, command_line, self.now(), parent)
            self.processes[pi.pid] = pi
            return pi

    def exit_process(self, pid: int) -> None:
        with self.lock:
            self.processes.pop(pid, None)

    # ------------------------------------------------------------------ Central files and service
    @property
    def central_exe(self) -> str:
        return wp.join(self.install_dir, "mmcentral.exe")

    def _install_files(self, version: str, install_dir: str) -> None:
        self.install_dir = wp.normalize(install_dir)
        if not self.fs.has_drive(self.install_dir[0]):
            self.fs.add_drive(self.install_dir[0])
        self.fs.write_bytes(wp.join(self.install_dir, "mmcentral.exe"),
                            program_bytes("mmcentral", version=version, product=self.display_name))
        # install_central.rst: the data directories are created at the default location whatever the target.
        self.fs.mkdir(r"C:\ProgramData\Men and Mice\Central")
        self.fs.mkdir(r"C:\ProgramData\Men and Mice\Central\logs")
        prefs = self.preferences
        if not prefs.exists():
            # ASSUMPTION: a fresh install leaves an empty preferences.cfg (the docs only name the file).
            prefs.write_bytes(b"")

    def _register_central_service(self) -> None:
        # ASSUMPTION: the installer registers ImagePath quoted (Win32_Service.PathName shows the quotes),
        # as Windows needs for paths with spaces.
        self.services[self.service_name.casefold()] = Service(
            self.service_name, self.display_name, f'"{self.central_exe}"', "Auto", "Stopped",
            description="Micetro Central server", is_central=True)

    @property
    def central_service(self) -> Optional[Service]:
        for s in list(self.services.values()):
            if s.is_central:
                return s
        return None

    @property
    def service_state(self) -> str:
        s = self.central_service
        return s.state if s else "NotInstalled"

    @property
    def version(self) -> Optional[str]:
        s = self.central_service
        if not s:
            return None
        info = read_program(self.fs.real(self.central_exe))
        return info[1].get("version") if info else None

    def find_service(self, name: str) -> Optional[Service]:
        return self.services.get(name.casefold())

    def find_service_by_display(self, display: str) -> Optional[Service]:
        for s in list(self.services.values()):
            if s.display_name.casefold() == display.casefold():
                return s
        return None

    def _backend(self) -> CentralService:
        version = self.version
        if self.central is None or self._central_version != version:
            factory = self.central_factory or TrivialCentral
            self.central = factory(self)
            self._central_version = version
        return self.central

    def service_start(self, name: str, record: bool = True) -> int:
        """StartService semantics; returns a Win32 error code (0 on success)."""
        with self.lock:
            svc = self.find_service(name)
            if svc is None:
                return 1060
            if self.faulted("access_denied"):
                return 5
            if svc.state in ("Running", "Start Pending"):
                return 1056
            if svc.start_mode == "Disabled":
                return 1058
            if svc.is_central:
                if not self.fs.is_file(self.central_exe):
                    return 2
                if self.faulted("fail_start"):
                    if record:
                        self.event("start-failed")
                    return 1067
                svc.state = "Start Pending"
                try:
                    ok = self._backend().start()
                except Exception:  # Central refused to start
                    ok = False
                if ok is False:
                    svc.state = "Stopped"
                    svc.exit_code = 1067
                    if record:
                        self.event("start-failed")
                    return 1067
                exe = self.central_exe
                pi = self.spawn("mmcentral.exe", exe, svc.path_name, 612)
            else:
                pi = self.spawn(wp.leaf(svc.path_name.split('"')[1] if svc.path_name.startswith('"')
                                        else svc.path_name.split(" ")[0]), "", svc.path_name, 612)
            svc.state = "Running"
            svc.pid = pi.pid
            svc.exit_code = 0
            svc.started_at = pi.start_time
            if record:
                self.event("start")
            return 0

    def service_stop(self, name: str, record: bool = True) -> int:
        with self.lock:
            svc = self.find_service(name)
            if svc is None:
                return 1060
            if self.faulted("access_denied"):
                return 5
            if svc.state in ("Stopped", "Stop Pending"):
                return 1062
            if svc.is_central and self.central is not None:
                try:
                    self.central.stop()
                except Exception:
                    pass
            self.exit_process(svc.pid)
            svc.state = "Stopped"
            svc.pid = 0
            svc.started_at = None
            if record:
                self.event("stop")
            return 0

    def shutdown(self) -> None:
        """Test teardown: stop a running Central backend (the simulator's threads)."""
        with self.lock:
            if self.central is not None and getattr(self.central, "running", False):
                try:
                    self.central.stop()
                except Exception:
                    pass

    def crash_central(self) -> None:
        """Central's process dies (not a service stop): the SCM then reports the service Stopped."""
        with self.lock:
            svc = self.central_service
            if svc and svc.state == "Running":
                if self.central is not None:
                    self.central.kill()
                self.exit_process(svc.pid)
                svc.state = "Stopped"
                svc.pid = 0
                svc.exit_code = 1067
                self.event("crash")

    # ------------------------------------------------------------------ installer
    def run_installer(self, ctx, version: str, silent: bool, target_dir: Optional[str]) -> int:
        """The Central installer stand-in.  Silent (/S) runs install and start the service; an interactive
        run waits for on-screen input, i.e. hangs until its process is terminated."""
        if not silent:
            # A GUI installer started over WinRM has no desktop to show its wizard on: it waits forever.
            ctx.stdin.kill_event = ctx.kill_event
            while True:
                ctx.sleep(3600)
        slow = self.faulted("slow_install")
        if slow:
            ctx.sleep(float(slow) if not isinstance(slow, bool) else 5.0)
        if self.faulted("fail_install"):
            self.event(f"install-failed-{version}")
            # ASSUMPTION: an aborted silent NSIS install exits with code 2 ("aborted by script").
            return 2
        with self.lock:
            svc = self.central_service
            if svc and svc.state == "Running":
                self.service_stop(svc.name)
            target = self.install_dir if svc else wp.normalize(target_dir or self.install_dir)
            self._install_files(version, target)
            if not svc:
                self._register_central_service()
            self.event(f"install-{version}")
            self.service_start(self.service_name)
        # ASSUMPTION: the installer's exit code reports the installation, not the service start.
        return 0

    def install_central(self, version: str, install_dir: Optional[str] = None) -> None:
        """Install (or update) Central directly, as the silent installer would."""
        with self.lock:
            svc = self.central_service
            if svc and svc.state == "Running":
                self.service_stop(svc.name, record=False)
            self._install_files(version, install_dir or self.install_dir)
            if not svc:
                self._register_central_service()
            self.service_start(self.service_name, record=False)
