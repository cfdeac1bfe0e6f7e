"""powershell.exe (Windows PowerShell 5.1 console host) command line.

about_PowerShell_exe: -NoProfile, -NonInteractive, -ExecutionPolicy <policy>, -EncodedCommand <base64 of
UTF-16LE text>, -Command <text> (the rest of the command line; "-" reads stdin), -File <path> [args],
-OutputFormat Text|XML, -NoExit.  Parameters are case-insensitive and may be abbreviated (the console host
matches unambiguous prefixes: -ec/-e/-enc for EncodedCommand, -c for Command, -nop, -noni, -ex/-ep ...).
A value of -EncodedCommand that is not Base64 gives "Cannot process the command because the value specified
with -EncodedCommand is not properly encoded. The value must be Base64 encoded." and exit code 64
(ExitCodeBadCommandLineParameter in ConsoleHost).
"""
from __future__ import annotations

import base64
import binascii

from ..proc import ExecContext, decode, split_args
from .parser import ParseError, parse
from .runtime import Runtime
from .values import ErrorRecord, NetException

POLICIES = {"restricted", "allsigned", "remotesigned", "unrestricted", "bypass", "undefined", "default"}


def _match(key: str, full: str, shortest: str) -> bool:
    return full.startswith(key) and len(key) >= len(shortest)


def powershell_main(ctx: ExecContext, tail: str) -> int:
    args = split_args(tail)
    command = None
    encoded = False
    output_format_specified = False
    noexit = False
    file = None
    i = 0
    while i < len(args):
        a = args[i]
        if not a or a[0] not in "-/":
            command = " ".join(args[i:])
            break
        key = a[1:].lower()
        if _match(key, "command", "c"):
            rest = args[i + 1:]
            command = " ".join(rest)
            if command == "-":
                command = None
            break
        if _match(key, "encodedcommand", "e") or key == "ec":
            if i + 1 >= len(args):
                ctx.err("Missing argument for parameter EncodedCommand.\r\n")
                return 64
            try:
                raw = base64.b64decode(args[i + 1], validate=True)
                command = raw.decode("utf-16-le")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                ctx.err("Cannot process the command because the value specified with -EncodedCommand is not "
                        "properly encoded. The value must be Base64 encoded.\r\n")
                return 64
            encoded = True
            i += 2
            continue
        if _match(key, "executionpolicy", "ex") or key == "ep":
            if i + 1 >= len(args):
                ctx.err("Missing argument for parameter ExecutionPolicy.\r\n")
                return 64
            if args[i + 1].lower() not in POLICIES:
                ctx.err(f"Invalid argument '{args[i + 1]}' to the -ExecutionPolicy parameter.\r\n")
                return 64
            i += 2
            continue
        if _match(key, "outputformat", "o") or _match(key, "inputformat", "inp") or _match(key, "windowstyle", "w") \
                or _match(key, "version", "v") or _match(key, "psconsolefile", "psc") or \
                _match(key, "configurationname", "conf"):
            if _match(key, "outputformat", "o"):
                output_format_specified = True
            i += 2
            continue
        if _match(key, "noexit", "noe"):
            noexit = True
            i += 1
            continue
        if _match(key, "file", "f"):
            file = args[i + 1] if i + 1 < len(args) else None
            break
        if any(_match(key, full, short) for full, short in (("noprofile", "nop"), ("noninteractive", "noni"),
                                                              ("nologo", "nol"), ("sta", "s"), ("mta", "m"))):
            i += 1
            continue
        # anything else starts the command text
        command = " ".join(args[i:])
        break
    if file is not None:
        try:
            full = ctx.host.fs.full(file, ctx.cwd)
            command = decode(ctx.host.fs.read_bytes(full), "utf-8").lstrip("\ufeff")
        except Exception:
            ctx.err(f"The argument '{file}' to the -File parameter does not exist. Provide the path to an existing "
                    "'.ps1' file as an argument to the -File parameter.\r\n")
            return 64
    if command is None:
        # Commands come from standard input (redirected stdin, no -Command).
        command = decode(ctx.stdin.read_all(), ctx.codec)
    error_xml = encoded and not output_format_specified and not noexit
    rt = Runtime(ctx, command, error_xml=error_xml)
    try:
        try:
            sb = parse(command)
        except ParseError as e:
            exc = NetException("System.Management.Automation.ParseException", e.message)
            rec = ErrorRecord(exc, e.error_id, "ParserError", None, extent=(e.pos, e.pos + 1), script=command,
                              target_text="", target_type="")
            rec.exception = NetException("System.Management.Automation.ParseException", e.message)
            from .formatting import format_error
            lines = format_error(rec)
            # the category info of a parse error names ParentContainsErrorRecordException
            lines = [ln.replace(", ParseException", ", ParentContainsErrorRecordException") for ln in lines]
            rt.err_writer.write_error(lines)
            return 1
        return rt.run_script(sb)
    finally:
        rt.err_writer.close()
