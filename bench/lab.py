"""The bench's own test hosts: real OpenSSH servers on 127.0.1.x, each running the simulated
Central of the tests (tests/hosts/central, one small Python daemon per host) against a shared
Central store, and an emulated Windows host on 127.0.2.x in a process of its own. Other
engineers' test suites use 127.0.0.x and 127.0.2x.x, so the bench never meets their hosts.
Everything started here stops when the lab closes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hacontrol.ha.models import Cluster, Member
from hacontrol.remote import HostSettings, close_all
from tests.hosts.central import CentralStore, MicetroHA
from tests.hosts.ssh_hosts import DATABASE_SERVER, SSHHost, make_client_key, make_hosts

ROOT = Path(__file__).resolve().parent.parent
LINUX_NETWORK = "127.0.1."
WINDOWS_ADDRESS = "127.0.2.1"
WINDOWS_PASSWORD = "Bench-Winrm-7741"
PREFERENCES = "/var/mmsuite/mmcentral/preferences.cfg"


class Lab:
    """``count`` Linux hosts (started on entry) and, on demand, one Windows host."""

    def __init__(self, count: int):
        self.count = count
        self.workdir = Path(tempfile.mkdtemp(prefix="hacontrol-bench-"))
        self.key = make_client_key(self.workdir)
        self.store = CentralStore(self.workdir / "central-store")
        self.hosts: list[SSHHost] = []
        self.windows: subprocess.Popen | None = None
        self.windows_port = 0

    def __enter__(self) -> Lab:
        started = time.perf_counter()
        try:
            self.hosts = make_hosts(self.workdir, self.store, self.count, first=1, network=LINUX_NETWORK)
        except BaseException:
            self.close()
            raise
        print(f"\nstarted {len(self.hosts)} OpenSSH test hosts running the simulated Central "
              f"({LINUX_NETWORK}1-{self.count}) in {time.perf_counter() - started:.1f} s", flush=True)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        close_all()
        if self.windows is not None:
            self.windows.terminate()
            try:
                self.windows.wait(10)
            except subprocess.TimeoutExpired:
                self.windows.kill()
                self.windows.wait()
            self.windows = None
        # make_hosts may have started some hosts before failing: stop what has a root folder.
        for root in sorted(self.workdir.glob("host-*")):
            host = next((h for h in self.hosts if h.root == root), None)
            if host is not None:
                host.stop()
                host.central.shutdown()
            else:
                _stop_orphan(root)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # Linux hosts -------------------------------------------------------------------------

    def micetro(self) -> MicetroHA:
        """Micetro's HA configuration of the hosts' shared database (and the simulator's truth)."""
        return MicetroHA(self.store, DATABASE_SERVER)

    def fresh(self, hosts: list[SSHHost]) -> None:
        """As the test suite's fixture leaves them: Central's database empty (nobody registered),
        each host running Central 11.0.3 with PostgreSQL preferences, HeartbeatInterval 5 and
        HeartbeatMaxAllowedDowntime 20, no cluster name."""
        close_all()
        for host in self.hosts:
            host.central.shutdown()
        for folder in ("db", "instances", "alive"):
            shutil.rmtree(self.store.root / folder, ignore_errors=True)
            (self.store.root / folder).mkdir(parents=True)
        for host in hosts:
            host.reset()

    def retire(self, keep: int) -> None:
        """Stop every host after the first ``keep`` (sshd and Central): fewer processes to share the
        cores with what is measured next."""
        close_all()
        for host in self.hosts[keep:]:
            host.stop()
            host.central.shutdown()
        self.hosts = self.hosts[:keep]

    def settings(self, host: SSHHost, **overrides) -> HostSettings:
        values = dict(platform="linux", address=host.address, port=host.port, username="root",
                      private_key=self.key.read_text(), host_key=host.host_key_line, preferences_path=PREFERENCES)
        return HostSettings(**(values | overrides))

    def member_values(self, host: SSHHost) -> dict:
        """What an administrator enters to add ``host`` as a member."""
        return dict(address=host.address, port=host.port, platform="linux", username="root",
                    private_key=self.key.read_text(), host_key=host.host_key_line)

    def cluster(self, name: str, hosts: list[SSHHost], *, registered: bool = False) -> Cluster:
        """A cluster whose members are recorded directly (no job), one per host: c0, c1, ..."""
        Cluster.objects.filter(name=name).delete()
        cluster = Cluster.objects.create(name=name)
        Member.objects.bulk_create(
            Member(cluster=cluster, name=f"c{i}", priority=10 * (i + 1), registered=registered,
                   **self.member_values(host))
            for i, host in enumerate(hosts)
        )
        return cluster

    # The Windows host ----------------------------------------------------------------------

    def windows_settings(self, **overrides) -> HostSettings:
        """The emulated Windows host (started on first use), in a process of its own as a real
        host would be: its HTTP server and PowerShell emulation never share this process's GIL."""
        if self.windows is None:
            self.windows = subprocess.Popen(
                [sys.executable, "-m", "bench.windows_host", str(self.workdir / "windows"), WINDOWS_ADDRESS,
                 WINDOWS_PASSWORD], cwd=ROOT, stdout=subprocess.PIPE, text=True)
            assert self.windows.stdout is not None
            line = self.windows.stdout.readline()
            if not line.startswith("PORT "):
                raise RuntimeError(f"the emulated Windows host did not start: {line!r}")
            self.windows_port = int(line.split()[1])
        values = dict(platform="windows", address=WINDOWS_ADDRESS, port=self.windows_port, username="Administrator",
                      password=WINDOWS_PASSWORD, winrm_auth="basic",
                      preferences_path=r"C:\ProgramData\Men and Mice\Central\preferences.cfg")
        return HostSettings(**(values | overrides))


def _stop_orphan(root: Path) -> None:
    pid_file = root / "sshd.pid"
    if pid_file.exists():
        subprocess.run(["kill", pid_file.read_text().strip()], capture_output=True)
