"""Members of objects and .NET static members used by the subset.

.NET behaviour sources (learn.microsoft.com/dotnet/api/...): System.IO.File (ReadAllBytes, WriteAllBytes,
Exists, Create, OpenWrite — opens without truncating, OpenRead, ReadAllText ...; FileNotFoundException
"Could not find file '...'.", DirectoryNotFoundException "Could not find a part of the path '...'."),
System.IO.FileStream.Write(byte[], int, int), System.IO.Path (GetTempPath: the TMP variable with a trailing
backslash; GetRandomFileName: 8.3 random name; Combine: a rooted later argument discards earlier ones;
GetFileName/GetDirectoryName/GetExtension), System.Convert.ToBase64String/FromBase64String (FormatException
texts), System.DateTimeOffset.UtcNow/ToUnixTimeMilliseconds, System.Console.In.ReadLine (null at end of
input), System.String methods (ordinal, case-sensitive Replace/Contains/IndexOf; Split(params char[]) —
a string argument splits on each of its characters in .NET Framework 4.x), Hashtable, ServiceController
(Status is cached until Refresh()), Process.
PowerShell rules: member enumeration on collections (about_Properties, v3+), .Count/.Length of a scalar are
1 and of $null 0 (about_Properties? "Count and Length properties" in about_Arrays / v3 feature), calling a
method on $null fails with "You cannot call a method on a null-valued expression.", a failing .NET call is
wrapped as 'Exception calling "X" with "N" argument(s): "..."' (MethodInvocationException).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import random
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

from .. import paths as wp
from ..host import read_program
from .runtime import NetError, PSError, enumerate_value, unwrap
from .values import (
    VOID,
    ConversionError,
    DateTime,
    DateTimeOffset,
    EnumValue,
    Hashtable,
    NetException,
    NetObject,
    PSObject,
    PSTypeRef,
    ScriptBlock,
    TimeSpan,
    TypedList,
    Version,
    eq,
    net_regex,
    net_replacement,
    to_bool,
    to_int,
    to_number,
    to_string,
    type_full,
)

KNOWN_TYPES = {t.lower(): t for t in [
    "System.IO.File", "System.IO.Path", "System.IO.Directory", "System.IO.FileStream", "System.IO.FileInfo",
    "System.IO.DirectoryInfo", "System.IO.FileMode", "System.IO.FileAccess", "System.IO.FileShare",
    "System.IO.StreamReader", "System.IO.StreamWriter", "System.IO.SeekOrigin",
    "System.Convert", "System.Console", "System.Text.Encoding", "System.Text.UTF8Encoding",
    "System.Text.StringBuilder", "System.DateTimeOffset", "System.DateTime", "System.TimeSpan", "System.Environment",
    "System.Math", "System.String", "System.Int32", "System.Int64", "System.Byte", "System.Double",
    "System.Boolean", "System.Char", "System.BitConverter", "System.Guid", "System.Version",
    "System.Text.RegularExpressions.Regex", "System.Threading.Thread", "System.Net.Dns",
    "System.Diagnostics.Process", "System.Diagnostics.Stopwatch", "System.Security.Cryptography.SHA256",
    "System.Security.Cryptography.SHA1", "System.Security.Cryptography.MD5",
    "System.Security.Cryptography.HashAlgorithm", "System.StringSplitOptions", "System.StringComparison",
    "System.DateTimeKind", "System.ServiceProcess.ServiceController", "System.ServiceProcess.ServiceControllerStatus",
    "System.Collections.ArrayList", "System.Collections.Generic.List", "System.Object", "System.Array",
    "System.Collections.Hashtable", "System.Management.Automation.PSObject",
    "System.Management.Automation.PSCustomObject", "System.Management.Automation.ErrorRecord",
    "System.Uri", "System.Net.IPAddress", "System.Void", "System.IO.DriveInfo",
    "Microsoft.Management.Infrastructure.CimInstance", "System.Text.RegularExpressions.Match",
]}
KNOWN_TYPES["system.collections.generic.list[string]"] = "System.Collections.Generic.List"
KNOWN_TYPES["system.collections.generic.list[object]"] = "System.Collections.Generic.List"

ENUMS = {
    "System.IO.FileMode": {"CreateNew": 1, "Create": 2, "Open": 3, "OpenOrCreate": 4, "Truncate": 5, "Append": 6},
    "System.IO.FileAccess": {"Read": 1, "Write": 2, "ReadWrite": 3},
    "System.IO.FileShare": {"None": 0, "Read": 1, "Write": 2, "ReadWrite": 3, "Delete": 4},
    "System.IO.SeekOrigin": {"Begin": 0, "Current": 1, "End": 2},
    "System.StringSplitOptions": {"None": 0, "RemoveEmptyEntries": 1},
    "System.StringComparison": {"CurrentCulture": 0, "CurrentCultureIgnoreCase": 1, "InvariantCulture": 2,
                                "InvariantCultureIgnoreCase": 3, "Ordinal": 4, "OrdinalIgnoreCase": 5},
    "System.DateTimeKind": {"Unspecified": 0, "Utc": 1, "Local": 2},
    "System.ServiceProcess.ServiceControllerStatus": {"Stopped": 1, "StartPending": 2, "StopPending": 3,
                                                      "Running": 4, "ContinuePending": 5, "PausePending": 6,
                                                      "Paused": 7},
}

STATUS_ENUM = {"Stopped": 1, "Start Pending": 2, "Stop Pending": 3, "Running": 4}
STATUS_NAME = {"Stopped": "Stopped", "Start Pending": "StartPending", "Stop Pending": "StopPending",
               "Running": "Running"}


def enum(type_name, name):
    vals = ENUMS[type_name]
    return EnumValue(type_name, name, vals[name])


def enum_arg(v, type_name, default=None):
    if v is None:
        return default
    if isinstance(v, EnumValue):
        return v.name
    vals = ENUMS[type_name]
    if isinstance(v, int):
        for k, x in vals.items():
            if x == v:
                return k
    s = to_string(v)
    for k in vals:
        if k.lower() == s.lower():
            return k
    raise NetError("System.ArgumentException", f"Requested value '{s}' was not found.")


# ---------------------------------------------------------------------------------------------- objects
class TypeInfo(NetObject):
    """Result of GetType()."""
    type_name = "System.RuntimeType"

    def __init__(self, full):
        self.full = full

    def props(self):
        return [("Name", self.full.rsplit(".", 1)[-1]), ("FullName", self.full),
                ("Namespace", self.full.rsplit(".", 1)[0] if "." in self.full else ""),
                ("IsArray", self.full.endswith("[]"))]

    def to_string(self):
        return self.full


class PathInfo(NetObject):
    type_name = "System.Management.Automation.PathInfo"

    def __init__(self, path):
        self.path = path

    def props(self):
        return [("Drive", self.path[0]), ("Provider", "Microsoft.PowerShell.Core\\FileSystem"),
                ("ProviderPath", self.path), ("Path", self.path)]

    def to_string(self):
        return self.path


class FileVersionInfo(NetObject):
    type_name = "System.Diagnostics.FileVersionInfo"

    def __init__(self, path, props):
        self.path = path
        self.p = props

    def props(self):
        v = self.p.get("version")
        prod = self.p.get("product")
        return [("Comments", None), ("CompanyName", "Men & Mice" if prod else None),
                ("FileDescription", prod), ("FileName", self.path), ("FileVersion", v),
                ("InternalName", None), ("OriginalFilename", None), ("ProductName", prod),
                ("ProductVersion", v)]


class FileSystemInfo(NetObject):
    def __init__(self, rt, path: str, display_name: str | None = None):
        self.rt = rt
        self.path = rt.host.fs.display(path)
        self.real = rt.host.fs.real(path)
        self.is_dir = self.real.is_dir()
        self.display_name = display_name
        self.type_name = "System.IO.DirectoryInfo" if self.is_dir else "System.IO.FileInfo"
        self.base_types = ("System.IO.FileSystemInfo",)

    def _times(self):
        try:
            st = self.real.stat()
            return (datetime.fromtimestamp(st.st_mtime, timezone.utc) + timedelta(seconds=self.rt.host.clock_offset),
                    datetime.fromtimestamp(st.st_ctime, timezone.utc), datetime.fromtimestamp(st.st_atime, timezone.utc))
        except OSError:
            z = datetime(1601, 1, 1, tzinfo=timezone.utc)
            return z, z, z

    def props(self):
        name = wp.leaf(self.path)
        par = wp.parent(self.path)
        mtime, ctime, atime = self._times()
        base = [("PSPath", "Microsoft.PowerShell.Core\\FileSystem::" + self.path),
                ("PSParentPath", "Microsoft.PowerShell.Core\\FileSystem::" + par if par else ""),
                ("PSChildName", name), ("PSDrive", self.path[0]), ("PSProvider", "Microsoft.PowerShell.Core\\FileSystem"),
                ("PSIsContainer", self.is_dir), ("Mode", "d-----" if self.is_dir else "-a----")]
        if self.is_dir:
            base += [("BaseName", name), ("Name", name), ("FullName", self.path),
                     ("Parent", FileSystemInfo(self.rt, par) if par else None), ("Exists", self.real.exists()),
                     ("Root", FileSystemInfo(self.rt, self.path[:3])), ("Extension", os.path.splitext(name)[1])]
        else:
            exists = self.real.exists()
            info = read_program(self.real) if exists else None
            base += [("VersionInfo", FileVersionInfo(self.path, info[1] if info else {})),
                     ("BaseName", os.path.splitext(name)[0]), ("Name", name),
                     ("Length", self.real.stat().st_size if exists else None),
                     ("DirectoryName", par), ("Directory", FileSystemInfo(self.rt, par) if par else None),
                     ("IsReadOnly", False), ("Exists", exists), ("FullName", self.path),
                     ("Extension", os.path.splitext(name)[1])]
        base += [("CreationTime", DateTime(ctime, "Local")), ("CreationTimeUtc", DateTime(ctime, "Utc")),
                 ("LastAccessTime", DateTime(atime, "Local")), ("LastAccessTimeUtc", DateTime(atime, "Utc")),
                 ("LastWriteTime", DateTime(mtime, "Local")), ("LastWriteTimeUtc", DateTime(mtime, "Utc")),
                 ("Attributes", EnumValue("System.IO.FileAttributes", "Directory" if self.is_dir else "Archive",
                                          16 if self.is_dir else 32))]
        return base

    def to_string(self):
        return self.display_name if self.display_name is not None else self.path

    def call(self, rt, name, args):
        if name == "delete":
            rt.host.fs.remove(self.path)
            return VOID
        if name == "refresh":
            self.is_dir = self.real.is_dir()
            return VOID
        if name == "openread":
            return FileStream(rt, self.path, "r")
        if name == "openwrite":
            return FileStream(rt, self.path, "w")
        if name in ("getfiles", "getdirectories", "enumeratefiles"):
            pat = to_string(args[0]) if args else "*"
            from .values import wildcard_regex
            rx = wildcard_regex(pat)
            out = []
            for p in sorted(self.real.iterdir(), key=lambda x: x.name.lower()):
                if (p.is_dir() if name == "getdirectories" else p.is_file()) and rx.match(p.name):
                    out.append(FileSystemInfo(rt, wp.join(self.path, p.name)))
            return out
        return NotImplemented


class FileStream(NetObject):
    type_name = "System.IO.FileStream"

    def __init__(self, rt, path: str, mode: str):
        self.rt = rt
        self.path = rt.host.fs.display(path) if rt.host.fs.exists(path) else path
        real = rt.host.fs.real(path)
        self.mode = mode
        self.f = open(real, {"r": "rb", "w": "r+b", "c": "w+b", "a": "ab", "rw": "r+b"}[mode])
        self.closed = False

    def _check(self):
        if self.closed:
            raise NetError("System.ObjectDisposedException", "Cannot access a closed file.")

    def props(self):
        size = None
        pos = None
        if not self.closed:
            pos = self.f.tell()
            self.f.seek(0, 2)
            size = self.f.tell()
            self.f.seek(pos)
        return [("CanRead", not self.closed and self.mode in ("r", "rw", "w", "c")),
                ("CanWrite", not self.closed and self.mode != "r"), ("CanSeek", not self.closed),
                ("Name", self.path), ("Length", size), ("Position", pos), ("IsAsync", False)]

    def set_member(self, name, value):
        if name.lower() == "position":
            self._check()
            self.f.seek(to_int(value))
            return True
        return False

    def call(self, rt, name, args):
        if name == "write":
            self._check()
            if len(args) != 3:
                raise _overload("Write", len(args))
            buf, off, cnt = args
            if not isinstance(buf, (bytes, bytearray)):
                buf = bytes(to_int(x) & 0xFF for x in enumerate_value(buf))
            off, cnt = to_int(off), to_int(cnt)
            if off < 0 or cnt < 0:
                raise NetError("System.ArgumentOutOfRangeException",
                               "Non-negative number required.\r\nParameter name: " + ("offset" if off < 0 else "count"))
            if off + cnt > len(buf):
                raise NetError("System.ArgumentException", "Offset and length were out of bounds for the array or "
                               "count is greater than the number of elements from index to the end of the source "
                               "collection.")
            if self.mode == "r":
                raise NetError("System.NotSupportedException", "Stream does not support writing.")
            self.f.write(memoryview(buf)[off:off + cnt])
            return VOID
        if name == "writebyte":
            self._check()
            self.f.write(bytes([to_int(args[0]) & 0xFF]))
            return VOID
        if name == "read":
            self._check()
            buf, off, cnt = args
            data = self.f.read(to_int(cnt))
            if isinstance(buf, bytearray):
                buf[to_int(off):to_int(off) + len(data)] = data
            return len(data)
        if name == "readbyte":
            self._check()
            b = self.f.read(1)
            return b[0] if b else -1
        if name == "flush":
            self._check()
            self.f.flush()
            return VOID
        if name == "seek":
            self._check()
            origin = enum_arg(args[1], "System.IO.SeekOrigin", "Begin") if len(args) > 1 else "Begin"
            self.f.seek(to_int(args[0]), {"Begin": 0, "Current": 1, "End": 2}[origin])
            return self.f.tell()
        if name == "setlength":
            self._check()
            self.f.truncate(to_int(args[0]))
            return VOID
        if name in ("close", "dispose"):
            if not self.closed:
                self.f.close()
                self.closed = True
            return VOID
        if name == "copyto":
            self._check()
            dst = args[0]
            while True:
                chunk = self.f.read(1 << 20)
                if not chunk:
                    break
                dst.f.write(chunk)
            return VOID
        return NotImplemented


class ConsoleIn(NetObject):
    """[Console]::In — a TextReader over the process's stdin (the WS-Man Send stream)."""
    type_name = "System.IO.SyncTextReader"

    def __init__(self, rt):
        self.rt = rt

    def call(self, rt, name, args):
        stdin = rt.ctx.stdin
        stdin.kill_event = rt.ctx.kill_event
        if name == "readline":
            line = stdin.read_line()
            if line is None:
                return None
            if line.isascii():
                return line.decode("ascii")
            return line.decode(rt.ctx.codec, "replace")
        if name == "readtoend":
            data = stdin.read_all()
            return data.decode(rt.ctx.codec, "replace")
        if name == "peek":
            return -1 if stdin.eof else 0
        if name in ("close", "dispose"):
            return VOID
        return NotImplemented


class ConsoleOut(NetObject):
    type_name = "System.IO.TextWriter+SyncTextWriter"

    def __init__(self, rt, err=False):
        self.rt = rt
        self.err = err

    def call(self, rt, name, args):
        if name in ("write", "writeline"):
            rt.out.flush()
            text = to_string(args[0]) if args else ""
            if len(args) > 1:
                from .netformat import composite_format
                text = composite_format(rt, text, list(args[1:]))
            if name == "writeline":
                text += "\r\n"
            (rt.ctx.err if self.err else rt.ctx.out)(text)
            return VOID
        if name == "flush":
            return VOID
        return NotImplemented


class Encoding(NetObject):
    type_name = "System.Text.Encoding"

    def __init__(self, web, codec, cp, name, bom=b""):
        self.web, self.codec, self.cp, self.ename, self.bom = web, codec, cp, name, bom
        self.type_name = {"utf-8": "System.Text.UTF8Encoding", "us-ascii": "System.Text.ASCIIEncoding",
                          "utf-16": "System.Text.UnicodeEncoding"}.get(web, "System.Text.Encoding")

    def props(self):
        return [("BodyName", self.web), ("EncodingName", self.ename), ("WebName", self.web), ("CodePage", self.cp)]

    def call(self, rt, name, args):
        if name == "getbytes":
            return to_string(args[0]).encode(self.codec, errors="replace")
        if name == "getstring":
            b = args[0]
            if not isinstance(b, (bytes, bytearray)):
                b = bytes(to_int(x) & 0xFF for x in enumerate_value(b))
            if len(args) == 3:
                b = b[to_int(args[1]): to_int(args[1]) + to_int(args[2])]
            return bytes(b).decode(self.codec, errors="replace")
        if name == "getpreamble":
            return self.bom
        if name == "getbytecount":
            return len(to_string(args[0]).encode(self.codec, errors="replace"))
        return NotImplemented


ENCODINGS = {
    "utf8": lambda: Encoding("utf-8", "utf-8", 65001, "Unicode (UTF-8)", b"\xef\xbb\xbf"),
    "ascii": lambda: Encoding("us-ascii", "ascii", 20127, "US-ASCII"),
    "unicode": lambda: Encoding("utf-16", "utf-16-le", 1200, "Unicode", b"\xff\xfe"),
    "bigendianunicode": lambda: Encoding("utf-16BE", "utf-16-be", 1201, "Unicode (Big-Endian)", b"\xfe\xff"),
    "utf32": lambda: Encoding("utf-32", "utf-32-le", 12000, "Unicode (UTF-32)", b"\xff\xfe\x00\x00"),
    "default": lambda: Encoding("Windows-1252", "cp1252", 1252, "Western European (Windows)"),
}


class ServiceController(NetObject):
    type_name = "System.ServiceProcess.ServiceController"

    def __init__(self, rt, svc):
        self.rt = rt
        self.svc = svc
        self.state = svc.state

    def props(self):
        s = self.svc
        mode = {"Auto": ("Automatic", 2), "Manual": ("Manual", 3), "Disabled": ("Disabled", 4),
                "Boot": ("Boot", 0), "System": ("System", 1)}[s.start_mode]
        return [("Name", s.name), ("RequiredServices", []), ("CanPauseAndContinue", False),
                ("CanShutdown", self.state == "Running"), ("CanStop", self.state == "Running"),
                ("DisplayName", s.display_name), ("DependentServices", []), ("MachineName", "."),
                ("ServiceName", s.name), ("ServicesDependedOn", []), ("ServiceHandle", None),
                ("Status", EnumValue("System.ServiceProcess.ServiceControllerStatus", STATUS_NAME[self.state],
                                     STATUS_ENUM[self.state])),
                ("ServiceType", EnumValue("System.ServiceProcess.ServiceType",
                                          "Win32OwnProcess" if s.service_type == "Own Process" else "Win32ShareProcess",
                                          16 if s.service_type == "Own Process" else 32)),
                ("StartType", EnumValue("System.ServiceProcess.ServiceStartMode", mode[0], mode[1])),
                ("Site", None), ("Container", None)]

    def default_props(self):
        return ["Status", "Name", "DisplayName"]

    def to_string(self):
        return "System.ServiceProcess.ServiceController"

    def call(self, rt, name, args):
        host = rt.host
        if name == "refresh":
            self.state = self.svc.state
            return VOID
        if name in ("start", "stop"):
            err = host.service_start(self.svc.name) if name == "start" else host.service_stop(self.svc.name)
            if err:
                from ..host import WIN32_MESSAGES
                # ServiceController.Start/Stop: InvalidOperationException "Cannot start service X on computer '.'."
                # (the Win32 error, WIN32_MESSAGES[err], is its inner Win32Exception)
                raise NetError("System.InvalidOperationException",
                               f"Cannot {name} service {self.svc.name} on computer '.'.",
                               win32=WIN32_MESSAGES.get(err, ""))
            return VOID
        if name == "waitforstatus":
            want = to_string(args[0]).replace(" ", "").lower()
            deadline = time.time() + (args[1].td.total_seconds() if len(args) > 1 and isinstance(args[1], TimeSpan) else 3600)
            while STATUS_NAME[self.svc.state].lower() != want:
                if time.time() > deadline:
                    raise NetError("System.ServiceProcess.TimeoutException", "Time out has expired and the operation "
                                   "has not been completed.")
                rt.ctx.sleep(0.05)
            self.state = self.svc.state
            return VOID
        if name in ("close", "dispose"):
            return VOID
        return NotImplemented


class ProcessObj(NetObject):
    type_name = "System.Diagnostics.Process"

    def __init__(self, rt, pinfo, exit_code=None, has_exited=False):
        self.rt = rt
        self.p = pinfo
        self.exit_code = exit_code
        self.has_exited = has_exited
        self.thread = None

    def props(self):
        p = self.p
        name = p.name[:-4] if p.name.lower().endswith(".exe") else p.name
        exited = self.has_exited or (p.pid not in self.rt.host.processes)
        out = [("Name", name), ("Id", p.pid), ("ProcessName", name), ("Path", p.path or None),
               ("StartTime", DateTime(p.start_time, "Local")), ("HasExited", exited),
               ("Handles", 0), ("NPM", 0), ("PM", 0), ("WS", 0), ("CPU", 0.0), ("SI", p.session_id),
               ("SessionId", p.session_id), ("MainWindowTitle", ""), ("Responding", True)]
        if exited:
            out.append(("ExitCode", self.exit_code))
        return out

    def default_props(self):
        return ["Handles", "NPM", "PM", "WS", "CPU", "Id", "SI", "ProcessName"]

    def to_string(self):
        name = self.p.name[:-4] if self.p.name.lower().endswith(".exe") else self.p.name
        return f"System.Diagnostics.Process ({name})"

    def call(self, rt, name, args):
        if name == "kill":
            rt.host.exit_process(self.p.pid)
            return VOID
        if name == "waitforexit":
            limit = to_int(args[0]) / 1000 if args else None
            t0 = time.time()
            while self.thread is not None and self.thread.is_alive():
                if limit is not None and time.time() - t0 > limit:
                    return False
                rt.ctx.sleep(0.02)
            return True if args else VOID
        if name == "refresh" or name == "dispose":
            return VOID
        return NotImplemented


class CimInstance(NetObject):
    type_name = "Microsoft.Management.Infrastructure.CimInstance"

    def __init__(self, class_name, props, key="Name", wmi=False, rt=None):
        self.class_name = class_name
        self.values = props
        self.key = key
        self.wmi = wmi
        self.rt = rt
        if wmi:
            self.type_name = "System.Management.ManagementObject"

    def props(self):
        out = list(self.values) + [("PSComputerName", None)]
        if self.wmi:
            out = [("__CLASS", self.class_name)] + list(self.values)
        return out

    DEFAULT_DISPLAY = {
        # default display property sets of the CIM classes (Windows PowerShell 5.1 types/format data)
        "Win32_Service": ["ProcessId", "Name", "StartMode", "State", "Status", "ExitCode"],
        "Win32_Process": ["ProcessId", "Name", "HandleCount", "WorkingSetSize", "VirtualSize"],
        "Win32_LogicalDisk": ["DeviceID", "DriveType", "ProviderName", "VolumeName", "Size", "FreeSpace"],
    }

    def default_props(self):
        return self.DEFAULT_DISPLAY.get(self.class_name)

    def to_string(self):
        kv = dict((k.lower(), v) for k, v in self.values)
        if self.wmi:
            return f'\\\\{self.rt.host.hostname if self.rt else "."}\\root\\cimv2:{self.class_name}.{self.key}="{to_string(kv.get(self.key.lower()))}"'
        return f'{self.class_name} ({self.key} = "{to_string(kv.get(self.key.lower()))}")'

    def call(self, rt, name, args):
        if self.wmi and self.class_name == "Win32_Service" and name in ("startservice", "stopservice"):
            # Win32_Service StartService/StopService return values: 0 success, 2 access denied,
            # 5 "The service cannot accept control messages at this time", 10 "Service Already Running".
            svc_name = dict((k.lower(), v) for k, v in self.values)["name"]
            err = rt.host.service_start(svc_name) if name == "startservice" else rt.host.service_stop(svc_name)
            code = {0: 0, 5: 2, 1056: 10, 1062: 5, 1067: 8}.get(err, 8)
            return PSObject([("ReturnValue", code)])
        return NotImplemented


class RegexObj(NetObject):
    type_name = "System.Text.RegularExpressions.Regex"

    def __init__(self, pattern, ignore_case=False):
        self.pattern = pattern
        self.rx = net_regex(pattern, cs=not ignore_case)

    def to_string(self):
        return self.pattern

    def call(self, rt, name, args):
        s = to_string(args[0]) if args else ""
        if name == "ismatch":
            return self.rx.search(s) is not None
        if name == "match":
            return MatchObj(self.rx.search(s))
        if name == "matches":
            return [MatchObj(m) for m in self.rx.finditer(s)]
        if name == "replace":
            return self.rx.sub(net_replacement(to_string(args[1])), s)
        if name == "split":
            return self.rx.split(s)
        return NotImplemented


class MatchObj(NetObject):
    type_name = "System.Text.RegularExpressions.Match"

    def __init__(self, m):
        self.m = m

    def props(self):
        m = self.m
        if m is None:
            return [("Groups", []), ("Success", False), ("Captures", []), ("Index", 0), ("Length", 0), ("Value", "")]
        groups = [PSObject([("Groups", None), ("Success", m.group(i) is not None), ("Name", str(i)),
                            ("Index", m.start(i)), ("Length", len(m.group(i) or "")), ("Value", m.group(i) or "")])
                  for i in range((m.re.groups or 0) + 1)]
        return [("Groups", groups), ("Success", True), ("Name", "0"), ("Captures", []), ("Index", m.start()),
                ("Length", len(m.group(0))), ("Value", m.group(0))]

    def to_string(self):
        return self.m.group(0) if self.m else ""


class ArrayListObj(NetObject):
    type_name = "System.Collections.ArrayList"
    _enumerable = True

    def __init__(self, items=None, generic=False):
        self.items = list(items or [])
        if generic:
            self.type_name = "System.Collections.Generic.List`1[[System.Object]]"
        self.generic = generic

    def props(self):
        return [("Count", len(self.items)), ("Capacity", max(4, len(self.items))), ("IsReadOnly", False),
                ("IsFixedSize", False)]

    def call(self, rt, name, args):
        if name == "add":
            self.items.append(args[0])
            return VOID if self.generic else len(self.items) - 1
        if name == "addrange":
            self.items.extend(enumerate_value(args[0]))
            return VOID
        if name == "remove":
            for i, x in enumerate(self.items):
                if eq(x, args[0], True):
                    del self.items[i]
                    return True if self.generic else VOID
            return False if self.generic else VOID
        if name == "removeat":
            del self.items[to_int(args[0])]
            return VOID
        if name == "insert":
            self.items.insert(to_int(args[0]), args[1])
            return VOID
        if name == "contains":
            return any(eq(x, args[0], True) for x in self.items)
        if name == "indexof":
            for i, x in enumerate(self.items):
                if eq(x, args[0], True):
                    return i
            return -1
        if name == "clear":
            self.items.clear()
            return VOID
        if name == "toarray":
            return list(self.items)
        if name == "sort":
            self.items.sort(key=lambda x: (to_string(x).lower()))
            return VOID
        return NotImplemented


class StringBuilder(NetObject):
    type_name = "System.Text.StringBuilder"

    def __init__(self, s=""):
        self.parts = [s]

    def props(self):
        return [("Length", len("".join(self.parts))), ("Capacity", 16)]

    def to_string(self):
        return "".join(self.parts)

    def call(self, rt, name, args):
        if name == "append":
            self.parts.append(to_string(args[0]) if args else "")
            return self
        if name == "appendline":
            self.parts.append((to_string(args[0]) if args else "") + "\r\n")
            return self
        if name == "clear":
            self.parts = []
            return self
        if name == "tostring":
            return "".join(self.parts)
        return NotImplemented


class Stopwatch(NetObject):
    type_name = "System.Diagnostics.Stopwatch"

    def __init__(self):
        self.t0 = None
        self.acc = 0.0

    def _el(self):
        return self.acc + ((time.monotonic() - self.t0) if self.t0 is not None else 0)

    def props(self):
        e = self._el()
        return [("IsRunning", self.t0 is not None), ("Elapsed", TimeSpan(timedelta(seconds=e))),
                ("ElapsedMilliseconds", int(e * 1000)), ("ElapsedTicks", int(e * 1e7))]

    def call(self, rt, name, args):
        if name == "start":
            if self.t0 is None:
                self.t0 = time.monotonic()
            return VOID
        if name == "stop":
            self.acc = self._el()
            self.t0 = None
            return VOID
        if name == "restart":
            self.acc = 0.0
            self.t0 = time.monotonic()
            return VOID
        if name == "reset":
            self.acc, self.t0 = 0.0, None
            return VOID
        return NotImplemented


class Hasher(NetObject):
    def __init__(self, algo):
        self.algo = algo
        self.type_name = {"sha256": "System.Security.Cryptography.SHA256CryptoServiceProvider",
                          "sha1": "System.Security.Cryptography.SHA1CryptoServiceProvider",
                          "md5": "System.Security.Cryptography.MD5CryptoServiceProvider",
                          "sha384": "System.Security.Cryptography.SHA384CryptoServiceProvider",
                          "sha512": "System.Security.Cryptography.SHA512CryptoServiceProvider"}[algo]

    def call(self, rt, name, args):
        if name == "computehash":
            h = hashlib.new(self.algo)
            src = args[0]
            if isinstance(src, FileStream):
                while True:
                    chunk = src.f.read(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
            elif isinstance(src, (bytes, bytearray)):
                h.update(src)
            else:
                h.update(bytes(to_int(x) & 0xFF for x in enumerate_value(src)))
            return h.digest()
        if name in ("dispose", "clear"):
            return VOID
        return NotImplemented


def _overload(name, n):
    return NetError("System.Management.Automation.MethodException",
                    f'Cannot find an overload for "{name}" and the argument count: "{n}".', overload=True)


# ---------------------------------------------------------------------------------------------- Members
class Members:
    def __init__(self, rt):
        self.rt = rt
        self._console_in = None

    # -------------------------------------------------------------- get
    def get(self, obj, name, node=None):
        ln = name.lower()
        if obj is None:
            return 0 if ln in ("count", "length") else None
        if isinstance(obj, list):
            if ln in ("count", "length", "longlength"):
                return len(obj)
            if ln == "rank":
                return 1
            if ln in ("issynchronized", "isfixedsize", "isreadonly"):
                return ln == "isfixedsize"
            vals = []
            for x in obj:
                v = self.get(x, name, node) if not isinstance(x, (list,)) else None
                if v is not None:
                    vals.extend(v if isinstance(v, list) else [v])
            return unwrap(vals) if len(vals) != 1 else vals[0]
        if isinstance(obj, str):
            if ln == "length":
                return len(obj)
            if ln == "count":
                return 1
            return None
        if isinstance(obj, (bytes, bytearray)):
            if ln in ("length", "count", "longlength"):
                return len(obj)
            return None
        if isinstance(obj, Hashtable):
            if name in obj:
                return obj[name]
            if ln == "count":
                return len(obj)
            if ln == "keys":
                return list(obj.keys())
            if ln == "values":
                return list(obj.values())
            if ln in ("isreadonly", "isfixedsize", "issynchronized"):
                return False
            return None
        if isinstance(obj, PSObject):
            if name in obj.props:
                return obj.props[name]
            if ln == "psobject":
                return PSObjectMeta(obj)
            if ln in ("count", "length"):
                return 1
            return None
        if isinstance(obj, PSTypeRef):
            info = TypeInfo(obj.full_name)
            try:
                return info.member(name)
            except KeyError:
                return None
        if isinstance(obj, ArrayListObj):
            if ln in ("count", "length"):
                return len(obj.items)
            try:
                return obj.member(name)
            except KeyError:
                vals = [self.get(x, name) for x in obj.items]
                return unwrap([v for v in vals if v is not None])
        if isinstance(obj, NetObject):
            try:
                return obj.member(name)
            except KeyError:
                if ln in ("count", "length"):
                    return 1
                if ln == "psobject":
                    return PSObjectMeta(obj)
                return None
        if isinstance(obj, EnumValue):
            if ln == "value__":
                return obj.value
            return None
        if isinstance(obj, ScriptBlock):
            return None
        if ln in ("count", "length"):
            return 1
        return None

    # -------------------------------------------------------------- set
    def set(self, obj, name, value, node, static=False):
        rt = self.rt
        if obj is None:
            rt.runtime_error("The property '%s' cannot be found on this object. Verify that the property exists and "
                             "can be set." % name, "PropertyNotFound", "InvalidOperation", node=node)
        if isinstance(obj, Hashtable):
            obj[name] = value
            return
        if isinstance(obj, PSObject):
            if name in obj.props:
                obj.props[name] = value
                return
        elif isinstance(obj, NetObject):
            if obj.set_member(name, value):
                return
        rt.runtime_error(f"The property '{name}' cannot be found on this object. Verify that the property exists "
                         "and can be set.", "PropertyNotFound", "InvalidOperation", node=node)

    def index(self, obj, idx, node):
        rt = self.rt
        if obj is None:
            rt.runtime_error("Cannot index into a null array.", "NullArray", "InvalidOperation", node=node)
        if isinstance(obj, Hashtable):
            if isinstance(idx, list):
                return [obj.get(k) for k in idx]
            return obj.get(idx)
        if isinstance(obj, PSObject):
            return obj.props.get(to_string(idx))
        seq = obj.items if isinstance(obj, ArrayListObj) else obj
        if isinstance(seq, (list, str, bytes, bytearray)):
            if isinstance(idx, list):
                return [self.index(obj, i, node) for i in idx]
            try:
                i = to_int(idx)
            except ConversionError:
                rt.runtime_error("Cannot convert value to type System.Int32.", "InvalidCastFromStringToInteger",
                                 "InvalidArgument", node=node)
            if -len(seq) <= i < len(seq):
                return seq[i]
            return None
        if isinstance(idx, (int,)) and idx in (0, -1):
            return obj
        rt.runtime_error(f"Unable to index into an object of type {type_full(obj)}.", "CannotIndex",
                         "InvalidOperation", node=node)

    def set_index(self, obj, idx, value, node):
        rt = self.rt
        if obj is None:
            rt.runtime_error("Cannot index into a null array.", "NullArray", "InvalidOperation", node=node)
        if isinstance(obj, Hashtable):
            obj[idx] = value
            return
        seq = obj.items if isinstance(obj, ArrayListObj) else obj
        if isinstance(seq, (list, bytearray)):
            i = to_int(idx)
            if not -len(seq) <= i < len(seq):
                rt.runtime_error("Index was outside the bounds of the array.", "IndexOutOfRange",
                                 "OperationStopped", node=node, exc="System.IndexOutOfRangeException")
            seq[i] = value if not isinstance(seq, bytearray) else to_int(value) & 0xFF
            return
        rt.runtime_error(f"Unable to index into an object of type {type_full(obj)}.", "CannotIndex",
                         "InvalidOperation", node=node)

    # -------------------------------------------------------------- call
    def call(self, obj, name, args, node):
        rt = self.rt
        if obj is None:
            rt.runtime_error("You cannot call a method on a null-valued expression.", "InvokeMethodOnNull",
                             "InvalidOperation", node=node)
        ln = name.lower()
        try:
            r = self._call(obj, ln, name, args, node)
        except NetError as e:
            if e.exc.extra.get("overload"):
                rec = rt.make_record("System.Management.Automation.MethodException", e.exc.message,
                                     "MethodCountCouldNotFindBest", "InvalidOperation", node=node)
                raise PSError(rec) from None
            self._method_exception(name, args, e.exc, node)
        except ConversionError as e:
            self._method_exception(name, args, NetException("System.Management.Automation.PSInvalidCastException",
                                                            e.message), node)
        if r is NotImplemented:
            rt.runtime_error(f"Method invocation failed because [{type_full(obj)}] does not contain a method named "
                             f"'{name}'.", "MethodNotFound", "InvalidOperation", node=node)
        return r

    def _method_exception(self, name, args, inner: NetException, node):
        rt = self.rt
        msg = f'Exception calling "{name}" with "{len(args)}" argument(s): "{inner.message}"'
        rec = rt.make_record("System.Management.Automation.MethodInvocationException", msg, inner.short,
                             "NotSpecified", node=node, inner=inner)
        raise PSError(rec)

    def _call(self, obj, ln, name, args, node):
        rt = self.rt
        if ln == "gettype" and not args:
            return TypeInfo(type_full(obj) if not isinstance(obj, PSTypeRef) else "System.RuntimeType")
        if ln in ("foreach", "where") and isinstance(args[0] if args else None, ScriptBlock):
            items = enumerate_value(obj) if isinstance(obj, list) else [obj]
            out = []
            for it in items:
                res = rt.call_scriptblock(args[0], it)
                if ln == "foreach":
                    out.extend(res)
                elif to_bool(unwrap(res)):
                    out.append(it)
            return out
        if isinstance(obj, str):
            return string_method(rt, obj, ln, args)
        if isinstance(obj, bool):
            if ln == "tostring":
                return to_string(obj)
            if ln == "equals":
                return eq(obj, args[0])
            return NotImplemented
        if isinstance(obj, (int, float)):
            if ln == "tostring":
                if args:
                    from .netformat import format_number
                    return format_number(obj, to_string(args[0]))
                return to_string(obj)
            if ln == "equals":
                return eq(obj, args[0])
            if ln == "compareto":
                from .values import compare
                return compare(obj, args[0])
            return NotImplemented
        if isinstance(obj, list):
            return list_method(rt, obj, ln, args)
        if isinstance(obj, (bytes, bytearray)):
            if ln == "clone":
                return bytes(obj)
            if ln == "tostring":
                return "System.Byte[]"
            return NotImplemented
        if isinstance(obj, Hashtable):
            return hashtable_method(rt, obj, ln, args)
        if isinstance(obj, PSObject):
            if ln == "tostring":
                return to_string(obj)
            if ln == "equals":
                return obj is args[0]
            return NotImplemented
        if isinstance(obj, (DateTime, DateTimeOffset)):
            return datetime_method(rt, obj, ln, args)
        if isinstance(obj, TimeSpan):
            if ln == "tostring":
                return obj.to_string()
            if ln == "add":
                return TimeSpan(obj.td + args[0].td)
            return NotImplemented
        if isinstance(obj, PSTypeRef):
            return NotImplemented
        if isinstance(obj, NetObject):
            r = obj.call(rt, ln, args) if hasattr(obj, "call") else NotImplemented
            if r is NotImplemented and ln == "tostring":
                return obj.to_string()
            if r is NotImplemented and ln == "equals":
                return obj is args[0] or eq(obj, args[0])
            return r
        if isinstance(obj, EnumValue):
            if ln == "tostring":
                return obj.name
            if ln == "hasflag":
                return bool(obj.value & to_int(args[0]))
            return NotImplemented
        if isinstance(obj, ScriptBlock):
            if ln in ("invoke", "invokereturnasis"):
                return unwrap(rt.call_scriptblock(obj, ..., args=args, new_scope=True))
            return NotImplemented
        return NotImplemented

    # -------------------------------------------------------------- static
    def get_static(self, typeref, name, node):
        rt = self.rt
        if not isinstance(typeref, PSTypeRef):
            rt.runtime_error(f"Unable to find type [{to_string(typeref)}].", "TypeNotFound", "InvalidOperation",
                             node=node)
        try:
            return static_get(rt, self, typeref.full_name, name)
        except NetError as e:
            self._method_exception(name, [], e.exc, node)
        except KeyError:
            return None

    def call_static(self, typeref, name, args, node):
        rt = self.rt
        if not isinstance(typeref, PSTypeRef):
            rt.runtime_error("Method invocation failed because [%s] does not contain a method named '%s'."
                             % (type_full(typeref), name), "MethodNotFound", "InvalidOperation", node=node)
        try:
            r = static_call(rt, self, typeref.full_name, name.lower(), args)
        except NetError as e:
            if e.exc.extra.get("overload"):
                rec = rt.make_record("System.Management.Automation.MethodException", e.exc.message,
                                     "MethodCountCouldNotFindBest", "InvalidOperation", node=node)
                raise PSError(rec) from None
            self._method_exception(name, args, e.exc, node)
        except ConversionError as e:
            self._method_exception(name, args, NetException("System.Management.Automation.PSInvalidCastException",
                                                            e.message), node)
        if r is NotImplemented:
            rt.runtime_error(f"Method invocation failed because [{typeref.full_name}] does not contain a method "
                             f"named '{name}'.", "MethodNotFound", "InvalidOperation", node=node)
        return r

    def console_in(self):
        if self._console_in is None:
            self._console_in = ConsoleIn(self.rt)
        return self._console_in


class PSObjectMeta(NetObject):
    type_name = "System.Management.Automation.PSObject"

    def __init__(self, obj):
        self.obj = obj

    def props(self):
        if isinstance(self.obj, PSObject):
            items = self.obj.props.items()
        else:
            items = self.obj.props()
        properties = [PSObject([("Value", v), ("MemberType", "NoteProperty"), ("IsSettable", True),
                                ("IsGettable", True), ("TypeNameOfValue", type_full(v)), ("Name", k),
                                ("IsInstance", True)]) for k, v in items]
        tn = getattr(self.obj, "type_names", None) or [getattr(self.obj, "type_name", "System.Object"), "System.Object"]
        return [("Properties", properties), ("TypeNames", tn), ("BaseObject", self.obj)]


# ---------------------------------------------------------------------------------------------- strings
def _cmp_ci(arg) -> bool:
    if arg is None:
        return False
    n = arg.name if isinstance(arg, EnumValue) else to_string(arg)
    return n.lower().endswith("ignorecase") or n in ("1", "3", "5")


def string_method(rt, s, ln, args):
    n = len(args)
    if ln == "trim" or ln == "trimstart" or ln == "trimend":
        chars = None
        if args:
            chars = "".join(to_string(a) if not isinstance(a, list) else "".join(to_string(x) for x in a) for a in args)
        f = {"trim": str.strip, "trimstart": str.lstrip, "trimend": str.rstrip}[ln]
        return f(s, chars) if chars is not None else f(s)
    if ln == "split":
        if not args:
            return re.split(r"[\s]", s) if s else [""]
        sep = args[0]
        opts = 0
        if n > 1:
            last = args[-1]
            if isinstance(last, EnumValue) or (isinstance(last, str) and last.lower() in ("none", "removeemptyentries")):
                opts = 1 if (last.name if isinstance(last, EnumValue) else last).lower() == "removeemptyentries" else 0
            elif isinstance(last, int) and not isinstance(sep, list) and n == 2:
                pass
        if isinstance(sep, list) and n > 1 and all(isinstance(x, str) and len(x) > 1 for x in sep):
            seps = [to_string(x) for x in sep]
            parts = re.split("|".join(re.escape(x) for x in seps), s) if seps else [s]
        else:
            chars = "".join(to_string(x) for x in sep) if isinstance(sep, list) else to_string(sep)
            if chars == "":
                parts = re.split(r"\s", s)
            else:
                parts = re.split("[" + re.escape(chars) + "]", s)
            if n >= 2 and isinstance(args[1], int) and not isinstance(args[1], bool):
                cnt = args[1]
                if cnt > 0 and len(parts) > cnt:
                    # keep the remainder in the last element
                    pieces = []
                    rest = s
                    for _ in range(cnt - 1):
                        m = re.search("[" + re.escape(chars) + "]", rest)
                        if not m:
                            break
                        pieces.append(rest[:m.start()])
                        rest = rest[m.end():]
                    parts = pieces + [rest]
        if opts == 1:
            parts = [p for p in parts if p != ""]
        return TypedList(parts, "System.String")
    if ln == "replace":
        if n != 2:
            raise _overload("Replace", n)
        old = to_string(args[0])
        if old == "":
            raise NetError("System.ArgumentException", "String cannot be of zero length.\r\nParameter name: oldValue")
        return s.replace(old, to_string(args[1]) if args[1] is not None else "")
    if ln in ("startswith", "endswith"):
        if not args:
            raise _overload(ln, 0)
        if args[0] is None:
            raise NetError("System.ArgumentNullException", "Value cannot be null.\r\nParameter name: value")
        v = to_string(args[0])
        ci = n > 1 and _cmp_ci(args[1])
        a, b = (s.lower(), v.lower()) if ci else (s, v)
        return a.startswith(b) if ln == "startswith" else a.endswith(b)
    if ln == "contains":
        if n != 1:
            raise _overload("Contains", n)
        return to_string(args[0]) in s
    if ln in ("indexof", "lastindexof"):
        if not args:
            raise _overload(ln, 0)
        v = to_string(args[0])
        ci = n > 1 and isinstance(args[-1], EnumValue) and _cmp_ci(args[-1])
        a, b = (s.lower(), v.lower()) if ci else (s, v)
        start = to_int(args[1]) if n > 1 and not isinstance(args[1], EnumValue) else None
        if ln == "indexof":
            return a.find(b, start or 0)
        return a.rfind(b) if start is None else a.rfind(b, 0, start + 1)
    if ln == "substring":
        start = to_int(args[0])
        if start < 0 or start > len(s):
            raise NetError("System.ArgumentOutOfRangeException", "startIndex cannot be larger than length of string."
                           "\r\nParameter name: startIndex" if start > len(s) else
                           "StartIndex cannot be less than zero.\r\nParameter name: startIndex")
        if n > 1:
            ln_ = to_int(args[1])
            if ln_ < 0 or start + ln_ > len(s):
                raise NetError("System.ArgumentOutOfRangeException", "Index and length must refer to a location "
                               "within the string.\r\nParameter name: length")
            return s[start:start + ln_]
        return s[start:]
    if ln in ("tolower", "tolowerinvariant"):
        return s.lower()
    if ln in ("toupper", "toupperinvariant"):
        return s.upper()
    if ln in ("padleft", "padright"):
        w = to_int(args[0])
        ch = to_string(args[1]) if n > 1 else " "
        return s.rjust(w, ch) if ln == "padleft" else s.ljust(w, ch)
    if ln == "insert":
        i = to_int(args[0])
        return s[:i] + to_string(args[1]) + s[i:]
    if ln == "remove":
        i = to_int(args[0])
        if n > 1:
            return s[:i] + s[i + to_int(args[1]):]
        return s[:i]
    if ln == "equals":
        o = args[0]
        if not isinstance(o, str):
            return False
        return s.lower() == o.lower() if n > 1 and _cmp_ci(args[1]) else s == o
    if ln == "compareto":
        o = to_string(args[0])
        return (s > o) - (s < o)
    if ln == "tochararray":
        return TypedList(list(s), "System.Char")
    if ln == "tostring":
        return s
    if ln == "gethashcode":
        return hash(s) & 0x7FFFFFFF
    if ln == "normalize":
        return s
    return NotImplemented


def list_method(rt, obj, ln, args):
    if ln == "contains":
        return any(eq(x, args[0], True) if isinstance(x, str) else eq(x, args[0]) for x in obj)
    if ln == "indexof":
        for i, x in enumerate(obj):
            if eq(x, args[0], True):
                return i
        return -1
    if ln in ("add", "remove", "removeat", "insert", "clear"):
        raise NetError("System.NotSupportedException", "Collection was of a fixed size.")
    if ln == "clone":
        return list(obj)
    if ln == "tostring":
        return type_full(obj)
    if ln == "getvalue":
        return obj[to_int(args[0])]
    if ln == "equals":
        return obj is args[0]
    return NotImplemented


def hashtable_method(rt, h, ln, args):
    if ln in ("containskey", "contains"):
        return args[0] in h
    if ln == "containsvalue":
        return any(eq(v, args[0]) for v in h.values())
    if ln == "add":
        if args[0] in h:
            raise NetError("System.ArgumentException", f"Item has already been added. Key in dictionary: "
                           f"'{to_string(args[0])}'  Key being added: '{to_string(args[0])}'")
        h[args[0]] = args[1] if len(args) > 1 else None
        return VOID
    if ln == "remove":
        h.pop(args[0], None)
        return VOID
    if ln == "clear":
        for k in h.keys():
            del h[k]
        return VOID
    if ln == "getenumerator":
        return [PSObject([("Name", k), ("Key", k), ("Value", v)],
                         type_names=["System.Collections.DictionaryEntry"]) for k, v in h.items()]
    if ln == "clone":
        return h.copy()
    if ln == "tostring":
        return h.type_name
    if ln == "get_item":
        return h.get(args[0])
    return NotImplemented


def datetime_method(rt, d, ln, args):
    from .netformat import format_datetime
    is_off = isinstance(d, DateTimeOffset)

    def mk(dt):
        return DateTimeOffset(dt) if is_off else DateTime(dt, d.kind)

    if ln == "tostring":
        return format_datetime(d, to_string(args[0]) if args else "")
    if ln == "tounixtimemilliseconds" and is_off:
        return d.unix_ms()
    if ln == "tounixtimeseconds" and is_off:
        return d.unix_ms() // 1000
    if ln == "touniversaltime":
        return DateTimeOffset(d.dt.astimezone(timezone.utc)) if is_off else DateTime(d.dt, "Utc")
    if ln == "tolocaltime":
        return DateTimeOffset(d.dt) if is_off else DateTime(d.dt, "Local")
    units = {"adddays": "days", "addhours": "hours", "addminutes": "minutes", "addseconds": "seconds",
             "addmilliseconds": "milliseconds"}
    if ln in units:
        return mk(d.dt + timedelta(**{units[ln]: float(to_number(args[0]))}))
    if ln == "addticks":
        return mk(d.dt + timedelta(microseconds=to_int(args[0]) / 10))
    if ln == "add":
        return mk(d.dt + args[0].td)
    if ln == "subtract":
        o = args[0]
        if isinstance(o, TimeSpan):
            return mk(d.dt - o.td)
        return TimeSpan(d.dt - o.dt)
    if ln == "compareto":
        return (d.dt > args[0].dt) - (d.dt < args[0].dt)
    if ln == "equals":
        return isinstance(args[0], (DateTime, DateTimeOffset)) and d.dt == args[0].dt
    if ln == "toshortdatestring":
        return f"{d.dt.month}/{d.dt.day}/{d.dt.year}"
    if ln == "tofiletimeutc" or ln == "tofiletime":
        from datetime import datetime as _d
        return int((d.dt - _d(1601, 1, 1, tzinfo=timezone.utc)).total_seconds() * 10_000_000)
    return NotImplemented


# ---------------------------------------------------------------------------------------------- statics
def _net_path(rt, p, name="path") -> str:
    if p is None:
        raise NetError("System.ArgumentNullException", f"Value cannot be null.\r\nParameter name: {name}")
    s = to_string(p)
    if s.strip() == "":
        raise NetError("System.ArgumentException", "Empty path name is not legal." if s == "" else
                       "The path is not of a legal form.")
    if any(c in s for c in '<>|"') or any(ord(c) < 32 for c in s):
        raise NetError("System.ArgumentException", "Illegal characters in path.")
    try:
        # .NET resolves relative paths against the process directory ([Environment]::CurrentDirectory),
        # not PowerShell's location.
        return rt.host.fs.full(s, rt.ctx.cwd)
    except wp.WinPathError:
        raise NetError("System.IO.DirectoryNotFoundException", f"Could not find a part of the path '{s}'.") from None


def _open_check(rt, full, must_exist=True, for_write=False):
    fs = rt.host.fs
    real = fs.real(full)
    if real.is_dir():
        raise NetError("System.UnauthorizedAccessException", f"Access to the path '{full}' is denied.")
    if not real.parent.is_dir():
        raise NetError("System.IO.DirectoryNotFoundException", f"Could not find a part of the path '{full}'.")
    if must_exist and not real.exists():
        raise NetError("System.IO.FileNotFoundException", f"Could not find file '{full}'.", FileName=full)
    return real


def static_get(rt, members, full, name):
    ln = name.lower()
    if full in ENUMS:
        for k in ENUMS[full]:
            if k.lower() == ln:
                return enum(full, k)
        raise KeyError(name)
    if full == "System.Console":
        if ln == "in":
            return members.console_in()
        if ln == "out":
            return ConsoleOut(rt)
        if ln == "error":
            return ConsoleOut(rt, err=True)
        if ln in ("outputencoding", "inputencoding"):
            return Encoding(f"ibm{rt.ctx.codepage}" if rt.ctx.codepage != 65001 else "utf-8", rt.ctx.codec,
                            rt.ctx.codepage, "OEM United States" if rt.ctx.codepage == 437 else rt.ctx.codec)
        raise KeyError(name)
    if full == "System.Text.Encoding":
        f = ENCODINGS.get(ln)
        if f:
            return f()
        raise KeyError(name)
    if full == "System.DateTimeOffset":
        now = rt.host.now()
        if ln == "utcnow":
            return DateTimeOffset(now)
        if ln == "now":
            return DateTimeOffset(now)
        if ln == "minvalue":
            return DateTimeOffset(datetime(1, 1, 1, tzinfo=timezone.utc))
        raise KeyError(name)
    if full == "System.DateTime":
        now = rt.host.now()
        if ln == "now":
            return DateTime(now, "Local")
        if ln == "utcnow":
            return DateTime(now, "Utc")
        if ln == "today":
            return DateTime(now.replace(hour=0, minute=0, second=0, microsecond=0), "Local")
        if ln == "minvalue":
            return DateTime(datetime(1, 1, 1, tzinfo=timezone.utc), "Unspecified")
        raise KeyError(name)
    if full == "System.Environment":
        vals = {"machinename": rt.host.hostname, "username": rt.ctx.user, "newline": "\r\n",
                "currentdirectory": rt.ctx.cwd, "is64bitoperatingsystem": True, "is64bitprocess": True,
                "processorcount": 2, "tickcount": int(time.monotonic() * 1000) & 0x7FFFFFFF,
                "userdomainname": rt.host.hostname, "systemdirectory": r"C:\Windows\system32",
                "osversion": PSObject([("Platform", "Win32NT"), ("ServicePack", ""),
                                       ("Version", Version([10, 0, 17763, 0])),
                                       ("VersionString", "Microsoft Windows NT 10.0.17763.0")]),
                "version": Version([4, 0, 30319, 42000]), "userinteractive": False}
        if ln in vals:
            return vals[ln]
        raise KeyError(name)
    if full == "System.IO.Path":
        vals = {"directoryseparatorchar": "\\", "altdirectoryseparatorchar": "/", "pathseparator": ";",
                "volumeseparatorchar": ":"}
        if ln in vals:
            return vals[ln]
        raise KeyError(name)
    if full == "System.String" and ln == "empty":
        return ""
    if full in ("System.Int32", "System.Int64", "System.Byte"):
        bits = {"System.Int32": 31, "System.Int64": 63}.get(full)
        if ln == "maxvalue":
            return 255 if full == "System.Byte" else 2 ** bits - 1
        if ln == "minvalue":
            return 0 if full == "System.Byte" else -2 ** bits
    if full == "System.Guid" and ln == "empty":
        from .convert import GuidValue
        return GuidValue("00000000-0000-0000-0000-000000000000")
    if full == "System.Math" and ln == "pi":
        import math
        return math.pi
    raise KeyError(name)


def static_call(rt, members, full, ln, args):
    n = len(args)
    fs = rt.host.fs
    if ln == "new":
        return construct(rt, full, args)
    if full == "System.IO.File":
        if ln == "exists":
            if not args or args[0] is None or to_string(args[0]).strip() == "":
                return False
            try:
                p = _net_path(rt, args[0])
            except NetError:
                return False
            return fs.is_file(p)
        p = _net_path(rt, args[0] if args else None)
        if ln == "readallbytes":
            return _open_check(rt, p).read_bytes()
        if ln in ("readalltext", "readalllines"):
            data = _open_check(rt, p).read_bytes()
            text = _decode_detect(data, args[1] if n > 1 else None)
            if ln == "readalltext":
                return text
            lines = re.split(r"\r\n|\n|\r", text)
            if lines and lines[-1] == "":
                lines.pop()
            return TypedList(lines, "System.String")
        if ln in ("writeallbytes", "writealltext", "appendalltext", "writealllines"):
            real = _open_check(rt, p, must_exist=False, for_write=True)
            if ln == "writeallbytes":
                data = args[1]
                if data is None:
                    raise NetError("System.ArgumentNullException", "Value cannot be null.\r\nParameter name: bytes")
                if not isinstance(data, (bytes, bytearray)):
                    data = bytes(to_int(x) & 0xFF for x in enumerate_value(data))
                real.write_bytes(bytes(data))
                return VOID
            enc = args[2] if n > 2 else None
            if ln == "writealllines":
                text = "".join(to_string(x) + "\r\n" for x in enumerate_value(args[1]))
            else:
                text = to_string(args[1])
            # File.WriteAllText without an encoding writes UTF-8 without BOM.
            data = text.encode(enc.codec) if isinstance(enc, Encoding) else text.encode("utf-8")
            if isinstance(enc, Encoding) and enc.bom and ln != "appendalltext":
                data = enc.bom + data
            if ln == "appendalltext":
                with open(real, "ab") as f:
                    f.write(data)
            else:
                real.write_bytes(data)
            return VOID
        if ln == "create":
            _open_check(rt, p, must_exist=False, for_write=True)
            return FileStream(rt, p, "c")
        if ln == "openwrite":
            real = _open_check(rt, p, must_exist=False, for_write=True)
            if not real.exists():
                real.write_bytes(b"")
            return FileStream(rt, p, "w")
        if ln == "openread":
            _open_check(rt, p)
            return FileStream(rt, p, "r")
        if ln == "open":
            mode = enum_arg(args[1], "System.IO.FileMode") if n > 1 else "Open"
            return _filestream_mode(rt, p, mode)
        if ln == "delete":
            real = fs.real(p)
            if real.is_dir():
                raise NetError("System.UnauthorizedAccessException", f"Access to the path '{p}' is denied.")
            if not real.parent.is_dir():
                raise NetError("System.IO.DirectoryNotFoundException", f"Could not find a part of the path '{p}'.")
            if real.exists():
                real.unlink()
            return VOID
        if ln in ("copy", "move"):
            dst = _net_path(rt, args[1], "destFileName")
            src_real = _open_check(rt, p)
            dreal = fs.real(dst)
            if not dreal.parent.is_dir():
                raise NetError("System.IO.DirectoryNotFoundException", f"Could not find a part of the path '{dst}'.")
            overwrite = n > 2 and to_bool(args[2])
            if dreal.exists() and not (ln == "copy" and overwrite):
                raise NetError("System.IO.IOException", f"The file '{dst}' already exists." if ln == "copy" else
                               "Cannot create a file when that file already exists.\r\n")
            import shutil
            (shutil.copyfile if ln == "copy" else shutil.move)(src_real, dreal)
            return VOID
        if ln in ("getlastwritetime", "getlastwritetimeutc"):
            real = fs.real(p)
            ts = datetime.fromtimestamp(real.stat().st_mtime, timezone.utc) if real.exists() else datetime(
                1601, 1, 1, tzinfo=timezone.utc)
            return DateTime(ts, "Utc" if ln.endswith("utc") else "Local")
        return NotImplemented
    if full == "System.IO.Directory":
        p = _net_path(rt, args[0] if args else None)
        if ln == "exists":
            return fs.is_dir(p)
        if ln == "createdirectory":
            real = fs.real(p)
            if real.is_file():
                raise NetError("System.IO.IOException", f"Cannot create \"{p}\" because a file or directory with the "
                               f"same name already exists.")
            real.mkdir(parents=True, exist_ok=True)
            return FileSystemInfo(rt, p)
        if ln in ("getfiles", "getdirectories", "enumeratefiles", "enumeratedirectories"):
            real = fs.real(p)
            if not real.is_dir():
                raise NetError("System.IO.DirectoryNotFoundException", f"Could not find a part of the path '{p}'.")
            from .values import wildcard_regex
            rx = wildcard_regex(to_string(args[1]) if n > 1 else "*")
            want_dir = "director" in ln
            return TypedList([wp.join(fs.display(p), x.name) for x in sorted(real.iterdir(), key=lambda q: q.name.lower())
                              if x.is_dir() == want_dir and rx.match(x.name)], "System.String")
        if ln == "delete":
            real = fs.real(p)
            if not real.is_dir():
                raise NetError("System.IO.DirectoryNotFoundException", f"Could not find a part of the path '{p}'.")
            if any(real.iterdir()) and not (n > 1 and to_bool(args[1])):
                raise NetError("System.IO.IOException", "The directory is not empty.\r\n")
            fs.remove(p)
            return VOID
        return NotImplemented
    if full == "System.IO.Path":
        return path_method(rt, ln, args)
    if full == "System.Convert":
        if ln == "tobase64string":
            b = args[0]
            if b is None:
                raise NetError("System.ArgumentNullException", "Value cannot be null.\r\nParameter name: inArray")
            if not isinstance(b, (bytes, bytearray)):
                b = bytes(to_int(x) & 0xFF for x in enumerate_value(b))
            if n >= 3:
                off, cnt = to_int(args[1]), to_int(args[2])
                b = memoryview(b)[off:off + cnt]
            return base64.b64encode(b).decode("ascii")
        if ln == "frombase64string":
            return from_base64(args[0] if args else None)
        if ln in ("toint32", "toint64", "toint16", "tobyte"):
            if n > 1:
                return int(to_string(args[0]), to_int(args[1]))
            from .convert import convert_full
            return convert_full(rt, args[0], {"toint32": "System.Int32", "toint64": "System.Int64",
                                              "toint16": "System.Int16", "tobyte": "System.Byte"}[ln])
        if ln == "todouble":
            return float(to_number(args[0]))
        if ln == "toboolean":
            v = args[0]
            if isinstance(v, str):
                if v.strip().lower() in ("true", "false"):
                    return v.strip().lower() == "true"
                raise NetError("System.FormatException", "String was not recognized as a valid Boolean.")
            return to_bool(v)
        if ln == "tostring":
            if n > 1 and isinstance(args[1], int):
                v = to_int(args[0])
                return {2: bin, 8: oct, 16: hex}[args[1]](v)[2:]
            return to_string(args[0])
        return NotImplemented
    if full == "System.Console":
        if ln == "readline":
            return members.console_in().call(rt, "readline", [])
        if ln in ("writeline", "write"):
            return ConsoleOut(rt).call(rt, ln, args)
        return NotImplemented
    if full == "System.Text.Encoding":
        if ln == "getencoding":
            key = to_string(args[0]).lower().replace("-", "")
            m = {"utf8": "utf8", "65001": "utf8", "ascii": "ascii", "usascii": "ascii", "20127": "ascii",
                 "unicode": "unicode", "utf16": "unicode", "1200": "unicode", "1252": "default",
                 "windows1252": "default"}
            if key in m:
                return ENCODINGS[m[key]]()
            if key.isdigit():
                return Encoding(f"ibm{key}", f"cp{key}", int(key), f"cp{key}")
            raise NetError("System.ArgumentException", f"'{to_string(args[0])}' is not a supported encoding name.")
        return NotImplemented
    if full == "System.DateTimeOffset":
        if ln == "fromunixtimemilliseconds":
            from .values import EPOCH
            return DateTimeOffset(EPOCH + timedelta(milliseconds=to_int(args[0], "System.Int64")))
        if ln == "fromunixtimeseconds":
            from .values import EPOCH
            return DateTimeOffset(EPOCH + timedelta(seconds=to_int(args[0], "System.Int64")))
        if ln == "parse":
            from .convert import convert_full
            return convert_full(rt, to_string(args[0]), "System.DateTimeOffset")
        return NotImplemented
    if full == "System.DateTime":
        if ln == "parse":
            from .convert import parse_datetime
            try:
                dt, kind = parse_datetime(to_string(args[0]))
            except ValueError:
                raise NetError("System.FormatException", "String was not recognized as a valid DateTime.") from None
            return DateTime(dt, kind)
        if ln == "specifykind":
            k = enum_arg(args[1], "System.DateTimeKind")
            return DateTime(args[0].dt, k)
        if ln == "fromfiletimeutc":
            return DateTime(datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=to_int(args[0]) / 10), "Utc")
        return NotImplemented
    if full == "System.Environment":
        if ln == "getenvironmentvariable":
            name = to_string(args[0])
            if n > 1 and enum_or_str(args[1]) == "machine":
                return rt.host.system_env().get(name) if name in rt.host.system_env() else next(
                    (v for k, v in rt.host.system_env().items() if k.lower() == name.lower()), None)
            return rt.ctx.env.get(name)
        if ln == "setenvironmentvariable":
            if args[1] is None or to_string(args[1]) == "":
                del rt.ctx.env[to_string(args[0])]
            else:
                rt.ctx.env[to_string(args[0])] = to_string(args[1])
            return VOID
        if ln == "getenvironmentvariables":
            return Hashtable(rt.ctx.env.items())
        if ln == "exit":
            from .runtime import FlowExit
            raise FlowExit(to_int(args[0]))
        return NotImplemented
    if full == "System.Math":
        import math
        if ln == "round":
            v = float(to_number(args[0]))
            if n > 1 and isinstance(args[1], int) and not isinstance(args[1], EnumValue):
                return round(v, args[1])
            return float(round(v))
        fns = {"floor": math.floor, "ceiling": math.ceil, "abs": abs, "sqrt": math.sqrt, "truncate": math.trunc}
        if ln in fns:
            r = fns[ln](to_number(args[0]))
            return float(r) if ln in ("floor", "ceiling", "truncate") and isinstance(to_number(args[0]), float) else r
        if ln == "max":
            return max(to_number(args[0]), to_number(args[1]))
        if ln == "min":
            return min(to_number(args[0]), to_number(args[1]))
        if ln == "pow":
            return float(to_number(args[0])) ** float(to_number(args[1]))
        return NotImplemented
    if full == "System.String":
        if ln == "join":
            sep = to_string(args[0])
            items = []
            for a in args[1:]:
                items.extend(enumerate_value(a) if isinstance(a, (list, bytes)) else [a])
            return sep.join(to_string(x) for x in items)
        if ln == "isnullorempty":
            return args[0] is None or to_string(args[0]) == ""
        if ln == "isnullorwhitespace":
            return args[0] is None or to_string(args[0]).strip() == ""
        if ln == "format":
            from .netformat import composite_format
            fargs = args[1:] if not (n == 2 and isinstance(args[1], list)) else args[1]
            return composite_format(rt, to_string(args[0]), list(fargs))
        if ln == "concat":
            return "".join(to_string(a) for a in args)
        if ln == "equals":
            return to_string(args[0]) == to_string(args[1])
        if ln == "compare":
            a, b = to_string(args[0]), to_string(args[1])
            if n > 2 and to_bool(args[2]) is True and not isinstance(args[2], EnumValue):
                a, b = a.lower(), b.lower()
            return (a > b) - (a < b)
        return NotImplemented
    if full in ("System.Int32", "System.Int64", "System.Double", "System.Byte"):
        if ln == "parse":
            from .convert import convert_full
            s = to_string(args[0])
            try:
                return convert_full(rt, s, full)
            except ConversionError:
                raise NetError("System.FormatException", "Input string was not in a correct format.") from None
        return NotImplemented
    if full == "System.BitConverter":
        if ln == "tostring":
            b = args[0]
            if not isinstance(b, (bytes, bytearray)):
                b = bytes(to_int(x) & 0xFF for x in enumerate_value(b))
            return "-".join(f"{x:02X}" for x in b)
        return NotImplemented
    if full == "System.Guid":
        from .convert import GuidValue
        if ln == "newguid":
            return GuidValue(str(uuid.uuid4()))
        if ln == "parse":
            return GuidValue(str(uuid.UUID(to_string(args[0]))))
        return NotImplemented
    if full == "System.Text.RegularExpressions.Regex":
        if ln == "escape":
            return re.sub(r"([\\*+?|{\[()^$.#\s])", r"\\\1", to_string(args[0])).replace("\t", "\\t").replace(
                "\n", "\\n")
        rx = RegexObj(to_string(args[1]), ignore_case=n > 2 and "ignorecase" in to_string(args[-1]).lower())
        if ln in ("ismatch", "match", "matches", "split"):
            return rx.call(rt, ln, [args[0]])
        if ln == "replace":
            return rx.call(rt, "replace", [args[0], args[2]])
        return NotImplemented
    if full == "System.Threading.Thread":
        if ln == "sleep":
            v = args[0]
            secs = v.td.total_seconds() if isinstance(v, TimeSpan) else to_int(v) / 1000
            rt.ctx.sleep(secs)
            return VOID
        return NotImplemented
    if full == "System.Net.Dns":
        if ln == "gethostname":
            return rt.host.hostname
        return NotImplemented
    if full == "System.Diagnostics.Process":
        if ln == "getcurrentprocess":
            pi = rt.host.processes.get(rt.ctx.pid)
            return ProcessObj(rt, pi) if pi else None
        if ln == "getprocessbyid":
            pi = rt.host.processes.get(to_int(args[0]))
            if pi is None:
                raise NetError("System.ArgumentException", f"Process with an Id of {to_int(args[0])} is not running.")
            return ProcessObj(rt, pi)
        return NotImplemented
    if full == "System.Diagnostics.Stopwatch":
        if ln == "startnew":
            s = Stopwatch()
            s.call(rt, "start", [])
            return s
        return NotImplemented
    if full.startswith("System.Security.Cryptography."):
        algo = full.rsplit(".", 1)[-1].lower()
        if ln == "create":
            if algo == "hashalgorithm":
                algo = to_string(args[0]).lower() if args else "sha1"
            if algo in ("sha256", "sha1", "md5", "sha384", "sha512"):
                return Hasher(algo)
        return NotImplemented
    if full in ENUMS:
        if ln == "parse":
            return enum(full, enum_arg(args[-1], full))
        return NotImplemented
    return NotImplemented


def enum_or_str(v):
    return (v.name if isinstance(v, EnumValue) else to_string(v)).lower()


def _filestream_mode(rt, p, mode):
    fs = rt.host.fs
    real = fs.real(p)
    if real.is_dir():
        raise NetError("System.UnauthorizedAccessException", f"Access to the path '{p}' is denied.")
    if not real.parent.is_dir():
        raise NetError("System.IO.DirectoryNotFoundException", f"Could not find a part of the path '{p}'.")
    if mode == "CreateNew" and real.exists():
        raise NetError("System.IO.IOException", f"The file '{p}' already exists.")
    if mode in ("Open", "Truncate") and not real.exists():
        raise NetError("System.IO.FileNotFoundException", f"Could not find file '{p}'.")
    if mode in ("Create", "CreateNew", "Truncate"):
        return FileStream(rt, p, "c")
    if mode == "Append":
        return FileStream(rt, p, "a")
    if not real.exists():
        real.write_bytes(b"")
    return FileStream(rt, p, "rw")


def construct(rt, full, args):
    n = len(args)
    if full == "System.IO.FileStream":
        p = _net_path(rt, args[0] if args else None)
        mode = enum_arg(args[1], "System.IO.FileMode") if n > 1 else "Open"
        return _filestream_mode(rt, p, mode)
    if full in ("System.Collections.ArrayList", "System.Collections.Generic.List"):
        return ArrayListObj(enumerate_value(args[0]) if args and isinstance(args[0], list) else [],
                            generic=full.endswith("List"))
    if full == "System.Text.StringBuilder":
        return StringBuilder(to_string(args[0]) if args else "")
    if full == "System.Text.UTF8Encoding":
        e = ENCODINGS["utf8"]()
        if args and not to_bool(args[0]):
            e.bom = b""
        return e
    if full == "System.Diagnostics.Stopwatch":
        return Stopwatch()
    if full == "System.Text.RegularExpressions.Regex":
        return RegexObj(to_string(args[0]), ignore_case=n > 1 and "ignorecase" in to_string(args[1]).lower())
    if full == "System.Version":
        return Version.parse(".".join(to_string(a) for a in args)) if n > 1 else Version.parse(to_string(args[0]))
    if full == "System.Object":
        return PSObject()
    if full.startswith("System.Byte[") or full == "System.Byte[]":
        return bytearray(to_int(args[0]))
    if full == "System.Management.Automation.PSObject":
        return PSObject()
    if full == "System.Collections.Hashtable":
        return Hashtable()
    if full == "System.Guid":
        from .convert import GuidValue
        return GuidValue(str(uuid.UUID(to_string(args[0]))))
    raise NetError("System.Management.Automation.PSArgumentException",
                   f"Cannot create an instance of [{full}] with this emulator's .NET subset.")


def path_method(rt, ln, args):
    n = len(args)
    env = rt.ctx.env
    if ln == "gettemppath":
        t = env.get("TMP") or env.get("TEMP") or env.get("USERPROFILE") or r"C:\Windows"
        return t.rstrip("\\") + "\\"
    if ln == "getrandomfilename":
        alphabet = "abcdefghijklmnopqrstuvwxyz012345"
        s = "".join(random.choice(alphabet) for _ in range(11))
        return s[:8] + "." + s[8:]
    if ln == "gettempfilename":
        d = path_method(rt, "gettemppath", [])
        fs = rt.host.fs
        while True:
            name = f"tmp{random.randint(0, 0xFFFF):X}.tmp"
            p = d + name
            if not fs.exists(p):
                fs.write_bytes(p, b"")
                return p
    if ln == "combine":
        if any(a is None for a in args):
            raise NetError("System.ArgumentNullException", "Value cannot be null.\r\nParameter name: paths")
        parts = [to_string(a) for a in (args[0] if n == 1 and isinstance(args[0], list) else args)]
        out = ""
        for p in parts:
            if p == "":
                continue
            if wp.is_rooted(p) or not out:
                out = p
            elif out.endswith(("\\", "/", ":")):
                out += p
            else:
                out += "\\" + p
        return out
    if args and args[0] is None:
        return None
    s = to_string(args[0]) if args else ""
    if ln == "getfilename":
        return re.split(r"[\\/:]", s)[-1]
    if ln == "getfilenamewithoutextension":
        name = re.split(r"[\\/:]", s)[-1]
        i = name.rfind(".")
        return name if i < 0 else name[:i]
    if ln == "getextension":
        name = re.split(r"[\\/:]", s)[-1]
        i = name.rfind(".")
        return "" if i < 0 or i == len(name) - 1 else name[i:]
    if ln == "getdirectoryname":
        if s == "":
            raise NetError("System.ArgumentException", "The path is not of a legal form.")
        t = s.replace("/", "\\")
        if re.fullmatch(r"[A-Za-z]:\\?", t) or t in ("\\",):
            return None
        i = t.rfind("\\")
        if i < 0:
            return ""
        d = t[:i]
        if re.fullmatch(r"[A-Za-z]:", d):
            return d + "\\"
        return d
    if ln == "getfullpath":
        return _net_path(rt, s)
    if ln == "ispathrooted":
        return wp.is_rooted(s)
    if ln == "haseextension" or ln == "hasextension":
        return path_method(rt, "getextension", args) != ""
    if ln == "getpathroot":
        return s[:3] if wp.is_fully_qualified(s) else ""
    if ln == "changeextension":
        name = s
        i = name.rfind(".")
        base = name if i < 0 or "\\" in name[i:] else name[:i]
        ext = to_string(args[1]) if n > 1 and args[1] is not None else ""
        return base + (("." + ext.lstrip(".")) if ext else "")
    return NotImplemented


def from_base64(s):
    if s is None:
        raise NetError("System.ArgumentNullException", "Value cannot be null.\r\nParameter name: s")
    s = to_string(s)
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        pass
    t = re.sub(r"[ \t\r\n]", "", s)
    if len(t) % 4:
        raise NetError("System.FormatException", "Invalid length for a Base-64 char array or string.")
    try:
        return base64.b64decode(t, validate=True)
    except (binascii.Error, ValueError):
        raise NetError("System.FormatException", "The input is not a valid Base-64 string as it contains a non-base "
                       "64 character, more than two padding characters, or an illegal character among the padding "
                       "characters. ") from None


def _decode_detect(data: bytes, enc=None) -> str:
    """StreamReader default: UTF-8, with BOM detection (File.ReadAllText)."""
    if isinstance(enc, Encoding):
        return data.decode(enc.codec, errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(b"\xfe\xff"):
        return data[2:].decode("utf-16-be", errors="replace")
    return data.decode("utf-8", errors="replace")
