"""Process plumbing of the emulated host: stdin pipes, output sinks, exec context, argv parsing."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable


class ProcessKilled(BaseException):
    """Raised inside an emulated program when its process is terminated (TerminateProcess)."""


def codec_for(codepage: int | str | None) -> str:
    """Python codec for a Windows code page (WINRS_CODEPAGE sets the console code page of the shell:
    MS-WSMV 3.1.4.5.2 "WINRS_CODEPAGE ... the client's console output code page")."""
    try:
        cp = int(codepage or 437)
    except (TypeError, ValueError):
        cp = 437
    return {65001: "utf-8", 1200: "utf-16-le", 20127: "ascii"}.get(cp, f"cp{cp}")


def decode(data: bytes, codec: str) -> str:
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode(codec, errors="replace")
    except LookupError:
        return data.decode("cp437", errors="replace")


def encode(text: str, codec: str) -> bytes:
    if text.isascii():
        return text.encode("ascii")
    try:
        return text.encode(codec, errors="replace")
    except LookupError:
        return text.encode("cp437", errors="replace")


class InputPipe:
    """The stdin pipe of an emulated process.  Bytes arrive by WS-Man Send (MS-WSMV 3.1.4.13); a Send with
    ``End="true"`` closes it, after which reads return end-of-file."""

    def __init__(self, data: bytes = b"", eof: bool = False):
        self._buf = bytearray(data)
        self._pos = 0
        self._eof = eof
        self._cv = threading.Condition()
        self.kill_event: threading.Event | None = None

    def feed(self, data: bytes, end: bool = False) -> None:
        with self._cv:
            if data:
                if self._pos and self._pos > (1 << 20) and self._pos * 2 > len(self._buf):
                    del self._buf[: self._pos]
                    self._pos = 0
                self._buf += data
            if end:
                self._eof = True
            self._cv.notify_all()

    def close(self) -> None:
        self.feed(b"", end=True)

    @property
    def eof(self) -> bool:
        return self._eof

    def _wait(self) -> None:
        if self.kill_event is not None and self.kill_event.is_set():
            raise ProcessKilled()
        self._cv.wait(0.2)
        if self.kill_event is not None and self.kill_event.is_set():
            raise ProcessKilled()

    def read_line(self) -> bytes | None:
        """One line without its terminator (CRLF or LF), or None at end of input (TextReader.ReadLine)."""
        with self._cv:
            start = self._pos
            while True:
                idx = self._buf.find(b"\n", start)
                if idx >= 0:
                    line = bytes(self._buf[self._pos: idx])
                    self._pos = idx + 1
                    if line.endswith(b"\r"):
                        line = line[:-1]
                    return line
                if self._eof:
                    if self._pos < len(self._buf):
                        line = bytes(self._buf[self._pos:])
                        self._pos = len(self._buf)
                        if line.endswith(b"\r"):
                            line = line[:-1]
                        return line
                    return None
                start = max(self._pos, len(self._buf))
                self._wait()

    def read_all(self) -> bytes:
        with self._cv:
            while not self._eof:
                self._wait()
            data = bytes(self._buf[self._pos:])
            self._pos = len(self._buf)
            return data

    def read_available_or_wait(self) -> bytes | None:
        with self._cv:
            while self._pos >= len(self._buf):
                if self._eof:
                    return None
                self._wait()
            data = bytes(self._buf[self._pos:])
            self._pos = len(self._buf)
            return data

    def wait_forever(self) -> None:
        """Block like a program waiting for interactive input that never comes (until killed)."""
        with self._cv:
            while True:
                self._wait()


class Sink:
    def write(self, data: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class NullSink(Sink):
    def write(self, data: bytes) -> None:
        pass


class CaptureSink(Sink):
    def __init__(self) -> None:
        self.data = bytearray()
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.data += data

    def getvalue(self) -> bytes:
        with self.lock:
            return bytes(self.data)


class StreamBuffer(Sink):
    """Output gathered for a WS-Man command stream, drained by Receive."""

    def __init__(self, notify: Callable[[], None]):
        self._chunks = bytearray()
        self._lock = threading.Lock()
        self._notify = notify

    def write(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            self._chunks += data
        self._notify()

    def take(self, limit: int) -> bytes:
        with self._lock:
            data = bytes(self._chunks[:limit])
            del self._chunks[:limit]
            return data

    def __len__(self) -> int:
        with self._lock:
            return len(self._chunks)


class FileSink(Sink):
    def __init__(self, realpath, append: bool = False):
        self.f = open(realpath, "ab" if append else "wb")

    def write(self, data: bytes) -> None:
        self.f.write(data)

    def close(self) -> None:
        self.f.close()


@dataclass
class ExecContext:
    """What a running emulated program sees: host, environment, directory, standard handles."""

    host: Any
    env: "Env"
    cwd: str
    stdin: InputPipe
    stdout: Sink
    stderr: Sink
    codepage: int = 437
    kill_event: threading.Event = field(default_factory=threading.Event)
    pid: int = 0
    user: str = "Administrator"

    @property
    def codec(self) -> str:
        return codec_for(self.codepage)

    def out(self, text: str) -> None:
        self.stdout.write(encode(text, self.codec))

    def err(self, text: str) -> None:
        self.stderr.write(encode(text, self.codec))

    def check(self) -> None:
        if self.kill_event.is_set():
            raise ProcessKilled()

    def sleep(self, seconds: float) -> None:
        if self.kill_event.wait(seconds):
            raise ProcessKilled()

    def child(self, **kw) -> "ExecContext":
        base = dict(host=self.host, env=self.env.copy(), cwd=self.cwd, stdin=self.stdin, stdout=self.stdout,
                    stderr=self.stderr, codepage=self.codepage, kill_event=self.kill_event, pid=self.pid,
                    user=self.user)
        base.update(kw)
        return ExecContext(**base)


class Env:
    """Environment block: names are case-insensitive, case-preserving
    (https://learn.microsoft.com/windows/win32/procthread/environment-variables)."""

    def __init__(self, items: dict[str, str] | None = None):
        self._d: dict[str, tuple[str, str]] = {}
        for k, v in (items or {}).items():
            self[k] = v

    def __getitem__(self, k: str) -> str:
        return self._d[k.casefold()][1]

    def get(self, k: str, default: str | None = None) -> str | None:
        v = self._d.get(k.casefold())
        return v[1] if v else default

    def __setitem__(self, k: str, v: str) -> None:
        old = self._d.get(k.casefold())
        self._d[k.casefold()] = (old[0] if old else k, v)

    def __delitem__(self, k: str) -> None:
        self._d.pop(k.casefold(), None)

    def __contains__(self, k: str) -> bool:
        return k.casefold() in self._d

    def items(self):
        return sorted(((n, v) for n, v in self._d.values()), key=lambda t: t[0].upper())

    def copy(self) -> "Env":
        e = Env()
        e._d = dict(self._d)
        return e


def split_program(cmdline: str) -> tuple[str, str]:
    """argv[0] and the rest of a command line.  The program name is delimited by quotes or whitespace;
    backslashes in it are literal ("Parsing C command-line arguments",
    https://learn.microsoft.com/cpp/c-language/parsing-c-command-line-arguments)."""
    s = cmdline.lstrip(" \t")
    if s.startswith('"'):
        end = s.find('"', 1)
        if end < 0:
            return s[1:], ""
        prog = s[1:end]
        rest = s[end + 1:]
        # text glued to the closing quote stays part of argv[0] up to whitespace
        i = 0
        while i < len(rest) and rest[i] not in " \t":
            i += 1
        return prog + rest[:i], rest[i:]
    i = 0
    while i < len(s) and s[i] not in " \t":
        i += 1
    return s[:i], s[i:]


def split_args(tail: str) -> list[str]:
    """Arguments after argv[0], by the Microsoft C runtime rules (same page as ``split_program``):
    whitespace separates; double quotes group; 2n backslashes + quote -> n backslashes and a delimiter;
    2n+1 backslashes + quote -> n backslashes and a literal quote; ``""`` inside quotes -> literal quote."""
    args: list[str] = []
    i, n = 0, len(tail)
    while True:
        while i < n and tail[i] in " \t":
            i += 1
        if i >= n:
            break
        cur: list[str] = []
        inq = False
        while i < n:
            c = tail[i]
            if c in " \t" and not inq:
                break
            if c == "\\":
                j = i
                while j < n and tail[j] == "\\":
                    j += 1
                nb = j - i
                if j < n and tail[j] == '"':
                    cur.append("\\" * (nb // 2))
                    if nb % 2:
                        cur.append('"')
                        i = j + 1
                    else:
                        i = j
                    continue
                cur.append("\\" * nb)
                i = j
                continue
            if c == '"':
                if inq and i + 1 < n and tail[i + 1] == '"':
                    cur.append('"')
                    i += 2
                    continue
                inq = not inq
                i += 1
                continue
            cur.append(c)
            i += 1
        args.append("".join(cur))
    return args


def quote_arg(a: str) -> str:
    """Quote one argument so that ``split_args`` gives it back (used when building command lines)."""
    if a and not any(c in a for c in ' \t"'):
        return a
    out = ['"']
    bs = 0
    for c in a:
        if c == "\\":
            bs += 1
            continue
        if c == '"':
            out.append("\\" * (bs * 2 + 1) + '"')
        else:
            out.append("\\" * bs + c)
        bs = 0
    out.append("\\" * (bs * 2) + '"')
    return "".join(out)
