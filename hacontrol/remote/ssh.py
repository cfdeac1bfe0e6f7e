"""Linux hosts over SSH (paramiko), with pinned host keys and files over SFTP."""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import secrets
import select
import shlex
import socket
import threading
import time

import paramiko

from hacontrol.remote import (
    AuthenticationFailed,
    CommandResult,
    ConnectionRefused,
    FileNotFound,
    HostKeyChanged,
    HostKeyUnknown,
    HostSettings,
    PermissionDenied,
    Remote,
    RemoteError,
    TimedOut,
    Unreachable,
    backup_suffix,
)

KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


def fingerprint(key: paramiko.PKey) -> str:
    """The SHA256 fingerprint OpenSSH prints for ``key``."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def fingerprint_of_line(line: str) -> str:
    """The SHA256 fingerprint of a 'TYPE BASE64' host key line."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(base64.b64decode(line.split()[1])).digest()).decode().rstrip("=")


def key_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


class _RefuseUnknownKey(paramiko.MissingHostKeyPolicy):
    """Never trust a key silently: refuse it, handing back what was presented."""

    def missing_host_key(self, client, hostname, key):  # noqa: ARG002
        raise HostKeyUnknown(
            f"{hostname} presented an unknown host key {key.get_name()} {fingerprint(key)}; "
            "accept it explicitly if it is the right one",
            presented_key=key_line(key), fingerprint=fingerprint(key),
        )


def load_private_key(text: str, passphrase: str) -> paramiko.PKey:
    """Parse an OpenSSH or PEM private key (ed25519, ECDSA or RSA)."""
    last_error: Exception | None = None
    for key_class in KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase or None)
        except paramiko.PasswordRequiredException:
            raise AuthenticationFailed("the SSH private key is encrypted: give its passphrase") from None
        except (paramiko.SSHException, ValueError) as error:
            last_error = error
    raise AuthenticationFailed(f"the SSH private key cannot be read: {last_error}")


class SSHRemote(Remote):
    """A Linux host over one SSH connection; commands run in channels of it, files over SFTP."""

    def __init__(self, host: HostSettings):
        super().__init__(host)
        self._sftp: paramiko.SFTPClient | None = None
        self._sftp_lock = threading.Lock()
        self.client = paramiko.SSHClient()
        where = f"{host.address}:{host.port}"
        if host.host_key:
            name = host.address if host.port == 22 else f"[{host.address}]:{host.port}"
            key_type, key_data = host.host_key.split()[:2]
            self.client.get_host_keys().add(name, key_type, paramiko.PKey.from_type_string(key_type, base64.b64decode(key_data)))
        self.client.set_missing_host_key_policy(_RefuseUnknownKey())
        pkey = load_private_key(host.private_key, host.key_passphrase) if host.private_key else None
        try:
            self.client.connect(
                host.address, port=host.port, username=host.username,
                password=host.password or None, pkey=pkey, timeout=host.connect_timeout,
                banner_timeout=host.connect_timeout, auth_timeout=host.connect_timeout,
                look_for_keys=False, allow_agent=False,
            )
        except HostKeyUnknown:
            self.client.close()
            raise
        except paramiko.BadHostKeyException as error:
            self.client.close()
            raise HostKeyChanged(
                f"host key changed for {where}: expected {fingerprint(error.expected_key)}, "
                f"got {fingerprint(error.key)}; this may be an attack or a reinstalled host",
                presented_key=key_line(error.key), fingerprint=fingerprint(error.key),
            ) from None
        except paramiko.AuthenticationException as error:
            self.client.close()
            raise AuthenticationFailed(f"authentication failed for {host.username}@{where}: {error}") from None
        except (TimeoutError, socket.timeout):
            self.client.close()
            raise TimedOut(f"connecting to {where} timed out after {host.connect_timeout:g} s") from None
        except paramiko.ssh_exception.NoValidConnectionsError as error:
            self.client.close()
            if all(isinstance(e, ConnectionRefusedError) for e in error.errors.values()):
                raise ConnectionRefused(f"{where} refused the connection (is sshd running?)") from None
            raise Unreachable(f"{where} is unreachable: {error}") from None
        except ConnectionRefusedError:
            self.client.close()
            raise ConnectionRefused(f"{where} refused the connection (is sshd running?)") from None
        except (OSError, paramiko.SSHException, EOFError) as error:
            self.client.close()
            raise Unreachable(f"{where} is unreachable: {error or type(error).__name__}") from None
        # Commands are small request/response exchanges: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every one of them.
        transport = self.client.get_transport()
        if transport is not None and isinstance(transport.sock, socket.socket):
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def is_alive(self) -> bool:
        transport = self.client.get_transport()
        return transport is not None and transport.is_active()

    def close(self) -> None:
        self.client.close()

    def _with_sudo(self, command: str) -> str:
        return f"sudo -n sh -c {shlex.quote(command)}" if self.host.use_sudo else command

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        timeout = self.host.timeout if timeout is None else timeout
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise Unreachable(f"the connection to {self.host.address} was lost")
        try:
            channel = transport.open_session(timeout=self.host.connect_timeout)
            channel.exec_command(self._with_sudo(command))
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise Unreachable(f"{self.host.address}: cannot start a command: {error}") from None
        stdout, stderr = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        try:
            while True:
                while channel.recv_ready():
                    stdout += channel.recv(65536)
                while channel.recv_stderr_ready():
                    stderr += channel.recv_stderr(65536)
                if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimedOut(f"{self.host.address}: `{command}` did not finish within {timeout:g} s")
                select.select([channel], [], [], min(remaining, 1.0))
            exit_code = channel.recv_exit_status()
        finally:
            channel.close()
        return CommandResult(command, exit_code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))

    def run_batch(self, commands: list[str], timeout: float | None = None) -> list[CommandResult]:
        """All commands in one shell on one channel: one round trip. Each one's output (its
        stderr folded in) and exit code are cut apart again at a random marker."""
        marker = f"@@hacontrol-{secrets.token_hex(8)}@@"
        script = "".join(f"{{ {command}\n}} 2>&1; printf '\\n{marker}%d\\n' $?\n" for command in commands)
        parts = self.run(script, timeout).stdout.split(f"\n{marker}")
        if len(parts) != len(commands) + 1:
            return super().run_batch(commands, timeout)
        outputs = [parts[0]] + [part.split("\n", 1)[1] for part in parts[1:-1]]
        codes = [part.split("\n", 1)[0] for part in parts[1:]]
        return [CommandResult(command, int(code), output, "") for command, code, output in zip(commands, codes, outputs, strict=True)]

    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            try:
                self._sftp = self.client.open_sftp()
            except (paramiko.SSHException, OSError) as error:
                raise Unreachable(f"{self.host.address}: SFTP is not available: {error}") from None
        return self._sftp

    def _file_error(self, error: OSError, path: str) -> RemoteError:
        if error.errno == errno.ENOENT:
            return FileNotFound(f"{self.host.address}: {path} does not exist")
        if error.errno == errno.EACCES:
            return PermissionDenied(f"{self.host.address}: permission denied on {path}")
        return RemoteError(f"{self.host.address}: {path}: {error}")

    def read_file(self, path: str) -> bytes:
        if self.host.use_sudo:
            result = self.run(f"cat -- {shlex.quote(path)}")
            if not result.ok:
                raise PermissionDenied(f"{self.host.address}: cannot read {path}: {result.stderr.strip()}")
            return result.stdout.encode()
        with self._sftp_lock:
            try:
                with self._sftp_client().open(path, "rb") as handle:
                    return handle.read()
            except OSError as error:
                raise self._file_error(error, path) from None
            except (paramiko.SSHException, EOFError) as error:
                raise Unreachable(f"{self.host.address}: the connection dropped while reading {path}: {error}") from None

    def write_file(self, path: str, data: bytes) -> str | None:
        if self.host.use_sudo:
            return self._write_with_sudo(path, data)
        backup: str | None = None
        temporary = path + ".hacontrol-tmp"
        with self._sftp_lock:
            sftp = self._sftp_client()
            try:
                try:
                    mode = sftp.stat(path).st_mode
                    backup = path + backup_suffix()
                    with sftp.open(path, "rb") as old, sftp.open(backup, "wb") as copy:
                        copy.write(old.read())
                except FileNotFoundError:
                    mode = None
                with sftp.open(temporary, "wb") as handle:
                    handle.write(data)
                if mode is not None:
                    sftp.chmod(temporary, mode & 0o7777)
                sftp.posix_rename(temporary, path)
            except OSError as error:
                try:
                    sftp.remove(temporary)
                except (OSError, paramiko.SSHException, EOFError):
                    pass
                raise self._file_error(error, path) from None
            except (paramiko.SSHException, EOFError) as error:
                raise Unreachable(f"{self.host.address}: the connection dropped while writing {path}: {error}") from None
        return backup

    def upload(self, local_path: str, remote_path: str) -> None:
        """Stream a local file to the host over SFTP, renamed into place once complete."""
        temporary = remote_path + ".hacontrol-tmp"
        with self._sftp_lock:
            sftp = self._sftp_client()
            try:
                sftp.put(local_path, temporary)
                sftp.posix_rename(temporary, remote_path)
            except OSError as error:
                raise self._file_error(error, remote_path) from None
            except (paramiko.SSHException, EOFError) as error:
                raise Unreachable(f"{self.host.address}: the connection dropped while copying to {remote_path}: {error}") from None

    def _write_with_sudo(self, path: str, data: bytes) -> str | None:
        staged = f"/tmp/hacontrol-{backup_suffix().strip('.')}"
        with self._sftp_lock:
            with self._sftp_client().open(staged, "wb") as handle:
                handle.write(data)
        quoted, backup = shlex.quote(path), path + backup_suffix()
        script = (
            f"if [ -e {quoted} ]; then cp -p {quoted} {shlex.quote(backup)}; fi && "
            f"cp {shlex.quote(staged)} {quoted}.hacontrol-tmp && mv {quoted}.hacontrol-tmp {quoted}; "
            f"status=$?; rm -f {shlex.quote(staged)}; exit $status"
        )
        result = self.run(script)
        if not result.ok:
            raise PermissionDenied(f"{self.host.address}: cannot write {path}: {result.stderr.strip()}")
        return backup
