"""Shared fixtures: users with each role, real SSH and WinRM test hosts, a browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from hacontrol.ha.access import ADMIN_GROUP
from hacontrol.ha.models import Cluster, Member
from hacontrol.remote import close_all
from tests.hosts.ssh_hosts import INITIAL_PREFERENCES, SSHHost, make_client_key, make_hosts
from tests.hosts.winrm_server import WindowsHost, WinRMServer

SSH_HOST_COUNT = 4
ROOT = Path(__file__).resolve().parent.parent


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
def cluster(db) -> Cluster:
    return Cluster.objects.create(name="prod", dns_name="central.example.com")


@pytest.fixture(autouse=True)
def fast_jobs(settings):
    """Hosts here answer at once; don't wait half a minute for a service that won't start."""
    settings.HACONTROL_START_WAIT = 2
    settings.HACONTROL_COMMAND_TIMEOUT = 10
    settings.HACONTROL_CONNECT_TIMEOUT = 3
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
def ssh_host_pool(host_base, client_key):
    hosts = make_hosts(host_base, SSH_HOST_COUNT)
    yield hosts
    close_all()
    for host in hosts:
        host.stop()


@pytest.fixture
def ssh_hosts(ssh_host_pool) -> list[SSHHost]:
    """Every test host fresh: running Central 11.0.3, PostgreSQL preferences, no cluster name."""
    for host in ssh_host_pool:
        if host.process is None or host.process.poll() is not None or "_new" in (host.root / "sshd_config").read_text():
            host.stop()
            host.start()
        host.reset(INITIAL_PREFERENCES)
    close_all()
    return ssh_host_pool


def add_linux_member(cluster: Cluster, host: SSHHost, key: Path, name: str, priority: int, **extra) -> Member:
    values = dict(cluster=cluster, name=name, priority=priority, address=host.address, port=host.port,
                  platform="linux", username="root", private_key=key.read_text(), host_key=host.host_key_line)
    return Member.objects.create(**(values | extra))


@pytest.fixture
def windows_host(tmp_path):
    host = WindowsHost(root=tmp_path / "windows")
    host.preferences.parent.mkdir(parents=True)
    host.preferences.write_bytes(b'<Database value="mssql"/>\r\n<DatabaseServer value="sql01"/>\r\n')
    server = WinRMServer(host, "127.0.0.30").start()
    host.server = server
    yield host
    close_all()
    server.stop()


def add_windows_member(cluster: Cluster, host: WindowsHost, name: str, priority: int) -> Member:
    return Member.objects.create(
        cluster=cluster, name=name, priority=priority, address="127.0.0.30", port=host.server.port,
        platform="windows", username=host.username, password=host.password, winrm_auth="basic",
    )


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


def start_worker(probe_interval: int = 3600, start_wait: int = 30) -> subprocess.Popen:
    """A real background worker process (`manage.py ha worker`) against the test database."""
    from django.db import connection

    db = connection.settings_dict
    url = f"postgresql://{db['USER']}:{db['PASSWORD']}@/{db['NAME']}?host={db['HOST']}"
    env = {**os.environ, "DATABASE_URL": url, "HACONTROL_START_WAIT": str(start_wait),
           "HACONTROL_PROBE_INTERVAL": str(probe_interval)}
    return subprocess.Popen([sys.executable, "manage.py", "ha", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
