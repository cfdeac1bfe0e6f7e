"""The SSH transport against real OpenSSH servers on loopback (hosts running the simulated Central)."""

import hashlib
import subprocess
import threading
import time
from pathlib import Path

import pytest

from hacontrol.remote import (
    AuthenticationFailed,
    BadSettings,
    CommandNotFound,
    ConnectionRefused,
    FileNotFound,
    HostKeyChanged,
    HostKeyUnknown,
    HostReport,
    HostSettings,
    PermissionDenied,
    RemoteError,
    ServiceState,
    TimedOut,
    borrow,
    call,
    open_connection,
)
from tests.hosts.ssh_hosts import TEST_USER

PREFS = "/var/mmsuite/mmcentral/preferences.cfg"


def settings_for(host, key, **overrides) -> HostSettings:
    values = dict(platform="linux", address=host.address, port=host.port, username="root",
                  private_key=key.read_text(), host_key=host.host_key_line, timeout=5, connect_timeout=3,
                  preferences_path=PREFS)
    values.update(overrides)
    return HostSettings(**values)


def test_it_runs_the_production_commands_on_the_host(ssh_hosts, client_key):
    host = ssh_hosts[0]
    with borrow(settings_for(host, client_key)) as remote:
        assert remote.service().running
        assert remote.control("stop").ok
        state = remote.service()
        assert not state.running and state.detail == "inactive"
        assert host.service_state == "inactive"
        assert remote.control("start").ok and remote.service().started_at > time.time() - 30


def test_one_look_at_the_host_reads_service_version_clock_and_preferences(ssh_hosts, client_key):
    host = ssh_hosts[0]
    with borrow(settings_for(host, client_key)) as remote:
        report = remote.report()
    assert report.service.running and report.version == "11.0.3"
    assert report.preferences == host.preferences.read_bytes()
    assert abs(report.clock_skew) < 2


def test_a_look_too_slow_to_place_the_hosts_clock_records_no_skew():
    quick = HostReport(ServiceState(True), clock=1000.4, before=1000.0, after=1000.2)
    slow = HostReport(ServiceState(True), clock=1014.0, before=1000.0, after=1012.0)
    assert round(quick.clock_skew, 1) == 0.3
    assert slow.clock_skew is None, "somewhere between 2 s behind and 14 s ahead: not a measurement"


def test_a_non_zero_exit_code_is_data_not_an_error(ssh_hosts, client_key):
    with borrow(settings_for(ssh_hosts[0], client_key)) as remote:
        result = remote.run("sh -c 'echo out; echo err >&2; exit 7'")
    assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")


def test_it_lends_the_same_pooled_connection_and_replaces_a_dead_one(ssh_hosts, client_key):
    settings = settings_for(ssh_hosts[0], client_key)
    with borrow(settings) as first, borrow(settings) as second:
        assert first is second
    first.close()
    assert call(settings, lambda remote: remote.run("true").ok)
    with borrow(settings) as third:
        assert third is not first


def test_many_threads_share_one_host_without_a_broken_connection(ssh_hosts, client_key):
    """Probes and a job hammer one host at once, while its pooled connection is killed twice."""
    settings = settings_for(ssh_hosts[0], client_key)
    errors: list[Exception] = []

    def hammer() -> None:
        for _ in range(15):
            try:
                call(settings, lambda remote: remote.report())
                call(settings, lambda remote: remote.read_file(PREFS))
            except RemoteError as error:
                errors.append(error)

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for _ in range(2):
        time.sleep(0.3)
        with borrow(settings) as remote:
            remote.client.get_transport().close()  # the connection dies under everyone
    for thread in threads:
        thread.join(60)
    bad = [e for e in errors if "Bad file descriptor" in str(e)]
    assert not bad, bad
    print(f"\n6 threads x 30 calls while the connection was killed twice: {len(errors)} calls failed (in flight)")


def test_it_writes_atomically_keeping_mode_and_a_backup_with_the_same_mode(ssh_hosts, client_key):
    host = ssh_hosts[0]
    host.preferences.chmod(0o600)
    original = host.preferences.read_bytes()
    with borrow(settings_for(host, client_key)) as remote:
        backup = remote.write_file(PREFS, b"new content\n")
    assert host.preferences.read_bytes() == b"new content\n"
    assert host.preferences.stat().st_mode & 0o777 == 0o600
    (saved,) = host.backups()
    assert saved.name == backup.rsplit("/", 1)[1] and saved.read_bytes() == original
    assert saved.stat().st_mode & 0o777 == 0o600
    assert not [p for p in host.data.iterdir() if ".hacontrol-" in p.name and not p.name.endswith(".bak")]


def test_a_crash_mid_write_leaves_the_old_file(ssh_hosts, client_key):
    host = ssh_hosts[0]
    original = host.preferences.read_bytes()
    remote = open_connection(settings_for(host, client_key))
    sftp = remote._sftp()
    with sftp.open(PREFS + ".half", "wb") as handle:
        handle.write(b"half a fi")
    remote.close()  # the connection dies before any rename
    assert host.preferences.read_bytes() == original


def test_it_refuses_an_unknown_host_key_and_shows_its_fingerprint(ssh_hosts, client_key):
    host = ssh_hosts[0]
    with pytest.raises(HostKeyUnknown) as raised:
        open_connection(settings_for(host, client_key, host_key=""))
    expected = subprocess.run(["ssh-keygen", "-lf", str(host.root / "ssh_host_ed25519_key.pub")],
                              capture_output=True, text=True).stdout.split()[1]
    assert raised.value.fingerprint == expected and expected in str(raised.value)
    assert raised.value.presented_key == host.host_key_line


def test_a_pinned_key_that_is_not_base64_is_a_clear_settings_error(ssh_hosts, client_key):
    with pytest.raises(BadSettings, match="the pinned host key cannot be used: the ssh-ed25519 key is not valid base64"):
        open_connection(settings_for(ssh_hosts[0], client_key, host_key="ssh-ed25519 AAAAnotbase64!!"))


def test_it_refuses_a_changed_host_key(ssh_hosts, client_key):
    host = ssh_hosts[1]
    pinned = host.host_key_line
    host.change_host_key()
    with pytest.raises(HostKeyChanged, match="host key changed"):
        open_connection(settings_for(host, client_key, host_key=pinned))


def test_it_reports_a_wrong_key_as_an_authentication_failure(ssh_hosts, client_key, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    with pytest.raises(AuthenticationFailed, match="authentication failed for root@"):
        open_connection(settings_for(ssh_hosts[0], other))


def test_it_reads_an_encrypted_key_with_its_passphrase(ssh_hosts, client_key, tmp_path):
    locked = tmp_path / "locked"
    subprocess.run(["cp", str(client_key), str(locked)], check=True)
    subprocess.run(["ssh-keygen", "-q", "-p", "-N", "s3cret", "-f", str(locked)], check=True)
    with pytest.raises(AuthenticationFailed, match="passphrase"):
        open_connection(settings_for(ssh_hosts[0], locked))
    remote = open_connection(settings_for(ssh_hosts[0], locked, key_passphrase="s3cret"))
    assert remote.run("true").ok
    remote.close()


def test_it_reports_a_stopped_sshd_as_refused(ssh_hosts, client_key):
    host = ssh_hosts[2]
    host.stop()
    with pytest.raises(ConnectionRefused, match="refused the connection"):
        open_connection(settings_for(host, client_key))


def test_a_command_that_hangs_times_out(ssh_hosts, client_key):
    ssh_hosts[0].fault("hang")
    with borrow(settings_for(ssh_hosts[0], client_key)) as remote, \
            pytest.raises(TimedOut, match="did not finish within 1 s"):
        remote.run("systemctl is-active mmcentral", timeout=1)


def test_a_host_that_stops_answering_mid_command_fails_within_the_timeout(ssh_hosts, client_key):
    host = ssh_hosts[0]
    settings = settings_for(host, client_key, timeout=2)
    with borrow(settings) as remote:
        assert remote.run("true").ok
        host.freeze()
        try:
            started = time.monotonic()
            with pytest.raises((TimedOut, RemoteError)):
                remote.run("sleep 0.1; echo done")
            with pytest.raises((TimedOut, RemoteError)):
                remote.read_file(PREFS)
            assert time.monotonic() - started < 2 * 2 + 3
        finally:
            host.freeze(False)


def test_a_missing_program_is_named_from_the_shell_s_own_words(ssh_hosts, client_key):
    with borrow(settings_for(ssh_hosts[0], client_key)) as remote, \
            pytest.raises(CommandNotFound, match="mmcentral-nope is not installed"):
        remote.run_checked("dir=$(mktemp -d) && mmcentral-nope -v")


def test_a_missing_file_is_named(ssh_hosts, client_key):
    with borrow(settings_for(ssh_hosts[0], client_key)) as remote, pytest.raises(FileNotFound, match="does not exist"):
        remote.read_file("/var/mmsuite/nope.cfg")


def test_an_unwritable_file_is_permission_denied_and_left_alone(ssh_hosts, client_key):
    host = ssh_hosts[0]
    original = host.preferences.read_bytes()
    host.data.chmod(0o555)
    host.preferences.chmod(0o444)
    try:
        with borrow(settings_for(host, client_key, username=TEST_USER)) as remote, \
                pytest.raises(PermissionDenied, match=f"permission denied on {PREFS}"):
            remote.write_file(PREFS, b"x")
    finally:
        host.data.chmod(0o755)
    assert host.preferences.read_bytes() == original


def test_a_non_root_user_works_through_sudo_byte_for_byte(ssh_hosts, client_key):
    host = ssh_hosts[0]
    host.preferences.write_bytes(host.preferences.read_bytes() + b"<Note value=\"caf\xe9 \xff\xfe\"/>\n")
    host.preferences.chmod(0o640)
    original = host.preferences.read_bytes()
    with borrow(settings_for(host, client_key, username=TEST_USER, use_sudo=True)) as remote:
        assert remote.run("id -u").stdout.strip() == "0"
        assert remote.control("stop").ok and host.service_state == "inactive"
        assert remote.read_file(PREFS) == original
        changed = original + b'<ClusterMemberName value="central1"/>\n'
        backup = remote.write_file(PREFS, changed)
    assert host.preferences.read_bytes() == changed and host.preferences.stat().st_uid == 0
    assert host.preferences.stat().st_mode & 0o777 == 0o640
    assert Path(host.data / Path(backup).name).read_bytes() == original
    assert Path(host.data / Path(backup).name).stat().st_mode & 0o777 == 0o640


def test_a_file_is_staged_in_a_private_folder_checked_and_removed(ssh_hosts, client_key, tmp_path):
    installer = tmp_path / "micetro-central-11.1.0.linux.x64.tgz"
    installer.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4000)
    digest = hashlib.sha256(installer.read_bytes()).hexdigest()
    with borrow(settings_for(ssh_hosts[0], client_key)) as remote:
        staged = remote.stage(str(installer), digest)
        folder = staged.rsplit("/", 1)[0]
        assert remote.run(f"stat -c %a {folder}").stdout.strip() == "700"
        assert remote.run(f"sha256sum {staged}").stdout.split()[0] == digest
        with pytest.raises(RemoteError, match="the transfer was damaged"):
            remote.stage(str(installer), "0" * 64)
        remote.unstage(staged)
        assert not remote.run(f"test -e {folder}").ok
        with pytest.raises(RemoteError, match="not a folder hacontrol staged"):
            remote.unstage("/etc/passwd")


def test_a_non_root_login_stages_in_its_own_private_folder_and_root_unpacks_and_removes_it(ssh_hosts, client_key,
                                                                                         tmp_path):
    from tests.hosts.central import linux_installer

    installer = linux_installer(tmp_path, "11.1.0")
    digest = hashlib.sha256(installer.read_bytes()).hexdigest()
    with borrow(settings_for(ssh_hosts[0], client_key, username=TEST_USER, use_sudo=True)) as remote:
        staged = remote.stage(str(installer), digest)
        folder = staged.rsplit("/", 1)[0]
        assert remote.run(f"stat -c '%a %U' {folder}").stdout.split() == ["700", TEST_USER]
        unpack = remote.install_line(staged, "micetro-central-11.1.0.linux.x64").split(" && cd ")[0]
        assert remote.run(unpack).ok  # through sudo: root-owned files in the login's folder
        assert remote.run(f"stat -c %U {folder}/micetro-central-11.1.0.linux.x64").stdout.strip() == "root"
        remote.unstage(staged)
        assert not remote.run(f"test -e {folder}").ok
