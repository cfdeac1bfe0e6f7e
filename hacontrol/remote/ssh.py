"""Linux hosts over SSH (paramiko): pinned host keys, bounded commands, byte-exact files."""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import io
import re
import secrets
import select
import shlex
import socket
import stat
import time

import paramiko

from hacontrol.lib.hostkeys import HostKeyFormatError, parse_host_key
from hacontrol.remote import (
    AuthenticationFailed,
    BadSettings,
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
from hacontrol.remote.commands import free_kilobytes, parse_clock, parse_systemd_timestamp, parse_version

KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
# Bigger windows and packets than paramiko's defaults: installers go over at line speed.
WINDOW_SIZE = 64 * 1024 * 1024
MAX_PACKET = 256 * 1024
COPY_CHUNK = 1024 * 1024
MISSING_PROGRAM = re.compile(r"(?:^|: )([^\s:]+): (?:command )?not found", re.M)


def fingerprint(key: paramiko.PKey) -> str:
    """The SHA256 fingerprint OpenSSH prints for ``key``."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


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


def load_private_key(private_key: str, passphrase: str) -> paramiko.PKey:
    """Parse an OpenSSH or PEM private key (ed25519, ECDSA or RSA)."""
    last_error: Exception | None = None
    for key_class in KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(private_key), password=passphrase or None)
        except paramiko.PasswordRequiredException:
            raise AuthenticationFailed("the SSH private key is encrypted: give its passphrase") from None
        except (paramiko.SSHException, ValueError) as error:
            last_error = error
    raise AuthenticationFailed(f"the SSH private key cannot be read: {last_error}")


def _stat_lines(output: str) -> list[dict]:
    """`stat -c '%s %Y %n'` lines as a listing: size, modified (epoch seconds), file name."""
    found = []
    for line in output.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            found.append({"name": parts[2].rsplit("/", 1)[-1], "size": int(parts[0]), "modified": int(parts[1])})
    return found


def _transport(sock, **options):
    return paramiko.Transport(sock, default_window_size=WINDOW_SIZE, default_max_packet_size=MAX_PACKET, **options)


class SSHRemote(Remote):
    """A Linux host over one SSH connection; commands run in channels of it, files over SFTP."""

    def __init__(self, host: HostSettings):
        super().__init__(host)
        self.client = paramiko.SSHClient()
        where = host.where
        if host.host_key:
            name = host.address if host.port == 22 else f"[{host.address}]:{host.port}"
            try:
                key_type, blob = parse_host_key(host.host_key)
                pinned = paramiko.PKey.from_type_string(key_type, blob)
            except (HostKeyFormatError, paramiko.SSHException, ValueError, binascii.Error) as error:
                raise BadSettings(f"{where}: the pinned host key cannot be used: {error}") from None
            self.client.get_host_keys().add(name, key_type, pinned)
        self.client.set_missing_host_key_policy(_RefuseUnknownKey())
        pkey = load_private_key(host.private_key, host.key_passphrase) if host.private_key else None
        try:
            self.client.connect(
                host.address, port=host.port, username=host.username,
                password=host.password or None, pkey=pkey, timeout=host.connect_timeout,
                banner_timeout=host.connect_timeout, auth_timeout=host.connect_timeout,
                channel_timeout=host.connect_timeout, look_for_keys=False, allow_agent=False,
                transport_factory=_transport,
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
        transport = self.client.get_transport()
        assert transport is not None
        # Commands are small request/response exchanges: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every one of them.
        if isinstance(transport.sock, socket.socket):
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A host that vanishes without closing the connection is noticed, not waited on forever.
        transport.set_keepalive(max(1, int(host.connect_timeout)))

    def is_alive(self) -> bool:
        transport = self.client.get_transport()
        return transport is not None and transport.is_active()

    def close(self) -> None:
        self.client.close()

    def _with_sudo(self, command: str, as_login: bool = False) -> str:
        return f"sudo -n sh -c {shlex.quote(command)}" if self.host.use_sudo and not as_login else command

    def _channel(self) -> paramiko.Channel:
        """A new session channel; a dead connection here means nothing started on the host."""
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise StaleConnection(f"the connection to {self.host.address} was lost")
        try:
            return transport.open_session(timeout=self.host.connect_timeout)
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise StaleConnection(f"{self.host.address}: cannot open a channel: {error}") from None

    def run_bytes(self, command: str, timeout: float | None = None, stdin: bytes | None = None,
                  as_login: bool = False) -> tuple[int, bytes, bytes]:
        """Run ``command`` (through sudo when set, unless ``as_login``); its exit code and raw output."""
        timeout = self.host.timeout if timeout is None else timeout
        channel = self._channel()
        stdout, stderr = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        try:
            try:
                channel.settimeout(timeout)
                channel.exec_command(self._with_sudo(command, as_login))
                if stdin is not None:
                    channel.sendall(stdin)
                channel.shutdown_write()
            except (paramiko.SSHException, OSError, EOFError) as error:
                raise Unreachable(f"{self.host.address}: cannot start a command: {error}") from None
            while True:
                while channel.recv_ready():
                    stdout += channel.recv(65536)
                while channel.recv_stderr_ready():
                    stderr += channel.recv_stderr(65536)
                if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimedOut(f"{self.host.address}: `{command[:80]}` did not finish within {timeout:g} s")
                if not self.is_alive():
                    raise Unreachable(f"{self.host.address}: the connection dropped while `{command[:80]}` ran")
                if channel.eof_received:
                    # paramiko's fileno stays readable after EOF: wait for the exit status itself.
                    channel.status_event.wait(min(remaining, 0.5))
                else:
                    select.select([channel], [], [], min(remaining, 0.5))
            exit_code = channel.recv_exit_status()
        finally:
            channel.close()
        return exit_code, bytes(stdout), bytes(stderr)

    def run(self, command: str, timeout: float | None = None, as_login: bool = False) -> CommandResult:
        code, out, err = self.run_bytes(command, timeout, as_login=as_login)
        return CommandResult(command, code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def missing_program(self, result: CommandResult) -> str:
        if result.exit_code != 127:
            return ""
        found = MISSING_PROGRAM.search(result.stderr)
        return found.group(1) if found else ""

    def run_batch(self, commands: list[str], timeout: float | None = None) -> list[CommandResult]:
        """All commands in one shell on one channel: one round trip. Each one's output (its
        stderr folded in) and exit code are cut apart again at a random marker."""
        marker = f"@@hacontrol-{secrets.token_hex(8)}@@"
        script = "".join(f"{{ {command}\n}} 2>&1 </dev/null; printf '\\n{marker}%d\\n' $?\n" for command in commands)
        parts = self.run(script, timeout).stdout.split(f"\n{marker}")
        if len(parts) != len(commands) + 1:
            return [self.run(command, timeout) for command in commands]
        outputs = [parts[0]] + [part.split("\n", 1)[1] for part in parts[1:-1]]
        codes = [part.split("\n", 1)[0] for part in parts[1:]]
        return [CommandResult(command, int(code), output, "") for command, code, output in zip(commands, codes, outputs, strict=True)]

    # Central ------------------------------------------------------------------------------

    def report(self) -> HostReport:
        commands = self.commands
        path = shlex.quote(self.host.preferences_path)
        before = time.time()
        status, started, clock, version, prefs, backups = self.run_batch([
            commands.status, commands.started, commands.clock, commands.version, f"base64 -w0 -- {path}",
            f"for f in {path}.hacontrol-*.bak; do [ -f \"$f\" ] && stat -c '%s %Y %n' -- \"$f\"; done; true",
        ])
        after = time.time()
        try:
            host_clock = parse_clock(clock.stdout) if clock.ok else None
        except ValueError:
            host_clock = None
        data, error = None, ""
        if prefs.ok:
            try:
                data = base64.b64decode(prefs.stdout.strip(), validate=True)
            except (binascii.Error, ValueError):
                error = f"cannot read {self.host.preferences_path}"
        else:
            error = f"cannot read {self.host.preferences_path}: {prefs.stdout.strip()}"
        return HostReport(
            service=ServiceState(commands.is_running(status.exit_code), parse_systemd_timestamp(started.stdout),
                                 status.stdout.strip()),
            version=parse_version(version.stdout) if version.ok else "",
            clock=host_clock, preferences=data, preferences_error=error, before=before, after=after,
            backups=parse_backups(_stat_lines(backups.stdout), self.host.preferences_path),
        )

    def service(self) -> ServiceState:
        status, started = self.run_batch([self.commands.status, self.commands.started])
        return ServiceState(self.commands.is_running(status.exit_code), parse_systemd_timestamp(started.stdout),
                            status.stdout.strip())

    def control(self, action: str) -> CommandResult:
        return self.run_checked(getattr(self.commands, action))

    def install_line(self, staged: str, extracted_folder: str) -> str:
        # install_central: "tar -xzvf micetro-central-VERSION.linux.x64.tgz; cd micetro-central-VERSION.linux.x64;
        # ./install", in the staged installer's own folder.
        folder = staged.rsplit("/", 1)[0]
        extracted = f"{folder}/{extracted_folder}"
        return (f"tar -xzf {shlex.quote(staged)} -C {shlex.quote(folder)} && cd {shlex.quote(extracted)} && "
                f"{self.commands.install}")

    def free_space(self) -> int | None:
        return free_kilobytes(self.run("df -Pk /tmp /var/mmsuite").stdout)

    # Files --------------------------------------------------------------------------------

    def _sftp(self) -> paramiko.SFTPClient:
        """A fresh SFTP session whose every read and write is bounded by the command timeout."""
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise StaleConnection(f"the connection to {self.host.address} was lost")
        try:
            sftp = paramiko.SFTPClient.from_transport(transport, window_size=WINDOW_SIZE, max_packet_size=MAX_PACKET)
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise StaleConnection(f"{self.host.address}: SFTP is not available: {error}") from None
        channel = sftp.get_channel() if sftp is not None else None
        if sftp is None or channel is None:
            raise Unreachable(f"{self.host.address}: SFTP is not available")
        channel.settimeout(self.host.timeout)
        return sftp

    def _file_error(self, error: OSError, path: str) -> RemoteError:
        if isinstance(error, TimeoutError | socket.timeout):
            return TimedOut(f"{self.host.address}: {path}: no answer within {self.host.timeout:g} s")
        if error.errno == errno.ENOENT:
            return FileNotFound(f"{self.host.address}: {path} does not exist")
        if error.errno == errno.EACCES:
            return PermissionDenied(f"{self.host.address}: permission denied on {path}")
        return RemoteError(f"{self.host.address}: {path}: {error}")

    def _sudo_script(self, script: str, what: str, stdin: bytes | None = None) -> bytes:
        code, out, err = self.run_bytes(script, stdin=stdin)
        if code != 0:
            message = err.decode("utf-8", "replace").strip() or f"exit {code}"
            if "No such file" in message:
                raise FileNotFound(f"{self.host.address}: {what}: {message}")
            raise PermissionDenied(f"{self.host.address}: {what}: {message}")
        return out

    def read_file(self, path: str) -> bytes:
        if self.host.use_sudo:
            return self._sudo_script(f"cat -- {shlex.quote(path)}", f"cannot read {path}")
        sftp = self._sftp()
        try:
            with sftp.open(path, "rb") as handle:
                return handle.read()
        except OSError as error:
            raise self._file_error(error, path) from None
        except (paramiko.SSHException, EOFError) as error:
            raise Unreachable(f"{self.host.address}: the connection dropped while reading {path}: {error}") from None
        finally:
            sftp.close()

    def write_file(self, path: str, data: bytes) -> str | None:
        if self.host.use_sudo:
            return self._write_with_sudo(path, data)
        sftp = self._sftp()
        directory, name = path.rsplit("/", 1) if "/" in path else (".", path)
        temporary = f"{directory}/.{name}.hacontrol-{secrets.token_hex(6)}"
        backup: str | None = None
        try:
            try:
                old = sftp.stat(path)
            except FileNotFoundError:
                old = None
            mode = stat.S_IMODE(old.st_mode) if old is not None and old.st_mode is not None else 0o600
            if old is not None:
                backup = path + backup_suffix()
                self._sftp_copy(sftp, path, backup, mode, old)
            self._sftp_create(sftp, temporary, data, mode, old)
            sftp.posix_rename(temporary, path)
        except OSError as error:
            self._quietly_remove(sftp, temporary)
            raise self._file_error(error, path) from None
        except (paramiko.SSHException, EOFError) as error:
            raise Unreachable(f"{self.host.address}: the connection dropped while writing {path}: {error}") from None
        finally:
            sftp.close()
        return backup

    @staticmethod
    def _sftp_create(sftp: paramiko.SFTPClient, path: str, data: bytes, mode: int, like) -> None:
        """Create ``path`` exclusively, private until it holds the data, then with ``like``'s owner and mode."""
        with sftp.open(path, "wx") as handle:
            handle.chmod(0o600)
            handle.set_pipelined(True)
            handle.write(data)
        if like is not None and like.st_uid is not None:
            sftp.chown(path, like.st_uid, like.st_gid)
        sftp.chmod(path, mode)

    def _sftp_copy(self, sftp: paramiko.SFTPClient, source: str, target: str, mode: int, like) -> None:
        with sftp.open(source, "rb") as handle:
            data = handle.read()
        self._sftp_create(sftp, target, data, mode, like)

    @staticmethod
    def _quietly_remove(sftp: paramiko.SFTPClient, path: str) -> None:
        try:
            sftp.remove(path)
        except (OSError, paramiko.SSHException, EOFError):
            pass

    def _write_with_sudo(self, path: str, data: bytes) -> str:
        """As root through sudo: the bytes go in on the command's stdin, into a private
        temporary file beside the target that takes the target's owner and mode before the rename."""
        quoted, backup = shlex.quote(path), path + backup_suffix()
        script = (
            "set -e; umask 077; "
            f"target={quoted}; tmp=$(mktemp \"$(dirname -- \"$target\")/.hacontrol-XXXXXXXX\"); "
            "trap 'rm -f -- \"$tmp\"' EXIT; cat > \"$tmp\"; "
            f"if [ -e \"$target\" ]; then cp -p -- \"$target\" {shlex.quote(backup)}; "
            "chown --reference=\"$target\" -- \"$tmp\"; chmod --reference=\"$target\" -- \"$tmp\"; fi; "
            "mv -f -- \"$tmp\" \"$target\"; trap - EXIT"
        )
        existed = self.run_bytes(f"test -e {quoted}")[0] == 0
        self._sudo_script(script, f"cannot write {path}", stdin=data)
        return backup if existed else ""

    def stage(self, local_path: str, sha256: str) -> str:
        # The login's own private folder, which SFTP (the login, not root) can write to; the
        # installer then runs through sudo when set, and unstage removes what it unpacked as root.
        folder = self.run("mktemp -d /tmp/hacontrol-XXXXXXXX", as_login=True)
        if not folder.ok:
            raise RemoteError(f"{self.host.address}: cannot make a private folder: {folder.describe()}")
        target = f"{folder.stdout.strip()}/{local_path.rsplit('/', 1)[-1]}"
        sftp = self._sftp()
        try:
            with open(local_path, "rb") as source, sftp.open(target, "wb") as handle:
                handle.set_pipelined(True)
                while chunk := source.read(COPY_CHUNK):
                    handle.write(chunk)
        except OSError as error:
            raise self._file_error(error, target) from None
        except (paramiko.SSHException, EOFError) as error:
            raise Unreachable(f"{self.host.address}: the connection dropped while copying to {target}: {error}") from None
        finally:
            sftp.close()
        found = self.run(f"sha256sum -- {shlex.quote(target)}").stdout.split()[:1]
        if found != [sha256]:
            self.unstage(target)
            raise RemoteError(f"{self.host.address}: the copy's SHA-256 is {found[0] if found else 'unreadable'}, "
                              f"not {sha256}: the transfer was damaged")
        return target

    def unstage(self, staged_path: str) -> None:
        folder = staged_path.rsplit("/", 1)[0]
        if not re.fullmatch(r"/tmp/hacontrol-[A-Za-z0-9]{8}", folder):
            raise RemoteError(f"{self.host.address}: refusing to remove {folder}: not a folder hacontrol staged")
        self.run(f"rm -rf -- {shlex.quote(folder)}")
