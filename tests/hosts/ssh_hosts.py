"""Real OpenSSH servers on loopback, each a Linux host running the simulated Central.

Every host runs Debian's ``sshd`` inside a private mount namespace where ``/var/mmsuite`` is the
host's own folder and ``/usr/local/sbin`` holds the simulator's stand-ins for ``systemctl`` and
``mmcentrald`` (tests/hosts/central, written from the vendor's documentation), so hacontrol's
production paths and commands run unchanged and Central behaves as the vendor documents it:
heartbeats into a shared store, registration, sticky Active, failover after the allowed downtime.
``/root`` is an empty folder there, which keeps the machine's shell start-up files (pyenv: +80 ms a
command) out of every command.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.hosts.central import CentralStore, SimulatedCentralHost

SSH_PORT = 2222
# A non-root login for permission tests; '*' (not '!') so sshd does not see it as locked.
TEST_USER = "hacontrol-test"
SSHD = "/usr/sbin/sshd"
DATABASE_SERVER = "db.example.com@mmsuite"
# The shortest heartbeat settings the vendor allows (ha_tweaks_central: 5-15 and 20-120 s), so that
# the failovers the tests wait for take 25 s, not 40.
INITIAL_PREFERENCES = (
    '<Database value="postgresql"/>\n'
    f'<DatabaseServer value="{DATABASE_SERVER}"/>\n'
    '<DatabaseUsername value="mmsuite"/>\n'
    '<HeartbeatInterval value="5"/>\n'
    '<HeartbeatMaxAllowedDowntime value="20"/>\n'
)
# A freshly installed Central: the vendor's defaults, SQLite (central_sqlite), no cluster settings.
FRESH_PREFERENCES = '<Database value="sqlite"/>\n'


@dataclass
class SSHHost:
    """One test host: its address, folder, host key, the sshd serving it and its Central."""

    address: str
    root: Path
    central: SimulatedCentralHost
    port: int = SSH_PORT
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "mmsuite" / "mmcentral"

    @property
    def preferences(self) -> Path:
        return self.data / "preferences.cfg"

    @property
    def host_key_line(self) -> str:
        return " ".join((self.root / "ssh_host_ed25519_key.pub").read_text().split()[:2])

    def events(self) -> list[str]:
        """The service actions asked of systemctl, in order: 'stop', 'start', 'restart', 'start-failed'..."""
        return self.central.events()

    @property
    def service_state(self) -> str:
        return self.central.service_state

    def fault(self, name: str, on: bool | float = True) -> None:
        self.central.fault(name, on)

    def backups(self) -> list[Path]:
        return sorted(self.data.glob("preferences.cfg.hacontrol-*.bak"))

    def reset(self, preferences: str | bytes = INITIAL_PREFERENCES, version: str = "11.0.3", running: bool = True) -> None:
        """Back to a fresh, running, un-clustered Central, its clock the console's."""
        self.central.clock_offset = 0
        self.central.reset(preferences, version=version, running=running)

    def set_name(self, name: str) -> None:
        """Add ClusterMemberName to the preferences, as the vendor's step 1 does by hand."""
        self.preferences.write_text(self.preferences.read_text() + f'<ClusterMemberName value="{name}"/>\n')

    def write_config(self, key_name: str = "ssh_host_ed25519_key") -> None:
        (self.root / "sshd_config").write_text(
            f"ListenAddress {self.address}:{self.port}\n"
            f"HostKey {self.root / key_name}\n"
            f"PidFile {self.root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.root.parent / 'authorized_keys'}\n"
            "PermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nMaxStartups 200\nMaxSessions 200\nUseDNS no\n"
            "LogLevel ERROR\nSubsystem sftp internal-sftp\n"
        )

    def start(self, key_name: str = "ssh_host_ed25519_key") -> None:
        """Start sshd in the host's own mount namespace and wait until it accepts connections."""
        self.write_config(key_name)
        binds = [
            (self.root / "mmsuite", "/var/mmsuite"),
            (self.root / "sbin", "/usr/local/sbin"),
            (self.root / "home", "/root"),
        ]
        if Path("/etc/sudoers.d").is_dir():
            binds.append((self.root / "sudoers.d", "/etc/sudoers.d"))
        mounts = " && ".join(f"mount --bind {source} {target}" for source, target in binds)
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"{mounts} && exec {SSHD} -D -e -f {self.root / 'sshd_config'}"],
            start_new_session=True, stderr=(self.root / "sshd.log").open("ab"),
        )
        wait_for_port(self.address, self.port)

    def namespace_pids(self) -> list[int]:
        """Every process of the host's sshd namespace (sessions and what they started)."""
        if self.process is None or self.process.poll() is not None:
            return []
        namespace = os.readlink(f"/proc/{self.process.pid}/ns/mnt")
        found = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if os.readlink(f"/proc/{pid}/ns/mnt") == namespace:
                        found.append(int(pid))
                except (FileNotFoundError, ProcessLookupError, PermissionError):
                    pass
        return found

    def stop(self) -> None:
        """Stop sshd and every session it serves: the host no longer answers SSH, while Central
        (started there or here) keeps running, as when only sshd dies."""
        if self.process is None:
            return
        sessions = [pid for pid in self.namespace_pids() if pid != self.central.pid]
        self.process.kill()
        self.process.wait()
        for pid in sessions:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process = None

    def kill(self) -> bool:
        """The whole host dies at once: everything in it is frozen first (so nothing it was
        starting can escape), then Central, its sessions and sshd are killed. Returns whether
        Central was running."""
        self.freeze()
        was_running = self.central.running
        self.central.crash()
        for pid in self.namespace_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None:
            self.process.wait()
            self.process = None
        return was_running

    def reboot(self, central: bool) -> None:
        """The host comes back: sshd starts, and Central with it when it ran as the host died
        (an administrator's stop is taken as meaning stopped, across a reboot too)."""
        self.start()
        if central and not self.central.running:
            self.central.start()

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or resume) every process of the host's sshd: connections stay open, nothing answers."""
        for pid in self.namespace_pids():
            if pid != self.central.pid:
                try:
                    os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def change_host_key(self) -> None:
        """Restart with a brand-new host key, as a reinstalled (or impostor) host would."""
        self.stop()
        key = self.root / "ssh_host_ed25519_key_new"
        key.unlink(missing_ok=True)
        Path(f"{key}.pub").unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        self.start("ssh_host_ed25519_key_new")


def wait_for_port(address: str, port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshd on {address}:{port} did not start") from None
            time.sleep(0.02)


def make_client_key(base: Path) -> Path:
    """An ed25519 key pair the tests log in with; its public half authorises root everywhere."""
    key = base / "client_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (base / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    # sshd reads authorized_keys as the logging-in user, who may not be root.
    base.chmod(0o755)
    (base / "authorized_keys").chmod(0o644)
    return key


def host_python() -> str:
    """An interpreter the hosts can run: inside them /root is an empty folder, so one installed
    under /root (pyenv) is replaced by the system's (the stand-ins need only the standard library)."""
    real = os.path.realpath(sys.executable)
    return "/usr/bin/python3" if real.startswith("/root/") and os.path.exists("/usr/bin/python3") else real


def make_hosts(base: Path, store: CentralStore, count: int, first: int = 10, network: str = "127.0.0.") -> list[SSHHost]:
    """Create ``count`` hosts on <network><first>... with a running Central each, and start them."""
    Path("/run/sshd").mkdir(exist_ok=True)
    if subprocess.run(["id", TEST_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", "--password", "*", TEST_USER], check=True)
    Path("/var/mmsuite").mkdir(exist_ok=True)
    hosts = []
    for index in range(count):
        address = f"{network}{first + index}"
        root = base / f"host-{address}"
        (root / "home").mkdir(parents=True, exist_ok=True)
        # Inside the host only: the non-root test user may use sudo without a password.
        (root / "sudoers.d").mkdir(exist_ok=True)
        (root / "sudoers.d" / "hacontrol-test").write_text(f"{TEST_USER} ALL=(root) NOPASSWD: ALL\n")
        (root / "sudoers.d" / "hacontrol-test").chmod(0o440)
        key = root / "ssh_host_ed25519_key"
        if not key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        central = SimulatedCentralHost(root, address, store, python=host_python())
        central.install()
        host = SSHHost(address=address, root=root, central=central)
        host.reset()
        host.start()
        hosts.append(host)
    return hosts
