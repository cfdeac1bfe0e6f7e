"""The WinRM transport: pywinrm's real wire code against a WS-Management test endpoint."""

import pytest

from hacontrol.remote import (
    AuthenticationFailed,
    CommandNotFound,
    ConnectionRefused,
    FileNotFound,
    HostSettings,
    connect,
    open_connection,
)
from tests.hosts.winrm_server import PREFERENCES


def settings_for(host, **overrides) -> HostSettings:
    values = dict(platform="windows", address="127.0.0.30", port=host.server.port,
                  username=host.username, password=host.password, winrm_auth="basic", timeout=5, connect_timeout=3)
    values.update(overrides)
    return HostSettings(**values)


def test_it_stops_and_starts_central_with_the_vendor_commands(windows_host):
    remote = connect(settings_for(windows_host))
    commands = remote.commands
    assert remote.run(commands.stop).ok
    status = remote.run(commands.status)
    assert not commands.is_running(status.exit_code, status.stdout)
    assert remote.run(commands.start).ok
    status = remote.run(commands.status)
    assert commands.is_running(status.exit_code, status.stdout)
    assert windows_host.log == ["stop", "start"]
    assert windows_host.server.commands[:2] == ["mmcentral -stop", 'sc query "Men and Mice Central"']


def test_it_reuses_one_remote_shell(windows_host):
    remote = connect(settings_for(windows_host))
    remote.run("mmcentral -v")
    remote.run("mmcentral -v")
    assert connect(settings_for(windows_host)) is remote
    assert len(windows_host.server.shells) == 1


def test_it_reads_and_writes_files_in_chunks_keeping_a_backup(windows_host):
    remote = connect(settings_for(windows_host))
    original = remote.read_file(PREFERENCES)
    assert original == windows_host.preferences.read_bytes()
    data = bytes(range(256)) * 20  # 5 kB: four PowerShell chunks
    backup = remote.write_file(PREFERENCES, data)
    assert windows_host.preferences.read_bytes() == data
    assert windows_host.path(backup).read_bytes() == original
    assert not windows_host.path(PREFERENCES + ".hacontrol-tmp").exists()


def test_a_missing_file_is_named(windows_host):
    with pytest.raises(FileNotFound):
        connect(settings_for(windows_host)).read_file(r"C:\nope\preferences.cfg")


def test_wrong_credentials_are_an_authentication_failure(windows_host):
    with pytest.raises(AuthenticationFailed, match="authentication failed for Administrator"):
        open_connection(settings_for(windows_host, password="wrong"))


def test_a_closed_port_is_refused(windows_host):
    with pytest.raises(ConnectionRefused):
        open_connection(settings_for(windows_host, port=1))


def test_an_unknown_command_is_named(windows_host):
    with pytest.raises(CommandNotFound, match="command not found: mmcentrl"):
        connect(settings_for(windows_host)).run_checked("mmcentrl -v")
