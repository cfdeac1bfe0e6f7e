"""Self-tests of the Windows host emulator, driven through pywinrm (the client the product uses).

Every test states the documented behaviour it checks; see tests/hosts/windows/README.md for sources.
Loopback addresses 127.0.4.1-127.0.4.50 only (each parallel test process its own: gw1 127.1.4.x, ...).
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import time

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError
from winrm.protocol import Protocol

from tests.conftest import WORKER_NUMBER
from tests.hosts.windows import WindowsHost, WinRMServer, windows_installer

PASSWORD = "Passw0rd!"
CENTRAL = r"C:\Program Files\Men and Mice\Central\mmcentral.exe"

_addr = iter(f"127.{WORKER_NUMBER}.4.{i}" for i in range(1, 51))


def next_address() -> str:
    return next(_addr)


@pytest.fixture
def host(tmp_path):
    return WindowsHost(tmp_path / "win")


@pytest.fixture
def server(host):
    srv = WinRMServer(host, next_address(), password=PASSWORD).start()
    yield srv
    srv.stop()


def protocol(srv, op_timeout=20, read_timeout=30, **kw) -> Protocol:
    return Protocol(srv.endpoint, transport="basic", username="Administrator", password=PASSWORD,
                    server_cert_validation="ignore", operation_timeout_sec=op_timeout, read_timeout_sec=read_timeout,
                    **kw)


def run(srv, line, **kw):
    p = protocol(srv, **kw)
    sid = p.open_shell()
    try:
        cid = p.run_command(sid, line)
        out, err, rc = p.get_command_output(sid, cid)
        p.cleanup_command(sid, cid)
        return out.decode("cp437"), err.decode("cp437"), rc
    finally:
        p.close_shell(sid)


def run_ps(srv, script):
    s = winrm.Session(srv.endpoint, auth=("Administrator", PASSWORD), transport="basic",
                      server_cert_validation="ignore")
    r = s.run_ps(script)
    return r.std_out.decode("cp437"), r.std_err.decode("utf-8", "replace"), r.status_code


# ------------------------------------------------------------------------------------------------ sc.exe
def test_sc_query_takes_the_key_name_not_the_display_name(server):
    # sc query <servicename>: "the service name returned by the getkeyname operation"; a display name is not
    # a service name -> ERROR_SERVICE_DOES_NOT_EXIST 1060, printed on stdout, exit code 1060.
    out, err, rc = run(server, "sc query mmcentral")
    assert rc == 0
    assert "SERVICE_NAME: mmcentral" in out
    assert "STATE              : 4  RUNNING" in out
    assert out.count("\r\n") >= 8 and "\n" not in out.replace("\r\n", "")
    out, err, rc = run(server, 'sc query "Micetro Central"')
    assert rc == 1060
    assert out == ("[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\n"
                   "The specified service does not exist as an installed service.\r\n\r\n")
    out, err, rc = run(server, 'sc getkeyname "micetro central"')
    assert rc == 0 and "Name = mmcentral" in out


def test_sc_queryex_reports_the_service_pid(server, host):
    out, _, rc = run(server, "sc queryex mmcentral")
    assert rc == 0
    pid = int(out.split("PID                :")[1].split()[0])
    assert pid == host.central_service.pid and pid in host.processes
    assert host.processes[pid].name == "mmcentral.exe"


def test_sc_stop_start_and_their_errors(server, host):
    out, _, rc = run(server, "sc stop mmcentral")
    assert rc == 0 and "3  STOP_PENDING" in out and host.service_state == "Stopped"
    out, _, rc = run(server, "sc stop mmcentral")
    assert rc == 1062 and "[SC] ControlService FAILED 1062:" in out and "The service has not been started." in out
    out, _, rc = run(server, "sc start mmcentral")
    assert rc == 0 and "2  START_PENDING" in out and host.service_state == "Running"
    out, _, rc = run(server, "sc start mmcentral")
    assert rc == 1056 and "An instance of the service is already running." in out
    host.fault("access_denied")
    out, _, rc = run(server, "sc stop mmcentral")
    assert rc == 5 and "[SC] OpenService FAILED 5:" in out and "Access is denied." in out
    host.fault("access_denied", False)
    assert host.events() == ["stop", "start"]
    out, _, rc = run(server, "sc qc mmcentral")
    assert rc == 0 and f'BINARY_PATH_NAME   : "{CENTRAL}"' in out and "DISPLAY_NAME       : Micetro Central" in out


def test_host_without_central_has_no_such_service(tmp_path):
    h = WindowsHost(tmp_path / "bare", central_installed=False)
    with WinRMServer(h, next_address(), password=PASSWORD) as srv:
        out, _, rc = run(srv, "sc query mmcentral")
        assert rc == 1060
        _, err, rc = run_ps(srv, "Get-Service mmcentral")
        assert rc == 1 and "Cannot find any service with service name 'mmcentral'." in err
    assert h.service_state == "NotInstalled" and h.version is None


# ------------------------------------------------------------------------------------------------ cmd.exe
def test_central_folder_is_not_on_path(server):
    # cmd searches the current directory, then PATH with PATHEXT; Central's folder is not on PATH:
    # 9009 "'x' is not recognized as an internal or external command,\r\noperable program or batch file."
    out, err, rc = run(server, "mmcentral -v")
    assert rc == 9009 and out == ""
    assert err == ("'mmcentral' is not recognized as an internal or external command,\r\n"
                   "operable program or batch file.\r\n")
    out, err, rc = run(server, f'"{CENTRAL}" -v')
    assert rc == 0 and out == "Micetro Central version 11.0.3\r\n"


def test_cmd_operators_variables_and_redirection(server):
    out, err, rc = run(server, "echo one && echo %COMPUTERNAME% & nosuch 2>&1 || echo fallback")
    assert out.startswith("one\r\nWIN-CENTRAL1\r\n'nosuch' is not recognized")
    assert out.endswith("fallback\r\n") and rc == 0
    out, _, rc = run(server, "echo %NOT_DEFINED_VAR%")
    assert out == "%NOT_DEFINED_VAR%\r\n"
    out, _, rc = run(server, "echo hi>nul")
    assert out == "" and rc == 0
    out, _, rc = run(server, "exit 7")
    assert rc == 7
    out, err, rc = run(server, r"C:\nope\x.exe")
    assert rc == 3 and "The system cannot find the path specified." in err


def test_cmd_c_quote_rule(server):
    # cmd /? : with more than two quotes the first and last quote of the line are removed.
    out, err, rc = run(server, f'"{CENTRAL}" -v "x"')
    assert rc == 9009 and "'C:\\Program' is not recognized" in err


# ------------------------------------------------------------------------------------------------ PowerShell
def test_ciminstance_filter_by_pathname(server):
    # WQL: backslash escapes in string constants (KB242507), LIKE with %.
    script = ("Get-CimInstance -ClassName Win32_Service -Filter "
              "\"PathName LIKE '%\\\\Men and Mice\\\\Central\\\\mmcentral.exe%'\" | "
              "Select-Object Name, DisplayName, State, ProcessId, StartMode | ConvertTo-Json -Compress")
    out, err, rc = run_ps(server, script)
    assert rc == 0, err
    assert out.strip() == ('{"Name":"mmcentral","DisplayName":"Micetro Central","State":"Running",'
                           f'"ProcessId":{server.host.central_service.pid},"StartMode":"Auto"}}')
    out, err, rc = run_ps(server, "Get-CimInstance Win32_Service -Filter \"PathName LIKE '%C:\\Program%'\"")
    assert rc == 1 and "Invalid query" in err


def test_get_filehash_matches_sha256(server, host):
    data = os.urandom(100_000)
    host.path(r"C:\Windows\Temp\blob.bin").write_bytes(data)
    out, err, rc = run_ps(server, r"(Get-FileHash -LiteralPath 'C:\Windows\Temp\blob.bin' -Algorithm SHA256).Hash")
    assert rc == 0 and out.strip() == hashlib.sha256(data).hexdigest().upper()


def test_missing_file_error_is_clixml(server):
    p = protocol(server)
    sid = p.open_shell()
    script = r"$ErrorActionPreference = 'Stop'; Get-Item 'C:\nope\missing.cfg'; 'not reached'"
    enc = base64.b64encode(script.encode("utf-16-le")).decode()
    cid = p.run_command(sid, f"powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {enc}")
    out, err, rc = p.get_command_output(sid, cid)
    p.cleanup_command(sid, cid)
    p.close_shell(sid)
    assert rc == 1 and out == b""
    assert err.startswith(b"#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">")
    assert b"_x000D__x000A_</S>" in err and err.endswith(b"</Objs>")
    cleaned = winrm.Session("x", auth=("a", "b"))._clean_error_msg(err).decode()
    assert cleaned.startswith("Get-Item : Cannot find path 'C:\\nope\\missing.cfg' because it does not exist.")
    assert "PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand" in cleaned


def test_powershell_language_subset(server):
    script = r"""
$h = [ordered]@{ name = 'a b'; n = 3 }
$h.extra = $h.n * 2
$items = @(1, 2, 3) | Where-Object { $_ -gt 1 } | ForEach-Object { $_ * 10 }
"$($h.name)|$($items -join ',')|$($h.extra)"
try { [IO.File]::ReadAllBytes('C:\nope.bin') } catch [System.IO.FileNotFoundException] { 'fnf' }
if ('Micetro Central 11.0.3' -match '(\d+)\.(\d+)\.(\d+)') { $Matches[1] }
'a,b'.Split(',').Count
[DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() -gt 1600000000000
$v = & 'C:\Program Files\Men and Mice\Central\mmcentral.exe' -v
"$v/$LASTEXITCODE"
nosuchcommand
'after'
exit 4
"""
    out, err, rc = run_ps(server, script)
    assert out.split("\r\n")[:7] == ["a b|20,30|6", "fnf", "11", "2", "True",
                                     "Micetro Central version 11.0.3/0", "after"]
    assert "The term 'nosuchcommand' is not recognized as the name of a cmdlet" in err
    assert rc == 4


def test_powershell_exit_code_follows_last_statement(server):
    # -Command/-EncodedCommand: 0 when the last statement succeeded, 1 when not (not the native code).
    assert run_ps(server, "cmd /c exit 5")[2] == 1
    assert run_ps(server, "cmd /c exit 5; 'ok'")[2] == 0
    assert run_ps(server, "throw 'boom'")[2] == 1


def test_stdin_streaming_throughput(server):
    """Stream 100 MB through [Console]::In.ReadLine() of one PowerShell fed by WS-Man Send (~300 KB base64
    lines); reports the throughput (must be >= 20 MB/s)."""
    p = protocol(server)
    script = r"""
$ErrorActionPreference = 'Stop'
$fs = [IO.File]::Create('C:\Windows\Temp\upload.bin')
try {
  while ($true) {
    $line = [Console]::In.ReadLine()
    if ($null -eq $line) { break }
    $bytes = [Convert]::FromBase64String($line)
    $fs.Write($bytes, 0, $bytes.Length)
  }
} finally { $fs.Close() }
(Get-FileHash -LiteralPath 'C:\Windows\Temp\upload.bin').Hash
"""
    enc = base64.b64encode(script.encode("utf-16-le")).decode()
    size = 100 * 1024 * 1024
    data = os.urandom(size)
    sid = p.open_shell()
    cid = p.run_command(sid, f"powershell -NoProfile -NonInteractive -EncodedCommand {enc}")
    chunk = 225 * 1024
    t0 = time.perf_counter()
    for off in range(0, size, chunk):
        p.send_command_input(sid, cid, base64.b64encode(data[off:off + chunk]) + b"\r\n")
    p.send_command_input(sid, cid, b"", end=True)
    out, err, rc = p.get_command_output(sid, cid)
    elapsed = time.perf_counter() - t0
    p.cleanup_command(sid, cid)
    p.close_shell(sid)
    mbps = size / 1024 / 1024 / elapsed
    print(f"\nstdin streaming: {size // 1024 // 1024} MB in {elapsed:.2f} s = {mbps:.1f} MB/s")
    assert rc == 0, err
    assert out.decode().strip() == hashlib.sha256(data).hexdigest().upper()
    assert mbps >= 20


def test_send_end_gives_end_of_input(server):
    p = protocol(server)
    sid = p.open_shell()
    script = "$n = 0; while ($null -ne [Console]::In.ReadLine()) { $n++ }; \"lines=$n\""
    enc = base64.b64encode(script.encode("utf-16-le")).decode()
    cid = p.run_command(sid, f"powershell -EncodedCommand {enc}")
    p.send_command_input(sid, cid, "a\r\nb\r\n")
    p.send_command_input(sid, cid, "c", end=True)
    out, err, rc = p.get_command_output(sid, cid)
    assert (out, rc) == (b"lines=3\r\n", 0)
    p.cleanup_command(sid, cid)
    p.close_shell(sid)


# ------------------------------------------------------------------------------------------------ WS-Man
def test_receive_times_out_while_a_slow_install_runs(server, host):
    # MS-WSMV 3.1.4.14: no output within OperationTimeout -> WSManFault 2150858793 (pywinrm raises
    # WinRMOperationTimeoutError); the command keeps running and finishes later.
    inst = windows_installer(host.path(r"C:\Windows\Temp"), "11.1.0")
    assert inst.exists()
    host.fault("slow_install", 2.5)
    p = protocol(server, op_timeout=1, read_timeout=5)
    sid = p.open_shell()
    cid = p.run_command(sid, r"C:\Windows\Temp\micetro-central-11.1.0.windows.x64.exe /S")
    with pytest.raises(WinRMOperationTimeoutError):
        p.get_command_output_raw(sid, cid)
    out, err, rc = p.get_command_output(sid, cid)
    p.cleanup_command(sid, cid)
    p.close_shell(sid)
    assert rc == 0
    assert host.version == "11.1.0" and host.service_state == "Running"
    assert host.events() == ["stop", "install-11.1.0", "start"]


def test_signal_terminate_ends_a_hanging_gui_installer(server, host):
    windows_installer(host.path(r"C:\Windows\Temp"), "11.1.0")
    p = protocol(server, op_timeout=1, read_timeout=5)
    sid = p.open_shell()
    cid = p.run_command(sid, r"C:\Windows\Temp\micetro-central-11.1.0.windows.x64.exe")
    with pytest.raises(WinRMOperationTimeoutError):
        p.get_command_output_raw(sid, cid)
    assert any(pi.name.startswith("micetro-central") for pi in host.processes.values())
    p.cleanup_command(sid, cid)   # Signal .../signal/terminate
    deadline = time.time() + 5
    while any(pi.name.startswith("micetro-central") for pi in host.processes.values()) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(pi.name.startswith("micetro-central") for pi in host.processes.values())
    with pytest.raises(WSManFaultError):
        p.get_command_output_raw(sid, cid)
    p.close_shell(sid)
    assert host.version == "11.0.3" and host.events() == []


def test_max_envelope_size_is_enforced(server):
    p = protocol(server)
    sid = p.open_shell()
    cid = p.run_command(sid, "powershell -Command \"[Console]::In.ReadLine() | Out-Null\"")
    with pytest.raises(WinRMTransportError) as ei:
        p.send_command_input(sid, cid, b"A" * (600 * 1024))
    assert ei.value.code == 413
    p.send_command_input(sid, cid, b"small\r\n", end=True)
    assert p.get_command_output(sid, cid)[2] == 0
    p.cleanup_command(sid, cid)
    p.close_shell(sid)


def test_basic_auth_and_allow_unencrypted(host):
    with WinRMServer(host, next_address(), password=PASSWORD) as srv:
        bad = Protocol(srv.endpoint, transport="basic", username="Administrator", password="wrong")
        with pytest.raises(InvalidCredentialsError):
            bad.open_shell()
        r = requests.post(srv.endpoint, data=b"<x/>", timeout=5)
        assert r.status_code == 401 and 'Basic realm="WSMAN"' in r.headers.get("WWW-Authenticate", "")
    with WinRMServer(host, next_address(), password=PASSWORD, allow_unencrypted=False) as srv:
        with pytest.raises(InvalidCredentialsError):
            protocol(srv).open_shell()
    with WinRMServer(host, next_address(), password=PASSWORD, https=True, allow_unencrypted=False) as srv:
        out, _, rc = run(srv, "hostname")
        assert (out, rc) == ("WIN-CENTRAL1\r\n", 0)


def test_https_certificate_fingerprint(host):
    with WinRMServer(host, next_address(), password=PASSWORD, https=True) as srv:
        assert srv.endpoint.startswith("https://")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection((srv.address, srv.port), timeout=5) as raw:
            with ctx.wrap_socket(raw) as tls:
                der = tls.getpeercert(binary_form=True)
        assert hashlib.sha256(der).hexdigest() == srv.certificate_sha256
        out, _, rc = run(srv, "sc query mmcentral")
        assert rc == 0 and "RUNNING" in out


def test_relates_to_and_delete(server):
    p = protocol(server)
    sid = p.open_shell()
    cid = p.run_command(sid, "echo x")
    p.get_command_output(sid, cid)
    p.cleanup_command(sid, cid)    # asserts RelatesTo == MessageID
    p.close_shell(sid)             # idem
    assert not server.shells
    with pytest.raises(WSManFaultError):
        p.run_command(sid, "echo x")


def test_hang_fault_never_answers(server, host):
    host.fault("hang")
    p = protocol(server, op_timeout=1, read_timeout=2)
    with pytest.raises(Exception) as ei:
        p.open_shell()
    assert isinstance(ei.value, (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError))
    host.fault("hang", False)
    assert run(server, "hostname")[2] == 0


def test_commands_are_logged(server):
    run(server, "hostname")
    run(server, "sc query mmcentral")
    assert server.commands == ["hostname", "sc query mmcentral"]


# ------------------------------------------------------------------------------------------------ Central
def test_mmcentral_stop_start_and_other_install_dir(tmp_path):
    h = WindowsHost(tmp_path / "w2", install_dir=r"D:\Apps\Micetro\Central", display_name="Men and Mice Central",
                    service_name="MMCentral", version="10.5.2")
    with WinRMServer(h, next_address(), password=PASSWORD) as srv:
        exe = r"D:\Apps\Micetro\Central\mmcentral.exe"
        out, err, rc = run(srv, f"{exe} -stop")
        assert rc == 0 and h.service_state == "Stopped"
        out, err, rc = run(srv, f"{exe} \u2013start")   # the vendor page prints an en dash
        assert rc == 0 and h.service_state == "Running"
        out, _, rc = run(srv, f"{exe} -v")
        assert out == "Men and Mice Central version 10.5.2\r\n"
        out, _, rc = run_ps(srv, "(Get-CimInstance Win32_Service -Filter \"Name='MMCentral'\").PathName")
        assert out.strip() == '"D:\\Apps\\Micetro\\Central\\mmcentral.exe"'
        h.fault("fail_start")
        out, err, rc = run(srv, f"{exe} -stop && {exe} -start")
        assert rc == 1067 and h.service_state == "Stopped"
        _, err, rc = run_ps(srv, "Start-Service MMCentral")
        assert rc == 1 and ("Service 'Men and Mice Central (MMCentral)' cannot be started due to the following "
                            "error: Cannot start service MMCentral on computer '.'.") in err
    assert h.events() == ["stop", "start", "stop", "start-failed", "start-failed"]


def test_silent_install_through_powershell_and_fail_install(server, host):
    windows_installer(host.path(r"C:\Windows\Temp"), "11.2.0")
    out, err, rc = run_ps(server, r"$p = Start-Process -FilePath 'C:\Windows\Temp\micetro-central-11.2.0.windows.x64.exe' "
                                  r"-ArgumentList '/S' -Wait -PassThru; $p.ExitCode; (Get-Service mmcentral).Status")
    assert rc == 0 and out.split() == ["0", "Running"] and host.version == "11.2.0"
    host.fault("fail_install")
    out, err, rc = run(server, r"C:\Windows\Temp\micetro-central-11.2.0.windows.x64.exe /S")
    assert rc == 2 and host.events()[-1] == "install-failed-11.2.0"


def test_central_simulator_adapter(tmp_path):
    from tests.hosts.windows import simulator_available, simulator_factory
    if not simulator_available():
        pytest.skip("tests/hosts/central does not export CentralInstance yet")
    from tests.hosts import central as sim
    store = sim.CentralStore(tmp_path / "store")
    h = WindowsHost(tmp_path / "w3", central_factory=simulator_factory(store))
    try:
        assert h.service_state == "Running" and h.central.running
        assert h.service_stop("mmcentral") == 0 and not h.central.running
        assert h.service_start("mmcentral") == 0 and h.central.running
    finally:
        if h.central is not None and h.central.running:
            h.central.stop()


def test_codepage_and_large_output(server, host):
    # WINRS_CODEPAGE sets the shell's console code page: output bytes follow it (437 by default in pywinrm).
    p = protocol(server)
    sid = p.open_shell(codepage=65001)
    cid = p.run_command(sid, "powershell -Command \"'caf\u00e9'\"")
    out, _, rc = p.get_command_output(sid, cid)
    assert (out, rc) == ("caf\u00e9\r\n".encode("utf-8"), 0)
    p.close_shell(sid)
    out, _, rc = run(server, "powershell -Command \"'caf\u00e9'\"")
    assert out.encode("cp437") == b"caf\x82\r\n"
    # Output larger than one envelope arrives over several Receive responses.
    blob = (b"0123456789abcdef" * 64 + b"\r\n") * 1024
    host.path(r"C:\Windows\Temp\big.txt").write_bytes(blob)
    out, _, rc = run(server, r"type C:\Windows\Temp\big.txt")
    assert rc == 0 and out.encode("cp437") == blob


def test_convertto_json_windows_powershell_format(server):
    script = ("[ordered]@{ s = 'a<b>&''c'; n = 1.5; t = $true; z = $null; l = @(1, 'x'); "
              "o = [ordered]@{ k = [ordered]@{ deep = [ordered]@{ x = 1 } } } } | ConvertTo-Json")
    out, err, rc = run_ps(server, script)
    assert rc == 0, err
    assert out == ('{\r\n    "s":  "a\\u003cb\\u003e\\u0026\\u0027c",\r\n    "n":  1.5,\r\n    "t":  true,\r\n'
                   '    "z":  null,\r\n    "l":  [\r\n              1,\r\n              "x"\r\n          ],\r\n'
                   '    "o":  {\r\n              "k":  {\r\n                        "deep":  '
                   '"System.Collections.Specialized.OrderedDictionary"\r\n                    }\r\n          }\r\n}\r\n')


def test_parse_error_is_reported_before_running(server, host):
    out, err, rc = run_ps(server, "Stop-Service mmcentral\nif ($x -eq) { 'y' }")
    assert rc == 1 and out == ""
    assert "You must provide a value expression following the '-eq' operator." in err
    assert "ExpectedValueExpression" in err
    assert host.service_state == "Running"   # nothing ran
