"""The Linux host stand-ins: `systemctl` (systemd's documented behaviour and exit codes), the `mmcentrald` daemon in
its own process, the vendor installer, and the faults.

Commands run from the test process against ROOT/sbin (outside a mount namespace); one test runs them inside a real
private mount namespace, as the harness's sshd does.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests.hosts.central import CentralStore, MicetroHA, linux_installer
from tests.hosts.central.host import SimulatedCentralHost

from .conftest import xml_prefs

JOB_FAILED = ('Job for mmcentral.service failed because the control process exited with error code.\n'
              'See "systemctl status mmcentral.service" and "journalctl -xeu mmcentral.service" for details.\n')


def show(host: SimulatedCentralHost, *extra: str) -> list[str]:
    r = host.run("systemctl", "show", "mmcentral", "--property=ActiveState,SubState,ActiveEnterTimestamp,MainPID",
                 "--timestamp=unix", *extra)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_systemctl_for_an_active_unit(make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host()
    before = time.time()
    host.reset(xml_prefs("c1"))
    r = host.run("systemctl", "is-active", "mmcentral")
    assert (r.returncode, r.stdout) == (0, "active\n")
    assert host.run("systemctl", "is-active", "--quiet", "mmcentral.service").stdout == ""
    r = host.run("systemctl", "status", "mmcentral")
    assert r.returncode == 0 and "Active: active (running) since" in r.stdout and f"Main PID: {host.pid}" in r.stdout
    lines = show(host)
    # systemctl show prints in D-Bus order (the service's MainPID before the unit's states), not in -p order.
    assert lines[0] == f"MainPID={host.pid}"
    assert lines[1:3] == ["ActiveState=active", "SubState=running"]
    stamp = int(lines[3].removeprefix("ActiveEnterTimestamp=@"))
    assert int(before) <= stamp <= time.time()
    r = host.run("systemctl", "show", "mmcentral", "--property=MainPID", "--value")
    assert r.stdout == f"{host.pid}\n"
    assert host.run("systemctl", "show", "mmcentral", "-P", "ActiveEnterTimestamp", "--timestamp=unix").stdout == \
        f"@{stamp}\n"
    assert host.run("mmcentrald", "-v").stdout == "Micetro Central version 11.0.3\n"


def test_systemctl_for_a_stopped_and_a_crashed_unit(make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host()
    host.reset(xml_prefs("c1"))
    stamp = show(host)[3]
    assert host.run("systemctl", "stop", "mmcentral").returncode == 0
    r = host.run("systemctl", "is-active", "mmcentral")
    assert (r.returncode, r.stdout) == (3, "inactive\n")
    r = host.run("systemctl", "status", "mmcentral")
    assert r.returncode == 3 and "Active: inactive (dead)" in r.stdout
    assert show(host) == ["MainPID=0", "ActiveState=inactive", "SubState=dead", stamp]  # the timestamp stays
    assert host.run("systemctl", "stop", "mmcentral").returncode == 0  # stopping a stopped unit succeeds
    assert host.run("systemctl", "start", "mmcentral").returncode == 0
    pid = host.pid
    assert host.crash()
    r = host.run("systemctl", "is-active", "mmcentral")
    assert (r.returncode, r.stdout) == (3, "failed\n")
    r = host.run("systemctl", "status", "mmcentral")
    assert r.returncode == 3 and "Active: failed (Result: signal)" in r.stdout
    assert f"Main PID: {pid} (code=killed, signal=KILL)" in r.stdout
    assert show(host)[:3] == ["MainPID=0", "ActiveState=failed", "SubState=failed"]
    assert host.run("systemctl", "stop", "mmcentral").returncode == 0
    assert host.service_state == "failed"  # a stop does not clear the failed state; a start does
    assert host.run("systemctl", "start", "mmcentral").returncode == 0 and host.service_state == "active"
    assert host.events() == ["stop", "stop", "start", "stop", "start"]
    assert host.events(include_harness=True)[3] == "harness:crash"


def test_systemctl_for_an_unknown_unit(make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host()
    r = host.run("systemctl", "is-active", "nosuch")
    assert (r.returncode, r.stdout) == (3, "inactive\n")
    r = host.run("systemctl", "status", "nosuch")
    assert (r.returncode, r.stderr) == (4, "Unit nosuch.service could not be found.\n")
    r = host.run("systemctl", "start", "nosuch")
    assert (r.returncode, r.stderr) == (5, "Failed to start nosuch.service: Unit nosuch.service not found.\n")
    r = host.run("systemctl", "stop", "nosuch")
    assert (r.returncode, r.stderr) == (5, "Failed to stop nosuch.service: Unit nosuch.service not loaded.\n")
    r = host.run("systemctl", "show", "nosuch", "-p", "LoadState,ActiveState")
    assert (r.returncode, r.stdout) == (0, "LoadState=not-found\nActiveState=inactive\n")
    r = host.run("systemctl", "reload", "mmcentral")
    assert r.returncode == 3  # "Job type reload is not applicable"
    host.uninstall()  # a host without Central: its unit does not exist either
    assert host.run("systemctl", "status", "mmcentral").returncode == 4
    assert host.run("systemctl", "start", "mmcentral").returncode == 5
    assert host.version is None and host.service_state == "inactive"


def test_a_start_failure_is_reported_as_systemd_does(make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host()
    host.reset(xml_prefs("c1"), running=False)
    host.fault("fail-start")
    r = host.run("systemctl", "start", "mmcentral")
    assert (r.returncode, r.stderr) == (1, JOB_FAILED)
    assert host.run("systemctl", "is-active", "mmcentral").stdout == "failed\n"
    status = host.run("systemctl", "status", "mmcentral").stdout
    assert "Active: failed (Result: exit-code)" in status and "status=1/FAILURE" in status
    host.fault("fail-start", False)
    host.fault("fail-start-once")
    assert host.run("systemctl", "restart", "mmcentral").returncode == 1
    assert host.run("systemctl", "restart", "mmcentral").returncode == 0
    assert host.events() == ["start", "start-failed", "restart", "start-failed", "restart"]
    # Central's own start-up errors fail the start the same way (central_postgresql.rst: "If the database connection
    # fails, the service will not start").
    host.fault("db-unreachable")
    assert host.run("systemctl", "restart", "mmcentral").stderr == JOB_FAILED
    assert any("Unable to connect to the database" in line for line in host.journal())


def eventually(read, good, seconds: float = 10.0):
    """Read until ``good(value)`` (a loaded machine is slow to get there), or give the last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if good(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_the_hang_faults(make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host()
    host.reset(xml_prefs("c1"), running=False)
    host.fault("hang-start")
    env = {"PATH": f"{host.sbin}:/usr/bin:/bin"}
    start = subprocess.Popen([str(host.sbin / "systemctl"), "start", "mmcentral"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        r = eventually(lambda: host.run("systemctl", "is-active", "mmcentral"), lambda r: r.stdout == "activating\n")
        assert (r.returncode, r.stdout) == (3, "activating\n")
        assert start.poll() is None
        host.fault("hang-start", False)
        assert start.wait(10) == 0 and host.service_state == "active"
    finally:
        start.kill()
        start.wait()
    # A start job whose systemctl is killed while it hangs is cancelled; a teardown kills such waiters.
    host.run("systemctl", "stop", "mmcentral")
    host.fault("hang-start")
    waiter = subprocess.Popen([str(host.sbin / "systemctl"), "start", "mmcentral"], env=env)
    assert eventually(lambda: host.service_state, lambda state: state == "activating") == "activating"
    host.shutdown()
    assert waiter.wait(5) != 0
    assert host.service_state == "inactive" and not host.running
    assert host.start()
    host.fault("hang")
    hung = subprocess.Popen([str(host.sbin / "systemctl"), "is-active", "mmcentral"], env=env,
                            stdout=subprocess.PIPE)
    try:
        time.sleep(0.5)
        assert hung.poll() is None
        host.fault("hang", False)
        assert hung.wait(5) == 0 and hung.stdout and hung.stdout.read() == b"active\n"
    finally:
        hung.kill()
        hung.wait()
    host.fault("hang")
    host.stop()  # the harness is not affected by systemctl faults
    assert host.start()


def test_stand_ins_answer_quickly(make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host()
    t0 = time.monotonic()
    host.reset(xml_prefs("c1"))
    assert time.monotonic() - t0 < 1.0  # a host starts well under a second
    for argv in (("systemctl", "is-active", "mmcentral"), ("systemctl", "status", "mmcentral"),
                 ("mmcentrald", "-v"), ("systemctl", "show", "mmcentral", "-p", "MainPID")):
        t0 = time.monotonic()
        for _ in range(5):
            host.run(*argv)
        assert (time.monotonic() - t0) / 5 < 0.5, argv
    t0 = time.monotonic()
    assert host.run("systemctl", "restart", "mmcentral").returncode == 0
    assert time.monotonic() - t0 < 1.0


def test_the_daemon_hashes_the_password_and_changes_nothing_else(make_host) -> None:  # type: ignore
    host = make_host()
    original = (b'<Database value="postgresql" />\r\n<DatabaseServer value="db1@mmsuite" />\r\n'
                b'<DatabaseUsername value="mm" />\r\n<DatabasePassword   value="plaintext:pa&quot;ss"/>\r\n'
                b'<ClusterMemberName value="c1"/>')  # no final newline
    host.reset(original, running=False)
    assert host.run("systemctl", "start", "mmcentral").returncode == 0
    from tests.hosts.central import hash_password

    assert host.preferences_path.read_bytes() == original.replace(b"plaintext:pa&quot;ss",
                                                                  hash_password('pa"ss').encode())


def test_an_older_central_exits_and_refuses_a_newer_schema(make_host, store: CentralStore) -> None:  # type: ignore
    old, new = make_host("old"), make_host("new")
    old.reset(xml_prefs("c1"), version="11.0.3")
    new.reset(xml_prefs("c2"), version="11.1.0")
    assert store.schema_version("postgresql", "db1@mmsuite") == "11.1.0"
    # The running older Central exits at its next heartbeat (HeartbeatInterval 5): the service shows failed.
    deadline = time.monotonic() + 6
    while old.service_state == "active" and time.monotonic() < deadline:
        time.sleep(0.1)
    status = old.run("systemctl", "status", "mmcentral")
    assert status.returncode == 3 and "Active: failed (Result: exit-code)" in status.stdout
    assert "(code=exited, status=1/FAILURE)" in status.stdout
    r = old.run("systemctl", "start", "mmcentral")
    assert (r.returncode, r.stderr) == (1, JOB_FAILED)
    assert any("newer than this Central" in line for line in old.journal())


def test_two_hosts_fail_over_across_processes(make_host, store: CentralStore) -> None:  # type: ignore
    ha = MicetroHA(store, "db1@mmsuite")
    ha.register("c1", 10)
    ha.register("c2", 20)
    h1, h2 = make_host("h1"), make_host("h2")
    h1.reset(xml_prefs("c1"))
    h2.reset(xml_prefs("c2"), running=False)
    assert h2.run("systemctl", "start", "mmcentral").returncode == 0
    assert ha.truth() == {"c1": "active", "c2": "standby"}
    assert h2.central_status()["role"] == "standby"  # type: ignore[index]
    # h2's clock runs 60 s ahead (ha_tweaks_central.rst: members must have synchronized time): its `date` says so,
    # and after a restart it sees c1's heartbeat as too old at once.
    h2.clock_offset = 60
    shown = int(h2.run("date", "+%s").stdout)
    assert abs(shown - (time.time() + 60)) < 3
    assert h2.run("systemctl", "restart", "mmcentral").returncode == 0
    assert ha.truth() == {"c1": "failed", "c2": "active"}
    assert (ha.events()[-1][1]) == "failover c1 -> c2"
    assert h1.running  # c1 keeps running, in failed state, until restarted
    h2.clock_offset = 0
    assert h1.run("systemctl", "restart", "mmcentral").returncode == 0
    assert ha.truth() == {"c1": "standby", "c2": "active"}


# ---------------------------------------------------------------------------------------------------------------
# The installer
# ---------------------------------------------------------------------------------------------------------------


def extract(tgz: Path, into: Path) -> subprocess.CompletedProcess[str]:
    into.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["tar", "-xzf", str(tgz), "-C", str(into)], capture_output=True, text=True)


def test_the_vendor_installer_layout_upgrades_and_restarts(make_host, store: CentralStore,
                                                           tmp_path: Path) -> None:  # type: ignore
    ha = MicetroHA(store, "db1@mmsuite")
    ha.register("c1", 10)
    host = make_host()
    prefs = xml_prefs("c1")
    host.reset(prefs)
    old_pid = host.pid
    tgz = linux_installer(tmp_path / "dl", "11.1.0")
    assert tgz.name == "micetro-central-11.1.0.linux.x64.tgz"
    assert extract(tgz, tmp_path / "x").returncode == 0
    folder = tmp_path / "x" / "micetro-central-11.1.0.linux.x64"
    r = host.run("./install", cwd=folder, stdin=None)  # stdin closed: the defaults are taken
    assert r.returncode == 0, r.stdout + r.stderr
    assert "What user account will own the Micetro Central process? [root]:" in r.stdout
    assert host.version == "11.1.0"
    assert host.run("mmcentrald", "-v").stdout == "Micetro Central version 11.1.0\n"
    assert host.service_state == "active" and host.pid != old_pid
    assert host.events() == ["install-11.1.0"]
    assert host.preferences_path.read_text() == prefs  # an upgrade keeps the preferences
    assert store.schema_version("postgresql", "db1@mmsuite") == "11.1.0"
    assert ha.truth() == {"c1": "active"}
    # micetro-central-ha.rst: a secondary is turned off first; "After the upgrade finished successfully, the service
    # will be started again."
    assert host.run("systemctl", "stop", "mmcentral").returncode == 0
    assert host.run("./install", cwd=folder, stdin=b"\n\n").returncode == 0
    assert host.service_state == "active"


def test_the_installer_waits_for_its_answers_on_an_open_stdin(make_host, tmp_path: Path) -> None:  # type: ignore
    host = make_host()
    host.reset(xml_prefs(None), running=False)
    extract(linux_installer(tmp_path, "11.0.4"), tmp_path / "x")
    folder = tmp_path / "x" / "micetro-central-11.0.4.linux.x64"
    env = {"PATH": f"{host.sbin}:/usr/bin:/bin", "MMSIM_SBIN": str(host.sbin), "MMSIM_MMSUITE": str(host.mmsuite)}
    proc = subprocess.Popen(["./install"], cwd=folder, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        assert proc.poll() is None  # still waiting for the first answer
        assert host.version == "11.0.3"
        out, _ = proc.communicate(b"", timeout=20)  # closing stdin: defaults
        assert proc.returncode == 0 and host.version == "11.0.4" and host.service_state == "active"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_installer_fails_cleanly(make_host, tmp_path: Path) -> None:  # type: ignore
    host = make_host()
    host.reset(xml_prefs(None))
    pid = host.pid
    extract(linux_installer(tmp_path, "11.1.0"), tmp_path / "x")
    folder = tmp_path / "x" / "micetro-central-11.1.0.linux.x64"
    host.fault("fail-install")
    r = host.run("./install", cwd=folder)
    assert r.returncode == 1 and "nothing was changed" in r.stderr
    assert (host.version, host.pid, host.service_state) == ("11.0.3", pid, "active")
    host.fault("fail-install", False)
    r = host.run("./install", cwd=folder, stdin=b"no-such-user-x\n")
    assert r.returncode == 1 and (host.version, host.pid) == ("11.0.3", pid)
    r = host.run(str(folder / "install"), cwd=tmp_path)  # not run from its folder
    assert r.returncode == 1 and "extracted folder" in r.stderr
    r = host.run("./install", "--quiet", cwd=folder)
    assert r.returncode == 1
    assert host.events() == ["install-failed-11.1.0", "install-failed-11.1.0"]
    host.fault("slow-install", 1.0)
    t0 = time.monotonic()
    assert host.run("./install", cwd=folder).returncode == 0
    assert time.monotonic() - t0 >= 1.0 and host.version == "11.1.0"


def test_the_date_stand_in_follows_the_clock_offset(make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host()
    host.clock_offset = -3600
    assert abs(int(host.run("date", "-u", "+%s").stdout) - (time.time() - 3600)) < 3
    assert host.run("date", "-d", "@0", "-u", "+%s").stdout == "0\n"  # a time named by the caller is left alone
    assert host.run("date", "-Iseconds").returncode == 0
    host.clock_offset = 0
    assert abs(int(host.run("date", "+%s").stdout) - time.time()) < 3


def test_broken_installer_archives(tmp_path: Path) -> None:
    flat = linux_installer(tmp_path / "flat", "11.1.0", layout="flat")
    with tarfile.open(flat) as tar:
        assert sorted(tar.getnames()) == ["README", "install", "mmcentrald"]
    bad = linux_installer(tmp_path / "bad", "11.1.0", layout="not-gzip")
    assert bad.name == "micetro-central-11.1.0.linux.x64.tgz"
    assert extract(bad, tmp_path / "bad-x").returncode != 0


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not Path("/var/mmsuite").is_dir(),
                    reason="needs root, unshare and a /var/mmsuite mount point")
def test_inside_a_private_mount_namespace(make_host, tmp_path: Path) -> None:  # type: ignore
    """As the harness runs a host: its own /var/mmsuite, /usr/local/sbin and an empty /root."""
    host = make_host()
    host.reset(xml_prefs("c1"), running=False)
    extract(linux_installer(tmp_path, "11.1.0"), tmp_path / "x")
    script = tmp_path / "in-ns.sh"
    (tmp_path / "home").mkdir()
    script.write_text(f"""set -e
mount --bind {host.mmsuite} /var/mmsuite
mount --bind {host.sbin} /usr/local/sbin
mount --bind {tmp_path}/home /root
export PATH=/usr/local/sbin:/usr/bin:/bin
systemctl start mmcentral
systemctl is-active mmcentral
cd {tmp_path}/x/micetro-central-11.1.0.linux.x64
./install </dev/null >/dev/null
mmcentrald -v
systemctl show -P MainPID mmcentral
""")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", str(script)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["active", "Micetro Central version 11.1.0"]
    assert int(lines[2]) == host.pid and host.service_state == "active"  # the same service, seen from outside
    status = host.central_status()
    assert status and status["preferences"] == "/var/mmsuite/mmcentral/preferences.cfg"  # the namespace's path
    assert host.events() == ["start", "install-11.1.0"]
