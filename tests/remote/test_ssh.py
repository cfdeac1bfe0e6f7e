"""The SSH transport against real OpenSSH servers on loopback."""

import subprocess
from pathlib import Path

import pytest

from hacontrol.remote import (
    AuthenticationFailed,
    CommandNotFound,
    ConnectionRefused,
    FileNotFound,
    HostKeyChanged,
    HostKeyUnknown,
    HostSettings,
    PermissionDenied,
    TimedOut,
    connect,
    open_connection,
)
from tests.hosts.ssh_hosts import TEST_USER

PREFS = "/var/mmsuite/mmcentral/preferences.cfg"


def settings_for(host, key, **overrides) -> HostSettings:
    values = dict(platform="linux", address=host.address, port=host.port, username="root",
                  private_key=key.read_text(), host_key=host.host_key_line, timeout=5, connect_timeout=3)
    values.update(overrides)
    return HostSettings(**values)


def test_it_runs_the_production_commands_on_the_host(ssh_hosts, client_key):
    host = ssh_hosts[0]
    remote = connect(settings_for(host, client_key))
    assert remote.run("systemctl is-active mmcentral").stdout.strip() == "active"
    assert remote.run("systemctl stop mmcentral").ok
    status = remote.run("systemctl is-active mmcentral")
    assert (status.exit_code, status.stdout.strip()) == (3, "inactive")
    assert host.service_state == "inactive"
    assert "11.0.3" in remote.run("mmcentrald -v").stdout


def test_a_non_zero_exit_code_is_data_not_an_error(ssh_hosts, client_key):
    result = connect(settings_for(ssh_hosts[0], client_key)).run("sh -c 'echo out; echo err >&2; exit 7'")
    assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")


def test_it_reuses_the_pooled_connection(ssh_hosts, client_key):
    settings = settings_for(ssh_hosts[0], client_key)
    assert connect(settings) is connect(settings)


def test_it_writes_atomically_and_keeps_a_timestamped_backup(ssh_hosts, client_key):
    host = ssh_hosts[0]
    original = host.preferences.read_bytes()
    backup = connect(settings_for(host, client_key)).write_file(PREFS, b"new content\n")
    assert host.preferences.read_bytes() == b"new content\n"
    assert [b.name for b in host.backups()] == [backup.rsplit("/", 1)[1]]
    assert host.backups()[0].read_bytes() == original
    assert not (host.central / "preferences.cfg.hacontrol-tmp").exists()


def test_a_crash_mid_write_leaves_the_old_file(ssh_hosts, client_key):
    host = ssh_hosts[0]
    original = host.preferences.read_bytes()
    remote = open_connection(settings_for(host, client_key))
    sftp = remote._sftp_client()
    with sftp.open(PREFS + ".hacontrol-tmp", "wb") as handle:
        handle.write(b"half a fi")
    remote.close()  # the connection dies before the rename
    assert host.preferences.read_bytes() == original


def test_it_refuses_an_unknown_host_key_and_shows_its_fingerprint(ssh_hosts, client_key):
    host = ssh_hosts[0]
    with pytest.raises(HostKeyUnknown) as raised:
        open_connection(settings_for(host, client_key, host_key=""))
    expected = subprocess.run(["ssh-keygen", "-lf", str(host.root / "ssh_host_ed25519_key.pub")],
                              capture_output=True, text=True).stdout.split()[1]
    assert raised.value.fingerprint == expected
    assert expected in str(raised.value)
    assert raised.value.presented_key == host.host_key_line


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
    host = ssh_hosts[0]
    host.fault("hang")
    with pytest.raises(TimedOut, match="did not finish within 1 s"):
        connect(settings_for(host, client_key)).run("systemctl is-active mmcentral", timeout=1)


def test_a_missing_command_is_named(ssh_hosts, client_key):
    with pytest.raises(CommandNotFound, match="command not found: mmcentral-nope"):
        connect(settings_for(ssh_hosts[0], client_key)).run_checked("mmcentral-nope -v")


def test_a_missing_file_is_named(ssh_hosts, client_key):
    with pytest.raises(FileNotFound, match="does not exist"):
        connect(settings_for(ssh_hosts[0], client_key)).read_file("/var/mmsuite/nope.cfg")


def test_an_unwritable_file_is_permission_denied_and_left_alone(ssh_hosts, client_key):
    host = ssh_hosts[0]
    original = host.preferences.read_bytes()
    host.central.chmod(0o555)
    host.preferences.chmod(0o444)
    remote = connect(settings_for(host, client_key, username=TEST_USER))
    with pytest.raises(PermissionDenied, match="permission denied on /var/mmsuite/mmcentral/preferences.cfg"):
        remote.write_file(PREFS, b"x")
    assert host.preferences.read_bytes() == original


def test_a_non_root_user_works_through_sudo(ssh_hosts, client_key):
    host = ssh_hosts[0]
    original = host.preferences.read_bytes()
    remote = connect(settings_for(host, client_key, username=TEST_USER, use_sudo=True))
    assert remote.run("id -u").stdout.strip() == "0"
    assert remote.run("systemctl stop mmcentral").ok and host.service_state == "inactive"
    assert remote.read_file(PREFS) == original
    backup = remote.write_file(PREFS, original + b'<ClusterMemberName value="central1"/>\n')
    assert host.preferences.read_bytes().endswith(b'"central1"/>\n') and host.preferences.stat().st_uid == 0
    assert Path(host.central / Path(backup).name).read_bytes() == original
    assert not list(Path("/tmp").glob("hacontrol-*Z.bak"))  # the staged copy is gone
