"""The WinRM transport against an emulated Windows host that answers as Microsoft documents it
(tests/hosts/windows): Central found by its service, full paths, files and installers through
PowerShell, errors read from CLIXML, TLS certificates pinned."""

import hashlib

import pytest

from hacontrol.remote import (
    AuthenticationFailed,
    BadSettings,
    FileNotFound,
    HostKeyChanged,
    HostKeyUnknown,
    HostSettings,
    RemoteError,
    borrow,
    open_connection,
)
from hacontrol.remote.wsman import cmd_quote, decode_clixml, ps_quote
from tests.conftest import WINDOWS_PASSWORD

PREFS = r"C:\ProgramData\Men and Mice\Central\preferences.cfg"


def settings_for(host, **overrides) -> HostSettings:
    values = dict(platform="windows", address=host.server.address, port=host.server.port, username="Administrator",
                  password=WINDOWS_PASSWORD, winrm_auth="basic", preferences_path=PREFS, timeout=10, connect_timeout=3)
    return HostSettings(**(values | overrides))


def test_one_look_finds_central_by_its_service_and_reads_everything(windows_host):
    with borrow(settings_for(windows_host)) as remote:
        report = remote.report()
    assert report.service.running and report.service.started_at and report.version == "11.0.3"
    assert report.extra["windows_service"] == {"name": "mmcentral", "displayName": "Micetro Central",
                                               "pathName": r'"C:\Program Files\Men and Mice\Central\mmcentral.exe"'}
    assert report.preferences == windows_host.preferences.read_bytes() and b"\r\n" in report.preferences
    assert abs(report.clock_skew) < 2


def test_an_older_display_name_another_key_name_and_another_folder_are_found(more_windows_hosts):
    host = more_windows_hosts(display_name="Men and Mice Central", service_name="MMCentralSvc",
                         install_dir=r"D:\Apps\Micetro\Central")
    with borrow(settings_for(host)) as remote:
        report = remote.report()
        assert report.service.running
        assert remote.control("stop").ok and host.service_state == "Stopped"
        assert remote.control("start").ok and host.service_state == "Running"
    assert report.extra["windows_service"]["name"] == "MMCentralSvc"
    # As cmd /c needs it: wrapped in one more pair of quotes, which it removes.
    assert r'""D:\Apps\Micetro\Central\mmcentral.exe" -stop"' in host.server.commands


def test_a_host_without_central_says_so(more_windows_hosts):
    host = more_windows_hosts(central_installed=False)
    with borrow(settings_for(host)) as remote:
        report = remote.report()
        assert not report.installed
        with pytest.raises(RemoteError, match=f"Central is not installed on {host.server.address}"):
            remote.control("start")


def test_stop_and_start_run_mmcentral_by_its_full_path(windows_host):
    with borrow(settings_for(windows_host)) as remote:
        assert remote.control("restart").ok
    commands = windows_host.server.commands
    assert r'""C:\Program Files\Men and Mice\Central\mmcentral.exe" -stop"' in commands
    assert r'""C:\Program Files\Men and Mice\Central\mmcentral.exe" -start"' in commands
    assert not any(line.startswith("mmcentral") for line in commands), "never by a bare name: not on the PATH"
    assert windows_host.events()[-2:] == ["stop", "start"]


def test_files_are_written_byte_for_byte_with_a_backup(windows_host):
    data = b"<Database value=\"postgresql\"/>\r\ncaf\xe9 \xff\r\n"
    original = windows_host.preferences.read_bytes()
    with borrow(settings_for(windows_host)) as remote:
        backup = remote.write_file(PREFS, data)
        assert remote.read_file(PREFS) == data
    assert windows_host.preferences.read_bytes() == data
    assert windows_host.path(backup).read_bytes() == original


def test_a_missing_file_is_reported_in_powershell_s_own_words(windows_host):
    with borrow(settings_for(windows_host)) as remote, pytest.raises(FileNotFound) as raised:
        remote.read_file(r"C:\nowhere\preferences.cfg")
    assert "CLIXML" not in str(raised.value) and "<Objs" not in str(raised.value)
    assert "nowhere" in str(raised.value)


def test_a_100_mb_installer_is_staged_privately_checked_and_removed(windows_host, tmp_path):
    installer = tmp_path / "Micetro_Central_x64.exe"
    with installer.open("wb") as handle:
        for index in range(100):
            handle.write(bytes([index]) * (1024 * 1024))
    digest = hashlib.sha256(installer.read_bytes()).hexdigest()
    with borrow(settings_for(windows_host, timeout=120)) as remote:
        staged = remote.stage(str(installer), digest)
        assert "\\hacontrol-" in staged
        assert hashlib.sha256(windows_host.path(staged).read_bytes()).hexdigest() == digest
        remote.unstage(staged)
        assert not windows_host.path(staged).exists()
        with pytest.raises(RemoteError, match="the transfer was damaged"):
            remote.stage(str(installer), "0" * 64)


@pytest.mark.parametrize("path", ['C:\\a"b.cfg', "C:\\a&b.cfg", "C:\\a%PATH%b.cfg", "C:\\a^b.cfg", "C:\\a|b.cfg"])
def test_what_cmd_would_misread_never_reaches_it(path):
    with pytest.raises(BadSettings, match="refusing to pass"):
        cmd_quote(path)


@pytest.mark.parametrize("text", ["it's", "$(Remove-Item C:\\)", "a`b", "‘quoted’", "&{ x }"])
def test_powershell_literals_keep_any_text_inert(windows_host, text):
    with borrow(settings_for(windows_host)) as remote:
        said = remote.powershell(f"Write-Output {ps_quote(text)}").stdout.strip()
    # The console's code page (437) has no curly quotes: Windows prints the nearest ones.
    assert said == text.replace("‘", "'").replace("’", "'")


def test_clixml_errors_read_as_a_console_prints_them():
    clixml = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
              '<S S="Error">Cannot find path \'C:\\x\' because it does not exist._x000D__x000A_</S>'
              '<S S="Error">At line:1 char:1_x000D__x000A_</S></Objs>')
    assert decode_clixml(clixml) == "Cannot find path 'C:\\x' because it does not exist.\nAt line:1 char:1"


def test_a_wrong_password_is_an_authentication_failure(windows_host):
    with pytest.raises(AuthenticationFailed):
        open_connection(settings_for(windows_host, password="wrong"))


def test_https_certificates_are_pinned_like_host_keys(more_windows_hosts):
    host = more_windows_hosts(https=True)
    with pytest.raises(HostKeyUnknown) as raised:
        open_connection(settings_for(host, winrm_https=True))
    assert raised.value.fingerprint == "SHA256:" + host.server.certificate_sha256.upper()
    remote = open_connection(settings_for(host, winrm_https=True, winrm_certificate=raised.value.fingerprint))
    assert remote.report().service.running
    with pytest.raises(HostKeyChanged):
        open_connection(settings_for(host, winrm_https=True, winrm_certificate="SHA256:" + "AB" * 32))


def test_basic_over_plain_http_refused_by_the_host_is_a_clear_error(more_windows_hosts):
    host = more_windows_hosts()
    host.server.allow_unencrypted = False
    with pytest.raises(AuthenticationFailed):
        open_connection(settings_for(host))


def test_a_pinned_certificate_is_checked_on_every_connection_not_only_the_first(more_windows_hosts):
    from tests.hosts.windows.certs import Certificate

    host = more_windows_hosts(https=True)
    pinned = "SHA256:" + host.server.certificate_sha256.upper()
    remote = open_connection(settings_for(host, winrm_https=True, winrm_certificate=pinned))
    assert remote.run("ver").ok
    # An interceptor that let the first look through now answers with a certificate of its own.
    port = host.server.port
    host.server.stop()
    host.server.cert = Certificate(host.hostname, host.server.address)
    host.server._port = port
    host.server.start()
    with pytest.raises(HostKeyChanged) as raised:
        remote.run("ver")
    assert raised.value.fingerprint == "SHA256:" + host.server.certificate_sha256.upper() != pinned
    assert pinned in str(raised.value)
