"""Windows hosts over WinRM (pywinrm): one cmd shell per connection, files through PowerShell."""

from __future__ import annotations

import base64
import threading
import time
from typing import Literal

import requests
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
)
from winrm.protocol import Protocol

from hacontrol.remote import (
    AuthenticationFailed,
    CommandResult,
    ConnectionRefused,
    FileNotFound,
    HostSettings,
    PermissionDenied,
    Remote,
    RemoteError,
    TimedOut,
    Unreachable,
    backup_suffix,
)

# Raw bytes per PowerShell call: its base64, as UTF-16 base64 again, stays under cmd's 8191 limit.
CHUNK = 1500
TRANSPORTS: dict[str, Literal["basic", "ntlm", "kerberos"]] = {"basic": "basic", "ntlm": "ntlm", "kerberos": "kerberos"}


def ps_quote(text: str) -> str:
    """A PowerShell single-quoted string literal."""
    return "'" + text.replace("'", "''") + "'"


def encoded_powershell(script: str) -> str:
    """The cmd line that runs ``script`` without any quoting trouble."""
    return "powershell -NoProfile -NonInteractive -EncodedCommand " + base64.b64encode(
        script.encode("utf-16-le")
    ).decode()


class WinRMRemote(Remote):
    """A Windows host over WS-Management; commands share one remote shell."""

    def __init__(self, host: HostSettings):
        super().__init__(host)
        scheme = "https" if host.winrm_https else "http"
        self.endpoint = f"{scheme}://{host.address}:{host.port}/wsman"
        operation_timeout = max(1, int(host.connect_timeout))
        self.protocol = Protocol(
            self.endpoint, transport=TRANSPORTS.get(host.winrm_auth, "ntlm"),
            username=host.username, password=host.password,
            server_cert_validation="validate" if host.winrm_https else "ignore",
            ca_trust_path=host.winrm_ca_file or "legacy_requests",
            operation_timeout_sec=operation_timeout, read_timeout_sec=operation_timeout + 5,
            message_encryption="auto" if host.winrm_https or host.winrm_auth != "basic" else "never",
        )
        self._lock = threading.Lock()
        self._shell_id: str | None = None
        self._alive = True
        with self._lock:
            self._shell()

    def _call(self, operation, *args):
        """Run one protocol operation, turning transport failures into RemoteErrors."""
        where = f"{self.host.address}:{self.host.port}"
        try:
            return operation(*args)
        except InvalidCredentialsError as error:
            self._alive = False
            raise AuthenticationFailed(f"authentication failed for {self.host.username}@{where}: {error}") from None
        except requests.exceptions.SSLError as error:
            self._alive = False
            raise Unreachable(f"{where}: TLS certificate check failed: {error}") from None
        except requests.exceptions.ConnectTimeout:
            self._alive = False
            raise TimedOut(f"connecting to {where} timed out") from None
        except requests.exceptions.ConnectionError as error:
            self._alive = False
            if "refused" in str(error).lower():
                raise ConnectionRefused(f"{where} refused the connection (is WinRM listening?)") from None
            raise Unreachable(f"{where} is unreachable: {error}") from None
        except requests.exceptions.ReadTimeout:
            self._alive = False
            raise TimedOut(f"{where} stopped answering") from None
        except (WinRMTransportError, WinRMError) as error:
            self._alive = False
            raise RemoteError(f"{where}: WinRM error: {error}") from None

    def _shell(self) -> str:
        if self._shell_id is None:
            self._shell_id = self._call(self.protocol.open_shell)
        return self._shell_id

    def is_alive(self) -> bool:
        return self._alive

    def close(self) -> None:
        with self._lock:
            if self._shell_id is not None and self._alive:
                try:
                    self.protocol.close_shell(self._shell_id)
                except Exception:  # noqa: BLE001 - closing a dead shell is not an error worth raising
                    pass
            self._shell_id = None
            self._alive = False

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        timeout = self.host.timeout if timeout is None else timeout
        stdout, stderr = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        with self._lock:
            shell = self._shell()
            command_id = self._call(self.protocol.run_command, shell, command)
            try:
                while True:
                    try:
                        out, err, code, done = self._call(self.protocol.get_command_output_raw, shell, command_id)
                    except WinRMOperationTimeoutError:
                        out, err, code, done = b"", b"", -1, False
                    stdout += out
                    stderr += err
                    if done:
                        break
                    if time.monotonic() > deadline:
                        raise TimedOut(f"{self.host.address}: `{command[:60]}` did not finish within {timeout:g} s")
            finally:
                if self._alive:
                    self._call(self.protocol.cleanup_command, shell, command_id)
        return CommandResult(command, code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))

    def powershell(self, script: str) -> CommandResult:
        """Run a PowerShell script; a script error becomes a :class:`RemoteError`."""
        result = self.run(encoded_powershell("$ErrorActionPreference = 'Stop'\n" + script))
        if not result.ok:
            message = result.stderr.strip() or result.stdout.strip()
            if "Could not find" in message or "does not exist" in message:
                raise FileNotFound(f"{self.host.address}: {message}")
            if "denied" in message.lower():
                raise PermissionDenied(f"{self.host.address}: {message}")
            raise RemoteError(f"{self.host.address}: PowerShell failed: {message}")
        return result

    def read_file(self, path: str) -> bytes:
        result = self.powershell(f"[Convert]::ToBase64String([IO.File]::ReadAllBytes({ps_quote(path)}))")
        return base64.b64decode(result.stdout.strip())

    def write_file(self, path: str, data: bytes) -> str | None:
        temporary = path + ".hacontrol-tmp"
        backup = path + backup_suffix()
        chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
        for index, chunk in enumerate(chunks):
            mode = "Create" if index == 0 else "Append"
            self.powershell(
                f"$bytes = [Convert]::FromBase64String('{base64.b64encode(chunk).decode()}')\n"
                f"$file = [IO.File]::Open({ps_quote(temporary)}, '{mode}')\n"
                "$file.Write($bytes, 0, $bytes.Length); $file.Close()"
            )
        result = self.powershell(
            f"if (Test-Path -LiteralPath {ps_quote(path)}) {{ "
            f"Copy-Item -LiteralPath {ps_quote(path)} -Destination {ps_quote(backup)}; 'backup' }}\n"
            f"Move-Item -LiteralPath {ps_quote(temporary)} -Destination {ps_quote(path)} -Force"
        )
        return backup if "backup" in result.stdout else None
