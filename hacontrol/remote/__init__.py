"""Reach Central hosts: one small interface, one class per transport.

This package is the only place that imports paramiko or winrm. Everything else borrows a
connection from the pool and uses the :class:`Remote` interface::

    with borrow(member.connection_settings()) as remote:
        report = remote.report()
        remote.control("stop")
        backup = remote.write_file(path, new)

or lets :func:`call` retry once on a fresh connection when a pooled one turned out dead before
anything started on the host. A non-zero exit code is data (:class:`CommandResult`); a
connection, authentication, host-key, file or time-out failure is a :class:`RemoteError` whose
message an administrator can act on. Every operation is bounded in time by the host's settings.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeVar

from hacontrol.remote.commands import PlatformCommands

# Keys the login part of a pool key: secrets never sit in a pool key, but a changed password or
# key (a rotated credential) must not reuse a connection opened with the old one.
_POOL_SALT = secrets.token_bytes(16)
BACKUP_NAME = re.compile(r"\.hacontrol-[0-9A-Za-z]+\.bak")
BACKUPS_LISTED = 50
# Seconds within which a look must place a host's clock for its skew to count: loose enough for a
# Windows look (WinRM's shell round trips and PowerShell's start), tight beside the seconds of skew
# that matter (HACONTROL_CLOCK_SKEW_WARNING, and HeartbeatMaxAllowedDowntime for Central).
CLOCK_PRECISION = 2.5


@dataclass(frozen=True)
class HostSettings:
    """How to reach one host. Secrets stay in memory only; :meth:`pool_key` holds none."""

    platform: str
    address: str
    port: int
    username: str
    password: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)
    key_passphrase: str = field(default="", repr=False)
    host_key: str = ""
    preferences_path: str = ""
    use_sudo: bool = False
    winrm_https: bool = False
    winrm_auth: str = "ntlm"
    winrm_ca_file: str = ""
    winrm_certificate: str = ""
    commands: dict = field(default_factory=dict, compare=False, hash=False)
    timeout: float = 60
    connect_timeout: float = 10

    def pool_key(self) -> tuple:
        login = hashlib.blake2b("\0".join((self.password, self.private_key, self.key_passphrase)).encode(),
                                key=_POOL_SALT, digest_size=16).hexdigest()
        return (self.platform, self.address, self.port, self.username, self.host_key, self.winrm_https,
                self.winrm_certificate, login)

    @property
    def where(self) -> str:
        return f"{self.address}:{self.port}"

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


@dataclass
class ServiceState:
    """Central's service on a host: running or not, since when (the host's clock), and the
    platform's own word for it ('active', 'failed', 'Running', ...)."""

    running: bool
    started_at: float | None = None
    detail: str = ""


@dataclass
class HostReport:
    """One look at a Central host, taken in one round trip: the service, the version, the host's
    clock and the preferences file (None with ``preferences_error`` when it cannot be read).
    ``before``/``after`` are the console's clock around the look; ``extra`` holds what a
    platform adds (a Windows service's key name, display name, executable); ``backups`` the
    copies hacontrol left beside the preferences file (name, size in bytes, modified as epoch
    seconds)."""

    service: ServiceState
    version: str = ""
    clock: float | None = None
    preferences: bytes | None = None
    preferences_error: str = ""
    before: float = 0.0
    after: float = 0.0
    extra: dict = field(default_factory=dict)
    installed: bool = True
    backups: list[dict] = field(default_factory=list)

    @property
    def clock_skew(self) -> float | None:
        """Seconds the host's clock is ahead of the console's, or None when this look cannot tell
        it within CLOCK_PRECISION: the host read its clock somewhere between ``before`` and
        ``after``, so a slow look (a loaded host or console) would put a made-up skew on record."""
        if self.clock is None or self.after - self.before > 2 * CLOCK_PRECISION:
            return None
        return self.clock - (self.before + self.after) / 2


class RemoteError(Exception):
    """A failure to reach or use a host; ``kind`` names it for the UI and tests."""

    kind = "error"


class Unreachable(RemoteError):
    kind = "unreachable"


class StaleConnection(Unreachable):
    """A pooled connection turned out dead before anything was started on the host: safe to
    retry on a fresh one (see :func:`call`)."""

    kind = "stale"


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


class CentralNotInstalled(RemoteError):
    kind = "not-installed"


class BadSettings(RemoteError):
    """The member's own settings cannot work (a CA file that does not exist, ...)."""

    kind = "settings"


def backup_suffix() -> str:
    """A timestamped suffix for the copy of a file kept before it is replaced."""
    return datetime.now(timezone.utc).strftime(".hacontrol-%Y%m%dT%H%M%S%fZ.bak")


class Remote(ABC):
    """One open connection to a Central host."""

    def __init__(self, host: HostSettings):
        self.host = host
        self.commands = host.platform_commands

    @abstractmethod
    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        """Run a fixed command line; raise :class:`TimedOut` when it outlives ``timeout``."""

    @abstractmethod
    def read_file(self, path: str) -> bytes:
        """The bytes of a file on the host, exactly."""

    @abstractmethod
    def write_file(self, path: str, data: bytes) -> str | None:
        """Replace a file atomically (a private temporary file, then rename), keeping its owner
        and mode, after a timestamped copy of the old one beside it with the same owner and mode;
        return the backup's path (None when there was no file)."""

    @abstractmethod
    def report(self) -> HostReport:
        """Look at Central on the host in one round trip (see :class:`HostReport`)."""

    @abstractmethod
    def service(self) -> ServiceState:
        """Whether Central's service runs, and since when."""

    @abstractmethod
    def control(self, action: str) -> CommandResult:
        """Stop, start or restart Central ('stop', 'start', 'restart') the platform's way."""

    @abstractmethod
    def install_line(self, staged: str, extracted_folder: str) -> str:
        """The command line that runs an installer put on the host by :meth:`stage` (or already
        there), the platform's way; every value in it quoted for the host's shell, or refused."""

    @abstractmethod
    def free_space(self) -> int | None:
        """KiB free where installers are staged (the smallest of the places that matter)."""

    @abstractmethod
    def stage(self, local_path: str, sha256: str) -> str:
        """Copy a local file into a new private folder on the host (0700 / the user's own),
        streamed, and check its SHA-256 there; return its path on the host."""

    @abstractmethod
    def unstage(self, staged_path: str) -> None:
        """Remove a file put there by :meth:`stage`, and its folder."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    @abstractmethod
    def is_alive(self) -> bool:
        """Whether the connection can still be used."""

    def run_checked(self, command: str, timeout: float | None = None) -> CommandResult:
        """Run a command; a missing program is a :class:`CommandNotFound` naming it."""
        result = self.run(command, timeout)
        missing = self.missing_program(result)
        if missing:
            raise CommandNotFound(f"{self.host.address}: {missing} is not installed (or not on the PATH)")
        return result

    def missing_program(self, result: CommandResult) -> str:
        """The program the shell could not find, read from its own message; '' otherwise."""
        return ""


_pool: dict[tuple, Remote] = {}
_users: dict[int, int] = {}
_retired: set[int] = set()
_pool_lock = threading.Lock()
_key_locks: dict[tuple, threading.Lock] = {}


@contextmanager
def borrow(host: HostSettings) -> Iterator[Remote]:
    """Lend the pooled connection to ``host`` (opening one when there is none or it died).

    A connection is closed only once nobody holds it: a thread never has its connection closed
    under it by another that found it dead and replaced it.
    """
    key = host.pool_key()
    with _pool_lock:
        key_lock = _key_locks.setdefault(key, threading.Lock())
    # One lock per host, so a slow handshake never delays connections to other hosts.
    with key_lock:
        with _pool_lock:
            remote = _pool.get(key)
            reuse = remote is not None and remote.is_alive()
            if remote is not None and reuse:
                # Taken under the same lock that retiring checks: it cannot close in between.
                _users[id(remote)] = _users.get(id(remote), 0) + 1
                # Same host and user, perhaps newer timeouts or command overrides.
                remote.host, remote.commands = host, host.platform_commands
        if not reuse:
            if remote is not None:
                _retire(key, remote)
            remote = open_connection(host)
            with _pool_lock:
                _pool[key] = remote
                _users[id(remote)] = 1
                # The same login on the same host with an older secret or host key: retired.
                superseded = [(k, r) for k, r in _pool.items() if k[:4] == key[:4] and k != key]
            for old_key, old in superseded:
                _retire(old_key, old)
    assert remote is not None
    try:
        yield remote
    finally:
        with _pool_lock:
            _users[id(remote)] -= 1
            close_now = _users[id(remote)] == 0 and id(remote) in _retired
            if _users[id(remote)] == 0:
                del _users[id(remote)]
            if close_now:
                _retired.discard(id(remote))
        if close_now:
            remote.close()


def _retire(key: tuple, remote: Remote) -> None:
    """Take ``remote`` out of the pool; close it now or when its last user gives it back."""
    with _pool_lock:
        if _pool.get(key) is remote:
            del _pool[key]
        if _users.get(id(remote)):
            _retired.add(id(remote))
            return
    remote.close()


T = TypeVar("T")


def call(host: HostSettings, operation: Callable[[Remote], T]) -> T:
    """Run ``operation`` on a pooled connection; when that connection proves dead before
    anything started on the host, run it once more on a fresh one."""
    for attempt in (1, 2):
        with borrow(host) as remote:
            try:
                return operation(remote)
            except StaleConnection:
                _retire(host.pool_key(), remote)
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")


def open_connection(host: HostSettings) -> Remote:
    """A new connection to ``host``, outside the pool."""
    if host.platform == "windows":
        from hacontrol.remote.wsman import WinRMRemote

        return WinRMRemote(host)
    from hacontrol.remote.ssh import SSHRemote

    return SSHRemote(host)


def private_key_problem(private_key: str, passphrase: str) -> str | None:
    """Why an SSH private key cannot be used (unreadable, or encrypted and the passphrase does
    not open it), or None."""
    from hacontrol.remote.ssh import load_private_key

    try:
        load_private_key(private_key, passphrase)
    except AuthenticationFailed as error:
        return str(error)
    return None


def parse_backups(listing: list[dict], preferences_path: str) -> list[dict]:
    """The backups of ``preferences_path`` in a listing, the newest BACKUPS_LISTED first; names
    that are not hacontrol's backups of that file are dropped."""
    leaf = re.split(r"[\\/]", preferences_path)[-1]
    found = []
    for entry in listing:
        name = str(entry.get("name") or "")
        if name.startswith(leaf) and BACKUP_NAME.fullmatch(name[len(leaf):]):
            found.append({"name": name, "size": int(entry.get("size") or 0), "modified": float(entry.get("modified") or 0)})
    return sorted(found, key=lambda e: (e["modified"], e["name"]), reverse=True)[:BACKUPS_LISTED]


def close_all() -> None:
    """Close every pooled connection (those in use once they are given back)."""
    with _pool_lock:
        entries = list(_pool.items())
    for key, remote in entries:
        _retire(key, remote)


__all__ = [
    "AuthenticationFailed", "BadSettings", "CentralNotInstalled", "CommandNotFound", "CommandResult",
    "ConnectionRefused", "FileNotFound", "HostKeyChanged", "HostKeyError", "HostKeyUnknown", "HostReport",
    "HostSettings", "PermissionDenied", "PlatformCommands", "Remote", "RemoteError", "ServiceState",
    "StaleConnection", "TimedOut", "Unreachable", "borrow", "call", "close_all", "open_connection", "parse_backups",
    "private_key_problem",
]
