"""Shared fixtures: users with each role, real SSH and WinRM test hosts, a browser."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from hacontrol.ha import actions
from hacontrol.ha.access import ADMIN_GROUP
from hacontrol.ha.jobs import run_here
from hacontrol.ha.models import Cluster, Job, JobStatus, JobStep, Member
from hacontrol.remote import close_all
from tests.hosts.bind_server import BindServer
from tests.hosts.central import CentralStore, MicetroHA
from tests.hosts.ssh_hosts import DATABASE_SERVER, INITIAL_PREFERENCES, SSHHost, make_client_key, make_hosts
from tests.hosts.windows import WindowsHost, WinRMServer, simulator_factory

SSH_HOST_COUNT = 4
# Seconds a job's lease lasts in the tests: a dead process's job is recovered that quickly.
JOB_LEASE = 3
ROOT = Path(__file__).resolve().parent.parent
# The loopback network the test hosts live on: two suites on one machine (worktrees) each take their own.
# Parallel test processes (pytest-xdist) each take their own: gw0 127.0.20.x, gw1 127.0.21.x...; with
# HACONTROL_TEST_NET=127.0.9. they stay inside that suite's own: gw0 127.0.9.x, gw1 127.1.9.x, gw2 127.2.9.x...
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKER_NUMBER = int(_WORKER.removeprefix("gw")) if _WORKER.startswith("gw") else 0


def _test_net() -> str:
    chosen = os.environ.get("HACONTROL_TEST_NET")
    if not chosen:
        return f"127.0.{20 + WORKER_NUMBER}." if _WORKER else "127.0.0."
    if not WORKER_NUMBER:
        return chosen
    first, second, third, *_ = chosen.split(".")
    return f"{first}.{int(second) + WORKER_NUMBER}.{third}."


TEST_NET = _test_net()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The reused test database (--reuse-db) starts empty: a run killed half-way leaves the rows
    of its transactional tests behind, which Django only flushes after a test that ended."""
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


def loopback(last: int) -> str:
    """The test network's address ``last``, this test process's own."""
    return f"{TEST_NET}{last}"


@pytest.fixture
def admin(db) -> User:
    user = User.objects.create_user("alice", password="alice-pass-1")
    user.groups.add(Group.objects.get_or_create(name=ADMIN_GROUP)[0])
    return user


@pytest.fixture
def viewer(db) -> User:
    return User.objects.create_user("victor", password="victor-pass-1")


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def cluster(transactional_db) -> Cluster:
    return Cluster.objects.create(name="prod", dns_name="central.example.com")


@pytest.fixture(autouse=True)
def fast_jobs(settings):
    """Hosts here answer at once; don't wait half a minute for a service that won't start."""
    settings.HACONTROL_START_WAIT = 2
    settings.HACONTROL_COMMAND_TIMEOUT = 10
    settings.HACONTROL_CONNECT_TIMEOUT = 3
    settings.HACONTROL_JOB_LEASE = JOB_LEASE
    settings.HACONTROL_UNDO_PATIENCE = 10
    yield
    close_all()


@pytest.fixture(scope="session")
def host_base():
    base = Path(tempfile.mkdtemp(prefix="hacontrol-hosts-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def client_key(host_base) -> Path:
    return make_client_key(host_base)


@pytest.fixture(scope="session")
def central_store(host_base) -> CentralStore:
    """Central's shared databases, as the simulated hosts see them."""
    return CentralStore(host_base / "central-store")


@pytest.fixture(scope="session")
def ssh_host_pool(host_base, client_key, central_store):
    hosts = make_hosts(host_base, central_store, SSH_HOST_COUNT, first=10, network=TEST_NET)
    yield hosts
    close_all()
    for host in hosts:
        host.stop()
        host.central.shutdown()


@pytest.fixture
def ssh_hosts(ssh_host_pool, central_store) -> list[SSHHost]:
    """Every test host fresh: running Central 11.0.3, PostgreSQL preferences with the shortest
    heartbeat settings, no cluster name; Central's database empty (no HA member registered)."""
    for host in ssh_host_pool:
        host.central.shutdown()
    for folder in ("db", "instances", "alive"):
        shutil.rmtree(central_store.root / folder, ignore_errors=True)
        (central_store.root / folder).mkdir(parents=True)
    for host in ssh_host_pool:
        if host.process is None or host.process.poll() is not None or "_new" in (host.root / "sshd_config").read_text():
            host.stop()
            host.start()
        host.freeze(False)
        host.reset()
    close_all()
    return ssh_host_pool


@pytest.fixture(scope="session")
def bind_server(host_base):
    """A real BIND 9 (named) on <test net>.53 serving example.com, updatable with its test key."""
    server = BindServer(host_base / "named", loopback(53))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bind(bind_server) -> BindServer:
    """The BIND server with an empty zone (only its SOA and NS)."""
    bind_server.reset()
    return bind_server


@pytest.fixture
def micetro(central_store) -> MicetroHA:
    """What an administrator does in Micetro's High Availability configuration (and the simulator's truth)."""
    return MicetroHA(central_store, DATABASE_SERVER)


def do_in_micetro(micetro: MicetroHA, instructions: dict) -> None:
    """Do what a job waiting for an administrator asks, in the simulated Micetro."""
    action, name = instructions["action"], instructions["name"]
    if action == "register":
        micetro.register(name, instructions["priority"])
    elif action == "unregister":
        micetro.unregister(name)
    else:
        micetro.set_priority(name, instructions["priority"])


class AdministratorAtTheConsole(io.StringIO):
    """The CLI's standard input: answers its "done in Micetro?" question after doing the step
    in the simulated Micetro, as an administrator at the console would."""

    def __init__(self, micetro: MicetroHA):
        super().__init__()
        self.micetro = micetro

    def readline(self, *args) -> str:
        do_in_micetro(self.micetro, JobStep.objects.get(status="waiting").instructions)
        return "y\n"


def finish(job: Job, micetro: MicetroHA | None, actor: str = "alice") -> Job:
    """Run a job here to its end, doing each Micetro step it waits for (as an administrator would)
    and confirming it; returns the job as it ended."""
    status = run_here(job)
    while status == JobStatus.WAITING:
        assert micetro is not None, f"job #{job.pk} waits for Micetro: {job.waiting_step().instructions}"
        do_in_micetro(micetro, job.waiting_step().instructions)
        job = actions.confirm_job(actor, job)
        status = run_here(job)
    job.refresh_from_db()
    return job


def linux_member_values(host: SSHHost, key: Path, **extra) -> dict:
    values = dict(address=host.address, port=host.port, platform="linux", username="root",
                  private_key=key.read_text(), host_key=host.host_key_line)
    return values | extra


def add_member(cluster: Cluster, host: SSHHost, key: Path, name: str, micetro: MicetroHA | None,
               priority: int | None = None, **extra) -> Job:
    """Add a member through the action and run its job to the end (Micetro steps done)."""
    job = actions.add_member("alice", cluster, name=name, priority=priority,
                             **linux_member_values(host, key, **extra))
    return finish(job, micetro)


WINDOWS_PASSWORD = "Winrm-Pass-8311"


def make_windows_host(root: Path, store: CentralStore, address: str, *, https: bool = False,
                      username: str = "Administrator", preferences: str | None = None, **options):
    """An emulated Windows host whose Central is the simulator (sharing the Linux hosts' database),
    with PostgreSQL preferences (CRLF, as Windows writes them), reachable over WS-Management as
    ``username``. ``preferences`` moves Central's preferences.cfg elsewhere (a Windows path)."""
    factory = simulator_factory(store, listen=(address, 1231))
    if preferences is not None:
        from tests.hosts import central as simulator

        def factory(host):  # the simulator reads the file where the test put it
            return simulator.CentralInstance(host.path(preferences), host.data_dir, store, host.version or "",
                                             (address, 1231), host.clock_offset, host=host.hostname)

    host = WindowsHost(root, central_factory=factory, central_running=False, **options)
    if options.get("central_installed", True):
        target = host.preferences if preferences is None else host.path(preferences)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(INITIAL_PREFERENCES.replace("\n", "\r\n").encode())
        assert host.service_start(host.service_name) == 0
    server = WinRMServer(host, address, username=username, password=WINDOWS_PASSWORD, https=https).start()
    host.server = server  # type: ignore[attr-defined]
    return host


@pytest.fixture
def windows_host(tmp_path, central_store, ssh_hosts):
    """A Windows host running Central 11.0.3 (service "Micetro Central"), on the Linux hosts' database."""
    host = make_windows_host(tmp_path / "windows", central_store, loopback(30))
    yield host
    close_all()
    host.server.stop()
    host.shutdown()


@pytest.fixture
def more_windows_hosts(tmp_path, central_store):
    """make(**options): further emulated Windows hosts (beside ``windows_host``), each on an
    address of its own, stopped after the test."""
    made = []

    def make(**options):
        host = make_windows_host(tmp_path / f"win{len(made)}", central_store, loopback(35 + len(made)), **options)
        made.append(host)
        return host

    yield make
    for host in made:
        host.server.stop()
        host.shutdown()


def windows_member_values(host, **extra) -> dict:
    values = dict(address=host.server.address, port=host.server.port, platform="windows",
                  username="Administrator", password=WINDOWS_PASSWORD, winrm_auth="basic",
                  winrm_allow_http_basic=True)
    return values | extra


def add_linux_member(cluster: Cluster, host: SSHHost, key: Path, name: str, priority: int, **extra) -> Member:
    """Only the record (no job): for tests that set the host up themselves."""
    values = dict(cluster=cluster, name=name, priority=priority, registered=True, **linux_member_values(host, key))
    return Member.objects.create(**(values | extra))


# Browser ------------------------------------------------------------------------------------

CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def sign_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def worker_environment(**extra: str) -> dict:
    """The environment of a process run against the test database (a worker, a CLI)."""
    from django.db import connection

    db = connection.settings_dict
    url = f"postgresql://{db['USER']}:{db['PASSWORD']}@/{db['NAME']}?host={db['HOST']}"
    return {**os.environ, "DATABASE_URL": url, "HACONTROL_JOB_LEASE": str(JOB_LEASE), "HACONTROL_QUEUE_GRACE": "3",
            "HACONTROL_CONNECT_TIMEOUT": "3", "HACONTROL_COMMAND_TIMEOUT": "10", "HACONTROL_UNDO_PATIENCE": "10", **extra}


def start_worker(probe_interval: int = 3600, start_wait: int = 30, log: Path | None = None) -> subprocess.Popen:
    """A real background worker process (`manage.py ha worker`) against the test database."""
    env = worker_environment(HACONTROL_START_WAIT=str(start_wait), HACONTROL_PROBE_INTERVAL=str(probe_interval))
    output = log.open("ab") if log else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "manage.py", "ha", "worker"], cwd=ROOT, env=env,
                            stdout=output, stderr=output)


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(10)


@pytest.fixture
def worker(transactional_db):
    """A worker whose monitor probes every second, for the browser tests."""
    process = start_worker(probe_interval=1, start_wait=2)
    yield process
    stop_worker(process)


def pytest_sessionfinish(session, exitstatus):
    """Stop the embedded PostgreSQL the tests started (unless something else still uses it)."""
    from django.conf import settings
    from django.db import connections

    if os.environ.get("DATABASE_URL") or "pgdata" not in str(settings.DATABASES["default"]["HOST"]):
        return
    connections.close_all()
    from hacontrol.embedded_db import stop_if_unused

    db = settings.DATABASES["default"]
    stop_if_unused(f"postgresql://{db['USER']}:@/postgres?host={db['HOST']}")
