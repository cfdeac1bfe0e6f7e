"""cmd.exe semantics for the command lines a WinRM cmd shell runs.

Sources:
* ``cmd /?`` help text, the "If /C or /K is specified ..." quote rules (reproduced in
  https://learn.microsoft.com/windows-server/administration/windows-commands/cmd with the ``/s`` switch).
* Operators ``&``, ``&&``, ``||``, ``|``, ``>``, ``>>``, ``<``, ``2>&1``: same cmd page ("Remarks") and
  https://learn.microsoft.com/previous-versions/windows/it-pro/windows-xp/bb490982(v=technet.10)
  ("Using command redirection operators").
* Command search (current directory, then PATH, trying each PATHEXT extension) and the text and exit code of
  an unknown command: 9009 is MSG_DIR_BAD_COMMAND_OR_FILE of cmdmsg.h ("'%1' is not recognized as an
  internal or external command,\\noperable program or batch file."), as the Microsoft Error Lookup Tool
  reports it.
* ``%VAR%`` expansion happens on the whole line before it is parsed; on the command line (not in a batch
  file) an undefined variable is left as typed (``set /?``: "...it will be expanded ... if not defined, it
  is left unchanged" on the command line).
* Output uses CRLF line ends.
"""
from __future__ import annotations

import random
from typing import Optional

from . import paths as wp
from .proc import CaptureSink, ExecContext, FileSink, InputPipe, NullSink, decode

NOT_RECOGNIZED = ("'{0}' is not recognized as an internal or external command,\r\n"
                  "operable program or batch file.\r\n")
SPECIAL = set("&<>()@^|")


# ----------------------------------------------------------------------------------------------- search
def pathext(env) -> list[str]:
    return [e for e in (env.get("PATHEXT") or ".COM;.EXE;.BAT;.CMD").split(";") if e]


def find_executable(ctx: ExecContext, name: str, search_cwd: bool = True) -> tuple[Optional[str], str]:
    """Resolve a command name like cmd.exe does.  Returns (path or None, reason) where reason is
    'ok', 'notfound' or 'nopath' (a directory part that does not exist)."""
    host = ctx.host
    exts = pathext(ctx.env)
    has_ext = "." in wp.leaf(name.replace("/", "\\"))
    ext_ok = has_ext and any(name.casefold().endswith(e.casefold()) for e in exts)

    def candidates(base: str):
        if has_ext:
            yield base
        for e in exts:
            yield base + e.lower()
        if has_ext and not ext_ok:
            return

    if "\\" in name or "/" in name or (len(name) > 1 and name[1] == ":"):
        try:
            full = host.fs.full(name, ctx.cwd)
        except wp.WinPathError:
            return None, "nopath"
        par = wp.parent(full)
        if par and not host.fs.is_dir(par):
            return None, "nopath"
        for c in candidates(full):
            if host.fs.is_file(c):
                return host.fs.display(c), "ok"
        return None, "notfound"
    dirs = ([ctx.cwd] if search_cwd else []) + [d for d in (ctx.env.get("PATH") or "").split(";") if d]
    for d in dirs:
        d = d.strip().strip('"')
        try:
            base = host.fs.full(wp.join(d, name), ctx.cwd)
        except wp.WinPathError:
            continue
        for c in candidates(base):
            if host.fs.is_file(c):
                return host.fs.display(c), "ok"
    return None, "notfound"


# ----------------------------------------------------------------------------------------------- expansion
def expand_percent(ctx: ExecContext, line: str, errorlevel: int = 0) -> str:
    out = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == "%":
            j = line.find("%", i + 1)
            if j > i + 1:
                name = line[i + 1: j]
                val = ctx.env.get(name)
                if val is None:
                    u = name.upper()
                    if u == "CD":
                        val = ctx.cwd
                    elif u == "ERRORLEVEL":
                        val = str(errorlevel)
                    elif u == "RANDOM":
                        val = str(random.randint(0, 32767))
                    elif u == "DATE":
                        val = ctx.host.now().strftime("%a %m/%d/%Y")
                    elif u == "TIME":
                        val = ctx.host.now().strftime("%H:%M:%S.00")
                if val is not None:
                    out.append(val)
                    i = j + 1
                    continue
            out.append(c)
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def slash_c_quotes(ctx: ExecContext, s: str) -> str:
    """The ``cmd /c`` quote rule: keep the quotes only if there are exactly two, no special character
    between them, whitespace between them and the quoted string names an executable; otherwise, if the
    line starts with a quote, remove that quote and the last quote of the line."""
    t = s.lstrip(" \t")
    if not t.startswith('"'):
        return s
    if t.count('"') == 2:
        inner = t[1: t.index('"', 1)]
        if (not any(ch in SPECIAL for ch in inner) and any(ch in " \t" for ch in inner)):
            path, why = find_executable(ctx, inner)
            if path:
                return t
    last = t.rfind('"')
    return t[1:last] + t[last + 1:]


# ----------------------------------------------------------------------------------------------- parsing
def split_operators(line: str) -> list[tuple[str, str]]:
    """Split a line into (command, operator-after) pairs on &, &&, ||, | outside quotes; ^ escapes.
    Parenthesised groups stay whole."""
    parts: list[tuple[str, str]] = []
    cur: list[str] = []
    inq = False
    depth = 0
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == '"':
            inq = not inq
            cur.append(c)
            i += 1
            continue
        if inq:
            cur.append(c)
            i += 1
            continue
        if c == "^" and i + 1 < n:
            cur.append("^" + line[i + 1])
            i += 2
            continue
        if c == "(" and not "".join(cur).strip():
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        if depth == 0 and c in "&|":
            prev = line[i - 1] if i else ""
            if c == "&" and prev in "<>":
                cur.append(c)
                i += 1
                continue
            if i + 1 < n and line[i + 1] == c:
                parts.append(("".join(cur), c * 2))
                i += 2
            else:
                parts.append(("".join(cur), c))
                i += 1
            cur = []
            continue
        cur.append(c)
        i += 1
    parts.append(("".join(cur), ""))
    return parts


def unescape(s: str) -> str:
    out = []
    inq = False
    i = 0
    while i < len(s):
        c = s[i]
        if c == '"':
            inq = not inq
        if c == "^" and not inq and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def extract_redirections(cmd: str) -> tuple[str, list[tuple[int, str, str]]]:
    """Remove redirections; return (command text, [(fd, mode, target)]) with mode '>', '>>', '<' and
    target a file name or '&N'."""
    out: list[str] = []
    redirs: list[tuple[int, str, str]] = []
    inq = False
    i, n = 0, len(cmd)
    while i < n:
        c = cmd[i]
        if c == '"':
            inq = not inq
            out.append(c)
            i += 1
            continue
        if c == "^" and not inq and i + 1 < n:
            out.append(cmd[i: i + 2])
            i += 2
            continue
        if not inq and c in "<>":
            fd = 1 if c == ">" else 0
            if out and out[-1] in "0123456789" and (len(out) < 2 or out[-2] in " \t"):
                fd = int(out.pop())
            mode = c
            i += 1
            if c == ">" and i < n and cmd[i] == ">":
                mode = ">>"
                i += 1
            while i < n and cmd[i] in " \t":
                i += 1
            if i < n and cmd[i] == "&":
                j = i + 1
                while j < n and cmd[j].isdigit():
                    j += 1
                redirs.append((fd, mode, cmd[i:j]))
                i = j
                continue
            j = i
            tq = False
            while j < n and (tq or cmd[j] not in " \t<>&|"):
                if cmd[j] == '"':
                    tq = not tq
                j += 1
            redirs.append((fd, mode, cmd[i:j].replace('"', "")))
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out), redirs


def first_token(s: str) -> tuple[str, str, bool]:
    """(command token with quotes removed, rest of line, whether quoted)."""
    s = s.lstrip(" \t")
    i, n = 0, len(s)
    inq = False
    quoted = False
    tok = []
    while i < n:
        c = s[i]
        if c == '"':
            inq = not inq
            quoted = True
            i += 1
            continue
        if not inq and (c in " \t" or (c == "/" and "".join(tok).lower() in BUILTINS)
                        or (c in ".(" and "".join(tok).lower() == "echo")):
            break
        tok.append(c)
        i += 1
    return "".join(tok), s[i:], quoted


# ----------------------------------------------------------------------------------------------- running
class _Exit(Exception):
    def __init__(self, code: int):
        self.code = code


def run_slash_c(ctx: ExecContext, line: str) -> int:
    """Run what ``cmd.exe /c <line>`` runs and return its exit code."""
    line = slash_c_quotes(ctx, line)
    try:
        return run_line(ctx, line)
    except _Exit as e:
        return e.code


def run_line(ctx: ExecContext, line: str, errorlevel: int = 0) -> int:
    line = expand_percent(ctx, line, errorlevel)
    parts = split_operators(line)
    rc = errorlevel
    # group pipes first: a | b runs a with its stdout feeding b's stdin
    seq: list[tuple[list[str], str]] = []
    pipe: list[str] = []
    for text, op in parts:
        pipe.append(text)
        if op == "|":
            continue
        seq.append((pipe, op))
        pipe = []
    last_op = "&"
    for cmds, op in seq:
        run_it = True
        if last_op == "&&" and rc != 0:
            run_it = False
        elif last_op == "||" and rc == 0:
            run_it = False
        if run_it:
            rc = run_pipeline(ctx, cmds, rc)
        last_op = op
    return rc


def run_pipeline(ctx: ExecContext, cmds: list[str], errorlevel: int) -> int:
    if len(cmds) == 1:
        return run_simple(ctx, cmds[0], errorlevel)
    # ASSUMPTION: the stages of a pipe run one after the other (cmd runs them concurrently), which gives
    # the same bytes for the finite producers this host has.
    data = b""
    rc = 0
    for k, c in enumerate(cmds):
        cap = CaptureSink() if k < len(cmds) - 1 else ctx.stdout
        sub = ctx.child(stdin=InputPipe(data, eof=True) if k else ctx.stdin, stdout=cap)
        rc = run_simple(sub, c, errorlevel)
        if k < len(cmds) - 1:
            data = cap.getvalue()
    return rc


def run_simple(ctx: ExecContext, text: str, errorlevel: int) -> int:
    body, redirs = extract_redirections(text)
    body = body.strip(" \t")
    if body.startswith("(") and body.endswith(")"):
        inner = body[1:-1]
        return _with_redirs(ctx, redirs, lambda c: run_line_noexpand(c, inner, errorlevel))
    while body.startswith("@"):
        body = body[1:].lstrip()
    if not body:
        return errorlevel
    return _with_redirs(ctx, redirs, lambda c: run_command(c, body, errorlevel))


def run_line_noexpand(ctx: ExecContext, line: str, errorlevel: int) -> int:
    rc = errorlevel
    last = "&"
    for text, op in split_operators(line):
        if (last == "&&" and rc != 0) or (last == "||" and rc == 0):
            last = op
            continue
        rc = run_simple(ctx, text, rc)
        last = op
    return rc


def _with_redirs(ctx: ExecContext, redirs, fn) -> int:
    if not redirs:
        return fn(ctx)
    out, err, inp = ctx.stdout, ctx.stderr, ctx.stdin
    opened = []
    try:
        for fd, mode, target in redirs:
            if mode == "<":
                if target.lower() == "nul":
                    inp = InputPipe(b"", eof=True)
                else:
                    try:
                        data = ctx.host.fs.read_bytes(ctx.host.fs.full(target, ctx.cwd))
                    except (OSError, wp.WinPathError):
                        ctx.err("The system cannot find the file specified.\r\n")
                        return 1
                    inp = InputPipe(data, eof=True)
                continue
            if target.startswith("&"):
                src = {1: out, 2: err}.get(int(target[1:] or 1), out)
                sink = src
            elif target.lower() == "nul":
                sink = NullSink()
            else:
                try:
                    full = ctx.host.fs.full(target, ctx.cwd)
                    real = ctx.host.fs.real(full)
                    if not real.parent.is_dir():
                        raise FileNotFoundError
                    sink = FileSink(real, append=(mode == ">>"))
                    opened.append(sink)
                except (OSError, wp.WinPathError):
                    ctx.err("The system cannot find the path specified.\r\n")
                    return 1
            if fd == 1:
                out = sink
            elif fd == 2:
                err = sink
        return fn(ctx.child(stdout=out, stderr=err, stdin=inp))
    finally:
        for s in opened:
            s.close()


BUILTINS = {"echo", "type", "exit", "set", "cd", "chdir", "rem", "ver", "mkdir", "md", "del", "erase", "cls"}


def run_command(ctx: ExecContext, body: str, errorlevel: int) -> int:
    name, rest, quoted = first_token(body)
    lname = name.lower()
    if not quoted and lname in BUILTINS:
        return builtin(ctx, lname, rest, errorlevel)
    from .programs import launch  # noqa: PLC0415 (imported here: programs imports this module)
    ctx.check()
    path, why = find_executable(ctx, unescape(name))
    if path is None:
        shown = body.lstrip().split(" ")[0] if not quoted else _quoted_token(body)
        if why == "nopath":
            ctx.err("The system cannot find the path specified.\r\n")
            return 3
        ctx.err(NOT_RECOGNIZED.format(unescape(shown) if not quoted else shown))
        return 9009
    return launch(ctx, path, unescape(rest), argv0=name)


def _quoted_token(body: str) -> str:
    s = body.lstrip()
    inq = False
    for i, c in enumerate(s):
        if c == '"':
            inq = not inq
        elif c in " \t" and not inq:
            return s[:i]
    return s


def builtin(ctx: ExecContext, name: str, rest: str, errorlevel: int) -> int:
    fs = ctx.host.fs
    if name == "echo":
        rest_u = unescape(rest)
        if rest_u.startswith(".") or rest_u.startswith("(") or rest_u.startswith("/"):
            ctx.out(rest_u[1:] + "\r\n")
            return 0
        text = rest_u[1:] if rest_u[:1] in (" ", "\t") else rest_u
        if not text.strip():
            ctx.out("ECHO is on.\r\n")
        elif text.strip().lower() in ("on", "off"):
            pass
        else:
            ctx.out(text + "\r\n")
        return 0
    if name == "rem" or name == "cls":
        return 0
    if name == "ver":
        ctx.out("\r\nMicrosoft Windows [Version 10.0.17763.1]\r\n")
        return 0
    if name == "exit":
        from .proc import split_args
        args = [a for a in split_args(unescape(rest)) if a.lower() != "/b"]
        code = 0
        if args:
            try:
                code = int(args[0])
            except ValueError:
                code = 0
        raise _Exit(code)
    if name == "type":
        from .proc import split_args
        files = split_args(unescape(rest))
        if not files:
            ctx.err("The syntax of the command is incorrect.\r\n")
            return 1
        rc = 0
        for f in files:
            try:
                full = fs.full(f, ctx.cwd)
                if fs.is_dir(full):
                    ctx.err("Access is denied.\r\n")
                    rc = 1
                    continue
                data = fs.read_bytes(full)
            except (OSError, wp.WinPathError):
                ctx.err("The system cannot find the file specified.\r\n")
                rc = 1
                continue
            if len(files) > 1:
                ctx.err(f"\r\n{f}\r\n\r\n\r\n")
            ctx.stdout.write(data)
        return rc
    if name == "set":
        arg = unescape(rest).strip()
        if arg.startswith('"') and arg.endswith('"'):
            arg = arg[1:-1]
        if not arg:
            for k, v in ctx.env.items():
                ctx.out(f"{k}={v}\r\n")
            return 0
        if "=" in arg:
            k, v = arg.split("=", 1)
            if v:
                ctx.env[k] = v
            else:
                del ctx.env[k]
            return 0
        found = [(k, v) for k, v in ctx.env.items() if k.lower().startswith(arg.lower())]
        if not found:
            ctx.err(f"Environment variable {arg} not defined\r\n")
            return 1
        for k, v in found:
            ctx.out(f"{k}={v}\r\n")
        return 0
    if name in ("cd", "chdir"):
        arg = unescape(rest).strip()
        if arg.lower().startswith("/d"):
            arg = arg[2:].strip()
        arg = arg.strip('"')
        if not arg:
            ctx.out(ctx.cwd + "\r\n")
            return 0
        try:
            full = fs.full(arg, ctx.cwd)
        except wp.WinPathError:
            ctx.err("The system cannot find the drive specified.\r\n")
            return 1
        if not fs.is_dir(full):
            ctx.err("The system cannot find the path specified.\r\n")
            return 1
        ctx.cwd = fs.display(full)
        return 0
    if name in ("mkdir", "md"):
        from .proc import split_args
        rc = 0
        for d in split_args(unescape(rest)):
            full = fs.full(d, ctx.cwd)
            if fs.exists(full):
                ctx.err(f"A subdirectory or file {d} already exists.\r\n")
                rc = 1
                continue
            fs.mkdir(full)
        return rc
    if name in ("del", "erase"):
        from .proc import split_args
        for f in [a for a in split_args(unescape(rest)) if not a.startswith("/")]:
            full = fs.full(f, ctx.cwd)
            if fs.is_file(full):
                fs.real(full).unlink()
            else:
                ctx.err(f"Could Not Find {full}\r\n")
        return 0
    return 0


def run_batch(ctx: ExecContext, path: str, args: str) -> int:
    """Run a .bat/.cmd file line by line (no labels/goto)."""
    data = decode(ctx.host.fs.read_bytes(path), ctx.codec)
    rc = 0
    try:
        for raw in data.splitlines():
            line = raw.strip()
            if not line or line.startswith("::") or line.lower().startswith("rem ") or line.lower() in (
                    "@echo off", "echo off", "@echo on", "echo on"):
                continue
            rc = run_line(ctx, line, rc)
    except _Exit as e:
        return e.code
    return rc
