"""Windows hosts over WinRM (pywinrm): Central found by its service, files through PowerShell.

Every command runs in a shell of its own, so a thirty-minute install never holds up a probe of
the same host, and each thread keeps its own HTTP session. Central is found on the host by the
service whose executable is ``mmcentral.exe`` (its key name and display name changed over
versions, and its folder may be anywhere); it is stopped and started the vendor's way,
``mmcentral.exe -stop`` / ``-start`` by full path, with the service control manager as a fallback.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Literal

import requests
from requests.adapters import HTTPAdapter
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
)
from winrm.protocol import Protocol

from hacontrol.remote import (
    AuthenticationFailed,
    BadSettings,
    CentralNotInstalled,
    CommandResult,
    ConnectionRefused,
    FileNotFound,
    HostKeyChanged,
    HostKeyUnknown,
    HostReport,
    HostSettings,
    PermissionDenied,
    Remote,
    RemoteError,
    ServiceState,
    StaleConnection,
    TimedOut,
    Unreachable,
    backup_suffix,
    parse_backups,
)
from hacontrol.remote.commands import parse_version

# Raw bytes per stdin line: base64 twice (ours, then WS-Management's) stays under the 500 KB
# envelope that Windows accepts by default (MaxEnvelopeSizekb).
STDIN_CHUNK = 240 * 1024
TRANSPORTS: dict[str, Literal["basic", "ntlm", "kerberos"]] = {"basic": "basic", "ntlm": "ntlm", "kerberos": "kerberos"}
CLIXML = "#< CLIXML"


def certificate_fingerprint(der: bytes) -> str:
    """How a TLS certificate is pinned and shown: ``SHA256:`` and the upper-case hex SHA-256 of
    its DER bytes (what ``certutil -hashfile`` and ``openssl x509 -fingerprint -sha256`` print)."""
    return "SHA256:" + hashlib.sha256(der).hexdigest().upper()


class PinnedCertificateAdapter(HTTPAdapter):
    """Checks every TLS connection of a WinRM session against the pinned certificate: a first
    look alone would let an interceptor present the right certificate once and its own later."""

    def __init__(self, pinned: str):
        self.pinned_hex = pinned.removeprefix("SHA256:").lower()
        super().__init__()

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["assert_fingerprint"] = self.pinned_hex
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def _pin_sessions(protocol: Protocol, pinned: str) -> None:
    """Give every HTTP session pywinrm opens for ``protocol`` the pinned-certificate check (it
    closes its session with each shell and builds a new one for the next)."""
    transport = protocol.transport
    build = transport.build_session

    def build_pinned() -> requests.Session:
        fresh = transport.session is None
        session = build()
        if fresh:
            session.mount("https://", PinnedCertificateAdapter(pinned))
        return session

    transport.build_session = build_pinned  # type: ignore[method-assign]


def ps_quote(text: str) -> str:
    """A PowerShell single-quoted string literal (about_Quoting_Rules: '' is a literal ')."""
    return "'" + text.replace("'", "''").replace("\u2018", "\u2018\u2018").replace("\u2019", "\u2019\u2019") + "'"


def cmd_checked(path: str) -> str:
    """``path``, once it is known to be safe between double quotes on a cmd.exe line: cmd has no
    escape inside quotes (and expands %VAR% even there), so what could break out of them or expand
    is refused rather than escaped."""
    if re.search(r'["%^&|<>\r\n\x00]', path):
        shown = path if path.isprintable() else repr(path)
        raise BadSettings(f"refusing to pass {shown} to cmd.exe: it holds a quote or one of % ^ & | < >")
    return path


def cmd_quote(path: str) -> str:
    """A path as one cmd.exe argument, in double quotes (see :func:`cmd_checked`)."""
    return f'"{cmd_checked(path)}"'


def slash_c(line: str) -> str:
    """The line to send for cmd.exe /c to run ``line`` as written. cmd /c keeps a line's quotes only
    when it holds exactly two, around an executable's path with a space and none of &<>()@^|;
    otherwise it removes the first and the last quote of the line, so a quoted path under
    "Program Files (x86)" or another's parentheses would lose its quotes. A line that starts with a
    quote is therefore wrapped in one more pair, which is what cmd removes (cmd /?)."""
    return f'"{line}"' if line.lstrip().startswith('"') else line


def encoded_powershell(script: str) -> str:
    """The cmd line that runs ``script`` without any quoting trouble (-EncodedCommand takes
    base64 of UTF-16LE)."""
    return "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand " + base64.b64encode(
        script.encode("utf-16-le")
    ).decode()


def _as_list(value) -> list[dict]:
    """ConvertTo-Json writes a one-element array as the element itself."""
    if isinstance(value, dict):
        return [value]
    return [item for item in value or [] if isinstance(item, dict)]


def decode_clixml(text: str) -> str:
    """PowerShell's error stream as a console would print it: a non-interactive PowerShell over
    WinRM writes its errors as CLIXML (``#< CLIXML`` then <Objs> of <S S="Error"> strings)."""
    if not text.lstrip().startswith(CLIXML):
        return text.strip()
    body = text.lstrip()[len(CLIXML):]
    try:
        root = ET.fromstring(re.sub(r'\sxmlns="[^"]*"', "", body, count=1).strip())
    except ET.ParseError:
        return text.strip()
    lines = [node.text or "" for node in root.iter("S") if node.get("S") == "Error"]
    decoded = "".join(lines).replace("_x000D__x000A_", "\n").replace("_x000A_", "\n")
    decoded = re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), decoded)
    return "\n".join(line.rstrip() for line in decoded.splitlines() if line.strip()).strip()


REPORT = r"""
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$out = [ordered]@{}
$out.clock = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()
$services = @(Get-CimInstance -ClassName Win32_Service -Filter "PathName LIKE '%mmcentral%'")
$out.services = @($services | ForEach-Object { [ordered]@{ name = $_.Name; displayName = $_.DisplayName; pathName = $_.PathName; state = $_.State; processId = $_.ProcessId } })
if ($services.Count -eq 1) {
  $service = $services | Select-Object -First 1
  if ($service.ProcessId -gt 0) {
    $process = Get-Process -Id $service.ProcessId
    $out.started = ([DateTimeOffset]$process.StartTime).ToUnixTimeMilliseconds()
  }
  $exe = $service.PathName -replace '(?i)^\s*"?(.+?\.exe).*$', '$1'
  $out.version = (& $exe -v | Out-String).Trim()
}
$path = PREFERENCES
if (Test-Path -LiteralPath $path) { $out.preferences = [Convert]::ToBase64String([IO.File]::ReadAllBytes($path)) }
try {
  $leaf = Split-Path -LiteralPath $path -Leaf
  $out.backups = @(Get-ChildItem -LiteralPath (Split-Path -LiteralPath $path -Parent) -Filter ($leaf + '.hacontrol-*.bak') -File | ForEach-Object { [ordered]@{ name = $_.Name; size = $_.Length; modified = ([DateTimeOffset]$_.LastWriteTimeUtc).ToUnixTimeSeconds() } })
} catch { $out.backups = @() }
$out | ConvertTo-Json -Compress -Depth 4
"""


class WinRMRemote(Remote):
    """A Windows host over WS-Management; each command in a shell of its own."""

    def __init__(self, host: HostSettings):
        super().__init__(host)
        scheme = "https" if host.winrm_https else "http"
        self.endpoint = f"{scheme}://{host.address}:{host.port}/wsman"
        if host.winrm_ca_file and not host.winrm_certificate:
            import os

            if not os.path.isfile(host.winrm_ca_file):
                raise BadSettings(f"{host.where}: the WinRM CA bundle {host.winrm_ca_file} does not exist")
        self._local = threading.local()
        self._alive = True
        self.discovered: dict = {}
        if host.winrm_https:
            self._check_certificate()
        # Reach the host once now, so a wrong address or password fails at connect time.
        self.run("ver")

    # Transport --------------------------------------------------------------------------------

    def _check_certificate(self) -> None:
        """Compare the server's certificate with the pinned SHA-256 (like an SSH host key)."""
        try:
            with socket.create_connection((self.host.address, self.host.port), self.host.connect_timeout) as raw:
                context = ssl.create_default_context()
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                with context.wrap_socket(raw) as wrapped:
                    der = wrapped.getpeercert(binary_form=True) or b""
        except ConnectionRefusedError:
            raise ConnectionRefused(f"{self.host.where} refused the connection (is WinRM listening?)") from None
        except (OSError, ssl.SSLError) as error:
            raise Unreachable(f"{self.host.where} is unreachable: {error}") from None
        presented = certificate_fingerprint(der)
        pinned = self.host.winrm_certificate
        if not pinned:
            if self.host.winrm_ca_file:
                return  # validated by the CA bundle instead
            raise HostKeyUnknown(f"{self.host.where} presented an unknown TLS certificate {presented}; "
                                 "accept it explicitly if it is the right one", presented_key=presented,
                                 fingerprint=presented)
        if presented != pinned:
            raise HostKeyChanged(f"TLS certificate changed for {self.host.where}: expected {pinned}, got {presented}; "
                                 "this may be an attack or a reinstalled host", presented_key=presented,
                                 fingerprint=presented)

    def _protocol(self) -> Protocol:
        protocol = getattr(self._local, "protocol", None)
        if protocol is None:
            host = self.host
            validate = host.winrm_https and not host.winrm_certificate
            protocol = Protocol(
                self.endpoint, transport=TRANSPORTS.get(host.winrm_auth, "ntlm"),
                username=host.username, password=host.password,
                server_cert_validation="validate" if validate else "ignore",
                ca_trust_path=host.winrm_ca_file or "legacy_requests",
                operation_timeout_sec=max(1, int(host.connect_timeout)),
                read_timeout_sec=max(1, int(host.connect_timeout)) + 5,
                message_encryption="auto" if host.winrm_https or host.winrm_auth != "basic" else "never",
            )
            if host.winrm_https and host.winrm_certificate:
                _pin_sessions(protocol, host.winrm_certificate)
            self._local.protocol = protocol
        return protocol

    def _call(self, operation, *args, started: bool = True):
        """One protocol operation; transport failures become RemoteErrors. ``started`` says
        whether something may already run on the host (else a dead connection is stale)."""
        where = self.host.where
        try:
            return operation(*args)
        except InvalidCredentialsError as error:
            raise AuthenticationFailed(f"authentication failed for {self.host.username}@{where}: {error}") from None
        except requests.exceptions.SSLError as error:
            mismatch = re.search(r'Fingerprints did not match\. Expected "[0-9a-f:]+", got "([0-9a-f:]+)"', str(error))
            if mismatch:
                presented = "SHA256:" + mismatch.group(1).replace(":", "").upper()
                raise HostKeyChanged(f"TLS certificate changed for {where}: expected {self.host.winrm_certificate}, got "
                                     f"{presented}; this may be an attack or a reinstalled host",
                                     presented_key=presented, fingerprint=presented) from None
            raise Unreachable(f"{where}: TLS certificate check failed: {error}") from None
        except requests.exceptions.ConnectTimeout:
            raise TimedOut(f"connecting to {where} timed out") from None
        except requests.exceptions.ConnectionError as error:
            if "refused" in str(error).lower():
                raise ConnectionRefused(f"{where} refused the connection (is WinRM listening?)") from None
            if not started:
                raise StaleConnection(f"{where}: the connection was lost: {error}") from None
            raise Unreachable(f"{where} is unreachable: {error}") from None
        except requests.exceptions.ReadTimeout:
            raise TimedOut(f"{where} stopped answering") from None
        except WinRMOperationTimeoutError:
            raise
        except (WinRMTransportError, WinRMError) as error:
            raise RemoteError(f"{where}: WinRM error: {error}") from None

    def is_alive(self) -> bool:
        return self._alive

    def close(self) -> None:
        self._alive = False

    def run(self, command: str, timeout: float | None = None, stdin: Iterator[bytes] | None = None) -> CommandResult:
        timeout = self.host.timeout if timeout is None else timeout
        protocol = self._protocol()
        deadline = time.monotonic() + timeout
        shell = self._call(protocol.open_shell, started=False)
        try:
            command_id = self._call(protocol.run_command, shell, slash_c(command))
            if stdin is not None:
                for chunk in stdin:
                    if time.monotonic() > deadline:
                        raise TimedOut(f"{self.host.address}: sending input to `{command[:60]}` took over {timeout:g} s")
                    self._call(protocol.send_command_input, shell, command_id, chunk, False)
                self._call(protocol.send_command_input, shell, command_id, b"", True)
            stdout, stderr = bytearray(), bytearray()
            while True:
                try:
                    out, err, code, done = self._call(protocol.get_command_output_raw, shell, command_id)
                except WinRMOperationTimeoutError:
                    out, err, code, done = b"", b"", -1, False
                stdout += out
                stderr += err
                if done:
                    break
                if time.monotonic() > deadline:
                    raise TimedOut(f"{self.host.address}: `{command[:60]}` did not finish within {timeout:g} s")
            try:
                self._call(protocol.cleanup_command, shell, command_id)
            except RemoteError:
                pass
        finally:
            try:
                self._call(protocol.close_shell, shell)
            except RemoteError:
                pass
        return CommandResult(command, code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))

    def missing_program(self, result: CommandResult) -> str:
        found = re.search(r"'([^']+)' is not recognized as an internal or external command", result.stderr)
        return found.group(1) if found else ""

    def powershell(self, script: str, *, stdin: Iterator[bytes] | None = None, timeout: float | None = None) -> CommandResult:
        """Run a PowerShell script; a script error becomes a :class:`RemoteError` carrying the
        message PowerShell would have printed."""
        result = self.run(encoded_powershell("$ErrorActionPreference = 'Stop'\n" + script), timeout, stdin)
        if not result.ok:
            message = decode_clixml(result.stderr) or result.stdout.strip() or f"exit {result.exit_code}"
            if "does not exist" in message or "Could not find" in message or "Cannot find path" in message:
                raise FileNotFound(f"{self.host.address}: {message}")
            if "denied" in message.lower():
                raise PermissionDenied(f"{self.host.address}: {message}")
            raise RemoteError(f"{self.host.address}: PowerShell failed: {message}")
        return CommandResult(result.command, result.exit_code, result.stdout, decode_clixml(result.stderr))

    # Central ------------------------------------------------------------------------------------

    def report(self) -> HostReport:
        before = time.time()
        found = json.loads(self.powershell(REPORT.replace("PREFERENCES", ps_quote(self.host.preferences_path))).stdout)
        after = time.time()
        services = found.get("services") or []
        if len(services) > 1:
            names = ", ".join(s.get("name", "?") for s in services)
            raise RemoteError(f"{self.host.address}: several services run mmcentral ({names}); "
                              "hacontrol cannot tell which one is Central")
        service = services[0] if services else {}
        self.discovered = service
        running = (service.get("state") or "").lower() == "running"
        started = found.get("started")
        data = base64.b64decode(found["preferences"]) if found.get("preferences") else None
        return HostReport(
            service=ServiceState(running, started / 1000 if started else None, service.get("state", "not installed")),
            version=parse_version(found.get("version") or ""),
            clock=found["clock"] / 1000 if found.get("clock") else None,
            preferences=data,
            preferences_error="" if data is not None else f"{self.host.preferences_path} does not exist",
            before=before, after=after, installed=bool(service),
            extra={"windows_service": {k: service.get(k) for k in ("name", "displayName", "pathName")}} if service else {},
            backups=parse_backups(_as_list(found.get("backups")), self.host.preferences_path),
        )

    def _central(self) -> dict:
        """Central's service on the host (found afresh when not yet known)."""
        if not self.discovered:
            self.report()
        if not self.discovered:
            raise CentralNotInstalled(f"Central is not installed on {self.host.address}: "
                                      "no Windows service runs mmcentral.exe")
        return self.discovered

    def executable(self) -> str:
        path = self._central().get("pathName") or ""
        match = re.match(r'(?i)^\s*"?(.+?\.exe)', path)
        if not match:
            raise CentralNotInstalled(f"{self.host.address}: Central's service runs {path!r}, not an .exe")
        return match.group(1)

    def service(self) -> ServiceState:
        return self.report().service

    def control(self, action: str) -> CommandResult:
        if action == "restart" and not self.host.commands.get("restart"):
            # The vendor's two commands, the start only once the stop worked.
            stopped = self.control("stop")
            return self.control("start") if stopped.ok else stopped
        executable = cmd_checked(self.executable())  # refuses what cmd.exe would read as more than a path
        result = self.run_checked(getattr(self.commands, action).replace("{exe}", executable))
        if result.ok or action == "restart":
            return result
        key = self._central().get("name") or ""
        verb = "stop" if action == "stop" else "start"
        fallback = self.run(f"sc.exe {verb} {cmd_quote(key)}")
        note = f"{result.describe()}; used the service control manager instead: {fallback.describe()}\r\n"
        return CommandResult(fallback.command, fallback.exit_code, note + fallback.stdout, fallback.stderr)

    def install_line(self, staged: str, extracted_folder: str) -> str:
        # The installer's own path (a user's temporary folder can hold & or %): checked, not trusted.
        return self.commands.install.replace("{installer}", cmd_checked(staged))

    def free_space(self) -> int | None:
        found = self.powershell(
            "$drive = ([IO.Path]::GetTempPath()).Substring(0, 2)\n"
            "(Get-CimInstance -ClassName Win32_LogicalDisk -Filter \"DeviceID = '$drive'\").FreeSpace"
        ).stdout.strip()
        return int(found) // 1024 if found.isdigit() else None

    # Files ----------------------------------------------------------------------------------------

    def read_file(self, path: str) -> bytes:
        result = self.powershell(f"[Convert]::ToBase64String([IO.File]::ReadAllBytes({ps_quote(path)}))")
        return base64.b64decode(result.stdout.strip())

    @staticmethod
    def _lines(data_source: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in data_source:
            yield base64.b64encode(chunk) + b"\r\n"

    def _receive_file(self, target: str, chunks: Iterator[bytes], timeout: float | None = None) -> str:
        """Stream ``chunks`` into ``target`` through one PowerShell reading its stdin; return the
        SHA-256 PowerShell computes of what it wrote."""
        script = (
            f"$target = {ps_quote(target)}\n"
            "$stream = [IO.File]::Create($target)\n"
            "try { while (($line = [Console]::In.ReadLine()) -ne $null) {\n"
            "  $bytes = [Convert]::FromBase64String($line); $stream.Write($bytes, 0, $bytes.Length) } }\n"
            "finally { $stream.Close() }\n"
            "(Get-FileHash -LiteralPath $target -Algorithm SHA256).Hash\n"
        )
        return self.powershell(script, stdin=self._lines(chunks), timeout=timeout).stdout.strip().lower()

    def write_file(self, path: str, data: bytes) -> str | None:
        folder, _, name = path.rpartition("\\")
        temporary = f"{folder}\\.{name}.hacontrol-{secrets.token_hex(6)}.tmp"
        backup = path + backup_suffix()
        digest = self._receive_file(temporary, iter([data[i:i + STDIN_CHUNK] for i in range(0, len(data), STDIN_CHUNK)] or [b""]))
        if digest != hashlib.sha256(data).hexdigest():
            raise RemoteError(f"{self.host.address}: {temporary} was damaged in transfer")
        result = self.powershell(
            f"if (Test-Path -LiteralPath {ps_quote(path)}) {{ "
            f"Copy-Item -LiteralPath {ps_quote(path)} -Destination {ps_quote(backup)}; Write-Output 'backup' }}\n"
            f"Move-Item -LiteralPath {ps_quote(temporary)} -Destination {ps_quote(path)} -Force"
        )
        return backup if "backup" in result.stdout else None

    def stage(self, local_path: str, sha256: str) -> str:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", local_path.replace("\\", "/").rsplit("/", 1)[-1])
        folder = self.powershell(
            "$folder = Join-Path ([IO.Path]::GetTempPath()) ('hacontrol-' + [IO.Path]::GetRandomFileName())\n"
            "New-Item -ItemType Directory -Path $folder | Out-Null\n$folder"
        ).stdout.strip()
        target = f"{folder}\\{name}"

        def chunks() -> Iterator[bytes]:
            with open(local_path, "rb") as source:
                while chunk := source.read(STDIN_CHUNK):
                    yield chunk

        digest = self._receive_file(target, chunks())
        if digest != sha256:
            self.unstage(target)
            raise RemoteError(f"{self.host.address}: the copy's SHA-256 is {digest}, not {sha256}: "
                              "the transfer was damaged")
        return target

    def unstage(self, staged_path: str) -> None:
        folder = staged_path.rpartition("\\")[0]
        if "\\hacontrol-" not in folder:
            raise RemoteError(f"{self.host.address}: refusing to remove {folder}: not a folder hacontrol staged")
        self.powershell(f"Remove-Item -LiteralPath {ps_quote(folder)} -Recurse -Force")
