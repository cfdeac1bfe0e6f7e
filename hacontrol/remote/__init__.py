"""Reach Central hosts: one small interface, one class per transport.

This package is the only place that imports paramiko or winrm. Everything else calls
:func:`connect` and uses the :class:`Remote` it returns::

    remote = connect(member.connection_settings())
    result = remote.run(commands.stop)
    old = remote.read_file(path)
    backup = remote.write_file(path, new)

A non-zero exit code is data (:class:`CommandResult`); a connection, authentication, host-key or
file failure is a :class:`RemoteError` whose message an administrator can act on.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone

from hacontrol.remote.commands import PlatformCommands


@dataclass(frozen=True)
class HostSettings:
    """How to reach one host. Secrets stay in memory only; :meth:`pool_key` holds none."""

    platform: str
    address: str
    port: int
    username: str
    password: str = ""
    private_key: str = ""
    key_passphrase: str = ""
    host_key: str = ""
    preferences_path: str = ""
    use_sudo: bool = False
    winrm_https: bool = False
    winrm_auth: str = "ntlm"
    winrm_ca_file: str = ""
    commands: dict = field(default_factory=dict, compare=False, hash=False)
    timeout: float = 60
    connect_timeout: float = 10

    def pool_key(self) -> tuple:
        return (self.platform, self.address, self.port, self.username, self.host_key)

    @property
    def platform_commands(self) -> PlatformCommands:
        return PlatformCommands.for_platform(self.platform, self.commands)


@dataclass
class CommandResult:
    """What one command did: its exit code and output, decoded as UTF-8."""

    command: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """One line for logs: the command, its exit code and its first error line."""
        first = (self.stderr or self.stdout).strip().splitlines()
        tail = f": {first[0]}" if first else ""
        return f"`{self.command}` exited {self.exit_code}{tail}"


class RemoteError(Exception):
    """A failure to reach or use a host; ``kind`` names it for the UI and tests."""

    kind = "error"


class Unreachable(RemoteError):
    kind = "unreachable"


class ConnectionRefused(Unreachable):
    kind = "refused"


class TimedOut(RemoteError):
    kind = "timeout"


class AuthenticationFailed(RemoteError):
    kind = "authentication"


class HostKeyError(RemoteError):
    """The host presented a key that is not the pinned one; carries the presented key."""

    def __init__(self, message: str, presented_key: str, fingerprint: str):
        super().__init__(message)
        self.presented_key = presented_key
        self.fingerprint = fingerprint


class HostKeyUnknown(HostKeyError):
    kind = "host-key-unknown"


class HostKeyChanged(HostKeyError):
    kind = "host-key-changed"


class FileNotFound(RemoteError):
    kind = "file-not-found"


class PermissionDenied(RemoteError):
    kind = "permission-denied"


class CommandNotFound(RemoteError):
    kind = "command-not-found"


def backup_suffix() -> str:
    """A timestamped suffix for the copy of a file kept before it is replaced."""
    return datetime.now(timezone.utc).strftime(".hacontrol-%Y%m%dT%H%M%S%fZ.bak")


class Remote(ABC):
    """One open connection to a host."""

    def __init__(self, host: HostSettings):
        self.host = host
        self.commands = host.platform_commands

    @abstractmethod
    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        """Run a fixed command line; raise :class:`TimedOut` when it outlives ``timeout``."""

    @abstractmethod
    def read_file(self, path: str) -> bytes:
        """The bytes of a file on the host."""

    @abstractmethod
    def write_file(self, path: str, data: bytes) -> str | None:
        """Replace a file atomically (temporary file, then rename), keeping a timestamped copy
        of the old one beside it; return the backup's path (None when there was no file)."""

    def run_batch(self, commands: list[str], timeout: float | None = None) -> list[CommandResult]:
        """Run several independent commands; transports may do it in one round trip."""
        return [self.run(command, timeout) for command in commands]

    def upload(self, local_path: str, remote_path: str) -> None:
        """Copy a local file to the host (replacing any file there)."""
        with open(local_path, "rb") as handle:
            self.write_file(remote_path, handle.read())

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    @abstractmethod
    def is_alive(self) -> bool:
        """Whether the connection can still be used."""

    def run_checked(self, command: str, timeout: float | None = None) -> CommandResult:
        """Run a command; a missing command is a :class:`CommandNotFound`."""
        result = self.run(command, timeout)
        if result.exit_code == 127 or "is not recognized as an internal or external command" in result.stderr:
            raise CommandNotFound(f"{self.host.address}: command not found: {command.split()[0]}")
        return result


_pool: dict[tuple, Remote] = {}
_pool_lock = threading.Lock()
_key_locks: dict[tuple, threading.Lock] = {}


def connect(host: HostSettings) -> Remote:
    """An open connection to ``host``, reused from the pool when it is still alive."""
    key = host.pool_key()
    with _pool_lock:
        key_lock = _key_locks.setdefault(key, threading.Lock())
    # One lock per host, so a slow handshake never delays connections to other hosts.
    with key_lock:
        remote = _pool.get(key)
        if remote is not None and remote.is_alive():
            # Same host and user, perhaps newer timeouts or command overrides.
            remote.host, remote.commands = host, host.platform_commands
            return remote
        remote = open_connection(host)
        _pool[key] = remote
        return remote


def open_connection(host: HostSettings) -> Remote:
    """A new connection to ``host``, outside the pool."""
    if host.platform == "windows":
        from hacontrol.remote.wsman import WinRMRemote

        return WinRMRemote(host)
    from hacontrol.remote.ssh import SSHRemote

    return SSHRemote(host)


def close_all() -> None:
    """Close every pooled connection."""
    with _pool_lock:
        remotes = list(_pool.values())
        _pool.clear()
    for remote in remotes:
        remote.close()


__all__ = [
    "AuthenticationFailed", "CommandNotFound", "CommandResult", "ConnectionRefused",
    "FileNotFound", "HostKeyChanged", "HostKeyError", "HostKeyUnknown", "HostSettings",
    "PermissionDenied", "PlatformCommands", "Remote", "RemoteError", "TimedOut", "Unreachable",
    "close_all", "connect", "open_connection",
]
