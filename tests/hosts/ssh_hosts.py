"""Real OpenSSH servers on loopback, each a Central host of its own.

Every host runs Debian's ``sshd`` inside a private mount namespace where ``/var/mmsuite`` is the
host's own folder and ``/usr/local/sbin`` holds stand-ins for ``systemctl`` and ``mmcentrald``, so
hacontrol's production paths and commands run unchanged. ``/root`` is an empty folder there, which
keeps the machine's shell start-up files (pyenv: +80 ms a command) out of every command.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSH_PORT = 2222
# A non-root login for permission tests; '*' (not '!') so sshd does not see it as locked.
TEST_USER = "hacontrol-test"
SSHD = "/usr/sbin/sshd"
INITIAL_PREFERENCES = (
    '<Database value="postgresql"/>\n'
    '<DatabaseServer value="db.example.com@mmsuite"/>\n'
    '<DatabaseUsername value="mmsuite"/>\n'
)

SYSTEMCTL = r"""#!/bin/sh
# Stand-in for systemctl, driving a pretend mmcentral service through files in its folder.
dir=/var/mmsuite/mmcentral
action=$1; unit=${2%.service}
[ -e $dir/.hang ] && sleep 3600
[ "$1" = start ] && [ -e $dir/.hang-start ] && sleep 3600
if [ "$unit" != mmcentral ]; then echo "Unit $2.service could not be found." >&2; exit 4; fi
state=$(cat $dir/.service 2>/dev/null || echo inactive)
note() { echo "$1 $(date +%s.%N)" >> $dir/.events; }
case "$action" in
  stop) echo inactive > $dir/.service; note stop ;;
  start|restart)
    if [ -e $dir/.fail-start ] || [ -e $dir/.fail-start-once ]; then
      rm -f $dir/.fail-start-once
      echo failed > $dir/.service; note "$action-failed"
      echo "Job for mmcentral.service failed because the control process exited with error code." >&2
      exit 1
    fi
    echo active > $dir/.service; note "$action" ;;
  is-active) echo "$state"; [ "$state" = active ] || exit 3 ;;
  status) echo "* mmcentral.service - Men&Mice Central"; echo "   Active: $state"; [ "$state" = active ] || exit 3 ;;
  *) echo "Unknown command verb $action." >&2; exit 1 ;;
esac
"""

MMCENTRALD = r"""#!/bin/sh
# Stand-in for Central's daemon: only -v is needed.
if [ "$1" = -v ]; then echo "Men&Mice Central version $(cat /var/mmsuite/mmcentral/.version)"; exit 0; fi
echo "usage: mmcentrald -v" >&2; exit 2
"""


@dataclass
class SSHHost:
    """One test host: its address, folder, host key, and the sshd serving it."""

    address: str
    root: Path
    port: int = SSH_PORT
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def central(self) -> Path:
        return self.root / "mmsuite" / "mmcentral"

    @property
    def preferences(self) -> Path:
        return self.central / "preferences.cfg"

    @property
    def host_key_line(self) -> str:
        return " ".join((self.root / "ssh_host_ed25519_key.pub").read_text().split()[:2])

    def events(self) -> list[str]:
        """The service actions in order: 'stop', 'start', 'restart', 'start-failed'..."""
        path = self.central / ".events"
        return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []

    @property
    def service_state(self) -> str:
        return (self.central / ".service").read_text().strip()

    def set_service(self, state: str) -> None:
        (self.central / ".service").write_text(state + "\n")

    def set_version(self, version: str) -> None:
        (self.central / ".version").write_text(version + "\n")

    def fault(self, name: str, on: bool = True) -> None:
        """Switch a fault on or off: 'fail-start', 'fail-start-once', 'hang' or 'hang-start'."""
        path = self.central / f".{name}"
        if on:
            path.touch()
        else:
            path.unlink(missing_ok=True)

    def backups(self) -> list[Path]:
        return sorted(self.central.glob("preferences.cfg.hacontrol-*.bak"))

    def reset(self, preferences: str = INITIAL_PREFERENCES, version: str = "11.0.3") -> None:
        """Back to a fresh, running, un-clustered Central."""
        if self.central.exists():
            shutil.rmtree(self.central)
        self.central.mkdir(parents=True)
        self.preferences.write_text(preferences)
        self.set_version(version)
        self.set_service("active")

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

    def stop(self) -> None:
        """Kill the listener and every session it serves (all processes in its namespace)."""
        if self.process is None:
            return
        namespace = os.readlink(f"/proc/{self.process.pid}/ns/mnt") if self.process.poll() is None else None
        self.process.kill()
        self.process.wait()
        if namespace:
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        if os.readlink(f"/proc/{pid}/ns/mnt") == namespace:
                            os.kill(int(pid), signal.SIGKILL)
                    except (FileNotFoundError, ProcessLookupError, PermissionError):
                        pass
        self.process = None

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
    shutil.copy(f"{key}.pub", base / "authorized_keys")
    # sshd reads authorized_keys as the logging-in user, who may not be root.
    base.chmod(0o755)
    (base / "authorized_keys").chmod(0o644)
    return key


def make_hosts(base: Path, count: int, first: int = 10, network: str = "127.0.0.") -> list[SSHHost]:
    """Create ``count`` hosts on <network><first>... and start them."""
    Path("/run/sshd").mkdir(exist_ok=True)
    if subprocess.run(["id", TEST_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", "--password", "*", TEST_USER], check=True)
    Path("/var/mmsuite").mkdir(exist_ok=True)
    hosts = []
    for index in range(count):
        root = base / f"host-{network}{first + index}"
        (root / "home").mkdir(parents=True, exist_ok=True)
        # Inside the host only: the non-root test user may use sudo without a password.
        (root / "sudoers.d").mkdir(exist_ok=True)
        (root / "sudoers.d" / "hacontrol-test").write_text(f"{TEST_USER} ALL=(root) NOPASSWD: ALL\n")
        (root / "sudoers.d" / "hacontrol-test").chmod(0o440)
        (root / "sbin").mkdir(exist_ok=True)
        for name, script in [("systemctl", SYSTEMCTL), ("mmcentrald", MMCENTRALD)]:
            (root / "sbin" / name).write_text(script)
            (root / "sbin" / name).chmod(0o755)
        key = root / "ssh_host_ed25519_key"
        if not key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        host = SSHHost(address=f"{network}{first + index}", root=root)
        host.reset()
        host.start()
        hosts.append(host)
    return hosts
