"""Cmdlets of the subset (Windows PowerShell 5.1 reference pages on learn.microsoft.com, module
Microsoft.PowerShell.Management / .Utility / .Core and CimCmdlets).  Error texts are the ones these cmdlets
write (e.g. Get-Item: "Cannot find path 'C:\\x' because it does not exist.", ItemNotFoundException,
FullyQualifiedErrorId PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand).

Notable documented behaviours encoded here:
* Get-FileHash (5.1 is a script function in Microsoft.PowerShell.Utility.psm1): paths go through
  Resolve-Path (so a missing file is Resolve-Path's PathNotFound error), directories are skipped, output is
  [PSCustomObject]@{Algorithm; Hash (uppercase hex, BitConverter without dashes); Path}, default SHA256.
* Get-CimInstance -Filter is a WQL WHERE clause (see wql.py).
* Get-Service -Name takes service names (wildcards allowed); a missing name is "Cannot find any service with
  service name 'x'." (NoServiceFoundForGivenName).  Start-Service on a running service and Stop-Service on a
  stopped one do nothing.
* Get-Content / Set-Content default to the ANSI code page (Windows-1252) in 5.1 ("Default" encoding),
  Out-File and ">" to Unicode (UTF-16 LE); -Encoding UTF8 writes a BOM in 5.1.
* ConvertTo-Json: default -Depth 2 (formatting.py).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time

from .. import paths as wp
from .invoke import CmdletDef, P
from .members import CimInstance, FileSystemInfo, PathInfo, ProcessObj, ServiceController, construct
from .runtime import PSError, enumerate_value, unwrap
from .values import (
    VOID,
    ConversionError,
    DateTime,
    EnumValue,
    ErrorRecord,
    Hashtable,
    NetException,
    NetObject,
    PSObject,
    ScriptBlock,
    compare,
    eq,
    has_wildcard,
    like,
    to_bool,
    to_int,
    to_number,
    to_string,
    type_full,
    wildcard_regex,
)

CMDLETS: dict[str, CmdletDef] = {}

ALIASES = {
    "%": "ForEach-Object", "foreach": "ForEach-Object", "?": "Where-Object", "where": "Where-Object",
    "select": "Select-Object", "sort": "Sort-Object", "measure": "Measure-Object", "echo": "Write-Output",
    "write": "Write-Output", "cat": "Get-Content", "gc": "Get-Content", "type": "Get-Content",
    "sc": "Set-Content", "ac": "Add-Content", "dir": "Get-ChildItem", "ls": "Get-ChildItem", "gci": "Get-ChildItem",
    "gi": "Get-Item", "ni": "New-Item", "cp": "Copy-Item", "copy": "Copy-Item", "cpi": "Copy-Item",
    "mv": "Move-Item", "move": "Move-Item", "mi": "Move-Item", "rm": "Remove-Item", "del": "Remove-Item",
    "erase": "Remove-Item", "rd": "Remove-Item", "rmdir": "Remove-Item", "ri": "Remove-Item",
    "gsv": "Get-Service", "sasv": "Start-Service", "spsv": "Stop-Service", "gps": "Get-Process",
    "ps": "Get-Process", "kill": "Stop-Process", "spps": "Stop-Process", "start": "Start-Process",
    "saps": "Start-Process", "gcim": "Get-CimInstance", "gwmi": "Get-WmiObject", "cd": "Set-Location",
    "chdir": "Set-Location", "sl": "Set-Location", "pwd": "Get-Location", "gl": "Get-Location",
    "sleep": "Start-Sleep", "rvpa": "Resolve-Path", "gcm": "Get-Command", "oh": "Out-Host", "sls": "Select-String",
}

# Commands that exist in Windows PowerShell 5.1 but are outside this emulator's subset (diagnostics only).
REAL_BUT_UNSUPPORTED = {
    "invoke-expression", "iex", "invoke-webrequest", "iwr", "invoke-restmethod", "irm", "format-table", "ft",
    "format-list", "fl", "get-member", "gm", "get-itemproperty", "gp", "set-itemproperty", "sp",
    "new-itemproperty", "get-wmiobject", "invoke-cimmethod", "test-connection", "test-netconnection",
    "compress-archive", "expand-archive", "get-acl", "set-acl", "get-eventlog", "get-winevent", "export-csv",
    "import-csv", "convertto-csv", "convertfrom-csv", "tee-object", "tee",
    "group-object", "group", "compare-object", "diff", "new-service", "set-service", "remove-service",
    "wait-process", "get-host", "read-host", "add-member", "get-variable", "set-variable", "new-variable",
    "remove-variable", "clear-content", "rename-item", "ren", "rni", "test-wsman", "invoke-command", "icm",
    "enter-pssession", "new-pssession", "get-filehash2", "unblock-file", "get-psdrive", "new-psdrive",
    "register-scheduledtask", "get-scheduledtask", "start-job", "wait-job", "receive-job",
}


def cmdlet(name, params, noun_type=None):
    def deco(fn):
        CMDLETS[name.lower()] = CmdletDef(name, params, fn, noun_type)
        return fn
    return deco


# ------------------------------------------------------------------------------------------------ helpers
PROVIDER_RE = re.compile(r"^(?:Microsoft\.PowerShell\.Core\\)?FileSystem::", re.IGNORECASE)


def err(rt, cdef, cmd, b, exc_type, message, eid, category, target=None, target_type=None, target_text=None,
        terminating=False, activity=None):
    rec = rt.make_record(exc_type, message, f"{eid},{cdef.full}", category, target, node=cmd, command=cdef.name,
                         target_type=target_type, target_text=target_text,
                         activity=activity if activity is not None else cdef.name)
    if terminating:
        raise PSError(rec)
    rt.write_error(rec, b.ea if b is not None else None)


def not_found(rt, cdef, cmd, b, path):
    err(rt, cdef, cmd, b, "System.Management.Automation.ItemNotFoundException",
        f"Cannot find path '{path}' because it does not exist.", "PathNotFound", "ObjectNotFound", target=path,
        target_type="String")


def ps_full(rt, p: str, cdef=None, cmd=None, b=None) -> str | None:
    p = PROVIDER_RE.sub("", p)
    try:
        return rt.host.fs.full(p, rt.cwd)
    except wp.WinPathError as e:
        if cdef is not None:
            err(rt, cdef, cmd, b, "System.Management.Automation.DriveNotFoundException", str(e), "DriveNotFound",
                "ObjectNotFound", target=e.drive, target_type="String")
        return None


def item_path(v) -> str:
    if isinstance(v, FileSystemInfo):
        return v.path
    if isinstance(v, PathInfo):
        return v.path
    if isinstance(v, PSObject):
        for k in ("PSPath", "FullName", "Path", "LiteralPath"):
            if k in v.props:
                return to_string(v.props[k])
    return to_string(v)


def paths_of(rt, b, inp, literal_name="LiteralPath", path_name="Path"):
    """(paths, literal?) from -Path / -LiteralPath or pipeline input."""
    if b.get(literal_name) is not None:
        return [item_path(x) for x in enumerate_value(b.get(literal_name))], True
    if b.get(path_name) is not None:
        return [item_path(x) for x in enumerate_value(b.get(path_name))], False
    if inp:
        lit = any(isinstance(x, (FileSystemInfo, PSObject)) for x in inp)
        return [item_path(x) for x in inp], lit
    return None, False


def expand(rt, cdef, cmd, b, path: str, literal: bool, must_exist=True) -> list[str]:
    """Resolve a provider path: literal, or with wildcards (about_Wildcards)."""
    full = ps_full(rt, path, cdef, cmd, b)
    if full is None:
        return []
    fs = rt.host.fs
    if literal or not has_wildcard(path):
        if must_exist and not fs.exists(full):
            not_found(rt, cdef, cmd, b, full if wp.is_rooted(path) else full)
            return []
        return [fs.display(full) if fs.exists(full) else full]
    # wildcard expansion, component by component
    drive, rest = full[:2], full[3:]
    cur = [drive + "\\"]
    for comp in [c for c in rest.split("\\") if c]:
        nxt = []
        for d in cur:
            if has_wildcard(comp):
                rx = wildcard_regex(comp)
                try:
                    names = sorted((x.name for x in fs.real(d).iterdir()), key=str.lower)
                except OSError:
                    names = []
                nxt += [wp.join(d, n) for n in names if rx.match(n)]
            else:
                p = wp.join(d, comp)
                if fs.exists(p):
                    nxt.append(fs.display(p))
        cur = nxt
    if not cur and must_exist:
        not_found(rt, cdef, cmd, b, full)
    return cur


def write_enc(name, default: str):
    """-Encoding of Set-Content/Add-Content/Out-File in Windows PowerShell 5.1 (FileSystemCmdletProviderEncoding)."""
    n = (name or default).lower()
    table = {"unicode": ("utf-16-le", b"\xff\xfe"), "string": ("utf-16-le", b"\xff\xfe"),
             "bigendianunicode": ("utf-16-be", b"\xfe\xff"), "utf8": ("utf-8", b"\xef\xbb\xbf"),
             "utf7": ("utf-7", b""), "utf32": ("utf-32-le", b"\xff\xfe\x00\x00"), "ascii": ("ascii", b""),
             "default": ("cp1252", b""), "oem": ("cp437", b""), "unknown": ("utf-16-le", b"\xff\xfe"),
             "byte": ("byte", b"")}
    return table.get(n, table["default"])


def read_text(data: bytes, enc_name=None) -> str:
    if enc_name:
        codec, bom = write_enc(enc_name, "default")
        if bom and data.startswith(bom):
            data = data[len(bom):]
        return data.decode(codec, errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(b"\xfe\xff"):
        return data[2:].decode("utf-16-be", errors="replace")
    return data.decode("cp1252", errors="replace")


# ------------------------------------------------------------------------------------------------ output
@cmdlet("Write-Output", [P("InputObject", "remaining", 0), P("NoEnumerate", "switch")])
def write_output(rt, b, inp, cmd, cdef):
    if b.has("InputObject"):
        v = b.get("InputObject")
        if b.get("NoEnumerate"):
            return [v]
        return enumerate_value(v) if isinstance(v, list) else [v]
    return list(inp or [])


@cmdlet("Out-Null", [P("InputObject", "object")])
def out_null(rt, b, inp, cmd, cdef):
    return []


@cmdlet("Out-Default", [P("InputObject", "object")])
def out_default(rt, b, inp, cmd, cdef):
    for x in (inp or []):
        rt.out.append(x)
    rt.out.flush()
    return []


@cmdlet("Out-Host", [P("InputObject", "object"), P("Paging", "switch")])
def out_host(rt, b, inp, cmd, cdef):
    return out_default(rt, b, inp, cmd, cdef)


@cmdlet("Out-String", [P("InputObject", "object"), P("Width", "int"), P("Stream", "switch")])
def out_string_cmd(rt, b, inp, cmd, cdef):
    from .formatting import out_string
    items = list(inp or []) if not b.has("InputObject") else [b.get("InputObject")]
    text = out_string(rt, items)
    if b.get("Stream"):
        lines = text.split("\r\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines
    return [text]


@cmdlet("Write-Host", [P("Object", "remaining", 0), P("NoNewline", "switch"), P("Separator", "object"),
                       P("ForegroundColor", "string"), P("BackgroundColor", "string")])
def write_host(rt, b, inp, cmd, cdef):
    # Write-Host writes to the host (console stdout), not to the pipeline.
    obj = b.get("Object")
    sep = to_string(b.get("Separator")) if b.has("Separator") else " "
    text = sep.join(to_string(x) for x in enumerate_value(obj)) if isinstance(obj, list) else to_string(obj)
    rt.out.flush()
    rt.ctx.out(text + ("" if b.get("NoNewline") else "\r\n"))
    return []


@cmdlet("Write-Warning", [P("Message", "string", 0)])
def write_warning(rt, b, inp, cmd, cdef):
    pref = to_string(rt.get_var("WarningPreference") or "Continue").lower()
    if (b.ea or pref) in ("silentlycontinue", "ignore") or pref in ("silentlycontinue", "ignore"):
        return []
    rt.out.flush()
    rt.err_writer.write_stream("warning", "WARNING: " + to_string(b.get("Message")))
    return []


@cmdlet("Write-Verbose", [P("Message", "string", 0)])
def write_verbose(rt, b, inp, cmd, cdef):
    if b.get("Verbose") or to_string(rt.get_var("VerbosePreference")).lower() == "continue":
        rt.err_writer.write_stream("verbose", "VERBOSE: " + to_string(b.get("Message")))
    return []


@cmdlet("Write-Debug", [P("Message", "string", 0)])
def write_debug(rt, b, inp, cmd, cdef):
    return []


@cmdlet("Write-Progress", [P("Activity", "string", 0), P("Status", "string", 1), P("PercentComplete", "int"),
                           P("Completed", "switch"), P("Id", "int"), P("CurrentOperation", "string")])
def write_progress(rt, b, inp, cmd, cdef):
    # ASSUMPTION: progress records are not serialized to the output (only visible in an interactive host).
    return []


@cmdlet("Write-Error", [P("Message", "string", 0), P("Exception", "object"), P("ErrorRecord", "object"),
                        P("Category", "string"), P("ErrorId", "string"), P("TargetObject", "object"),
                        P("RecommendedAction", "string"), P("CategoryActivity", "string"),
                        P("CategoryReason", "string"), P("CategoryTargetName", "string"),
                        P("CategoryTargetType", "string")])
def write_error_cmd(rt, b, inp, cmd, cdef):
    if isinstance(b.get("ErrorRecord"), ErrorRecord):
        rt.write_error(b.get("ErrorRecord"), b.ea)
        return []
    msg = b.get("Message")
    exc = b.get("Exception")
    if isinstance(exc, NetException):
        e = exc
        if msg:
            e = NetException(exc.type_name, msg)
    else:
        if msg is None and inp:
            msg = to_string(inp[0])
        e = NetException("Microsoft.PowerShell.Commands.WriteErrorException", msg or "")
    cat = b.get("Category") or "NotSpecified"
    eid = b.get("ErrorId") or ("Microsoft.PowerShell.Commands.WriteErrorException" if not isinstance(exc, NetException)
                               else e.type_name)
    # ASSUMPTION: Windows PowerShell shows the invoking command line (the script text for -Command /
    # -EncodedCommand, or the function name inside a function) as the "X : message" prefix.
    inside = len(rt.scopes) > 1
    prefix_cmd = getattr(rt, "current_function", None) if inside else rt.script.strip()
    rec = ErrorRecord(e, eid if b.has("ErrorId") else eid, cat, b.get("TargetObject"),
                      activity="Write-Error", command=prefix_cmd or "Write-Error",
                      extent=(cmd.start, cmd.end) if inside else None, script=rt.script)
    rec.write_error_prefix = True
    rt.write_error(rec, b.ea)
    return []


# ------------------------------------------------------------------------------------------------ pipeline
@cmdlet("Where-Object", [P("FilterScript", "object", 0), P("Property", "string"), P("Value", "object", 1),
                         P("InputObject", "object")] + [P(op, "switch") for op in (
    "EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch", "Contains", "NotContains", "In",
    "NotIn", "CEQ", "CNE", "CLike", "CMatch", "Is", "IsNot", "Not")])
def where_object(rt, b, inp, cmd, cdef):
    items = list(inp or []) if not b.has("InputObject") else enumerate_value(b.get("InputObject"))
    fs = b.get("FilterScript")
    out = []
    if isinstance(fs, ScriptBlock):
        for it in items:
            if to_bool(unwrap(rt.call_scriptblock(fs, it))):
                out.append(it)
        return out
    prop = b.get("Property") or (to_string(fs) if fs is not None else None)
    op = next((o for o in ("EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch", "Contains",
                           "NotContains", "In", "NotIn", "CEQ", "CNE", "CLike", "CMatch", "Not")
               if b.get(o)), None)
    from .operators import binop
    for it in items:
        v = rt.members.get(it, prop)
        if op is None:
            ok = to_bool(v)
        elif op == "Not":
            ok = not to_bool(v)
        else:
            ok = to_bool(binop(rt, op.lower(), v, b.get("Value"), cmd))
        if ok:
            out.append(it)
    return out


@cmdlet("ForEach-Object", [P("Process", "object", 0), P("Begin", "object"), P("End", "object"),
                           P("MemberName", "string"), P("ArgumentList", "object[]"), P("InputObject", "object"),
                           P("RemainingScripts", "object")])
def foreach_object(rt, b, inp, cmd, cdef):
    items = list(inp or []) if not b.has("InputObject") else [b.get("InputObject")]
    proc = b.get("Process")
    out = []
    if isinstance(b.get("Begin"), ScriptBlock):
        out += rt.call_scriptblock(b.get("Begin"), None)
    if isinstance(proc, list) and proc and isinstance(proc[0], ScriptBlock):
        proc = proc[0]
    if isinstance(proc, ScriptBlock):
        for it in items:
            out += rt.call_scriptblock(proc, it)
    elif proc is not None or b.get("MemberName"):
        member = b.get("MemberName") or to_string(proc)
        for it in items:
            args = b.get("ArgumentList")
            if args:
                r = rt.members.call(it, member, list(args), cmd)
            else:
                r = rt.members.get(it, member, cmd)
            if r is not VOID:
                out += enumerate_value(r) if isinstance(r, list) else [r]
    if isinstance(b.get("End"), ScriptBlock):
        out += rt.call_scriptblock(b.get("End"), None)
    return out


def _prop_value(rt, it, spec, cmd):
    if isinstance(spec, ScriptBlock):
        return unwrap(rt.call_scriptblock(spec, it))
    return rt.members.get(it, to_string(spec), cmd)


def _calc(spec):
    """@{Name=..;Expression=..} (n/name/l/label, e/expression)."""
    name = expr = None
    for k, v in spec.items():
        lk = to_string(k).lower()
        if lk in ("n", "name", "l", "label") or ("name".startswith(lk) and lk) or "label".startswith(lk):
            name = to_string(v)
        elif "expression".startswith(lk):
            expr = v
    return name, expr


@cmdlet("Select-Object", [P("Property", "object[]", 0), P("First", "int"), P("Last", "int"), P("Skip", "int"),
                          P("ExpandProperty", "string"), P("Unique", "switch"), P("Index", "object[]"),
                          P("ExcludeProperty", "string[]"), P("InputObject", "object")])
def select_object(rt, b, inp, cmd, cdef):
    items = list(inp or []) if not b.has("InputObject") else [b.get("InputObject")]
    if b.get("Unique"):
        uniq = []
        for it in items:
            if not any(eq(it, u) for u in uniq):
                uniq.append(it)
        items = uniq
    if b.has("Skip"):
        items = items[b.get("Skip"):]
    if b.has("Index"):
        idx = [to_int(i) for i in b.get("Index")]
        items = [items[i] for i in idx if -len(items) <= i < len(items)]
    if b.has("First") or b.has("Last"):
        sel = []
        if b.has("First"):
            sel += items[:b.get("First")]
        if b.has("Last"):
            n = b.get("Last")
            sel += items[-n:] if n else []
        items = sel
    props = b.get("Property")
    out = []
    if props:
        for it in items:
            o = PSObject(type_names=["Selected." + type_full(it), "System.Management.Automation.PSCustomObject",
                                     "System.Object"])
            for spec in props:
                if isinstance(spec, Hashtable):
                    name, expr = _calc(spec)
                    o.props[name or to_string(expr)] = _prop_value(rt, it, expr, cmd)
                    continue
                s = to_string(spec)
                if has_wildcard(s):
                    names = _all_props(it)
                    for n in names:
                        if like(n, s):
                            o.props[n] = rt.members.get(it, n, cmd)
                else:
                    o.props[_canon_prop(it, s)] = rt.members.get(it, s, cmd)
            out.append(o)
        items = out
    if b.get("ExpandProperty"):
        name = b.get("ExpandProperty")
        res = []
        for it in items:
            v = rt.members.get(it, name, cmd)
            if v is None and not _has_prop(it, name):
                err(rt, cdef, cmd, b, "System.Management.Automation.PSArgumentException",
                    f'Property "{name}" cannot be found.', "ExpandPropertyNotFound", "InvalidArgument",
                    target=it, target_type=type_full(it).rsplit(".", 1)[-1])
                continue
            res += enumerate_value(v) if isinstance(v, list) else [v]
        return res
    return items


def _all_props(it):
    if isinstance(it, PSObject):
        return it.props.keys()
    if isinstance(it, Hashtable):
        return ["IsReadOnly", "IsFixedSize", "IsSynchronized", "Keys", "Values", "SyncRoot", "Count"]
    if isinstance(it, NetObject):
        return [k for k, v in it.props()]
    return []


def _has_prop(it, name):
    return any(n.lower() == name.lower() for n in _all_props(it))


def _canon_prop(it, name):
    for n in _all_props(it):
        if n.lower() == name.lower():
            return n
    return name


@cmdlet("Sort-Object", [P("Property", "object[]", 0), P("Descending", "switch"), P("Unique", "switch"),
                        P("InputObject", "object")])
def sort_object(rt, b, inp, cmd, cdef):
    import functools
    items = list(inp or [])
    props = b.get("Property")

    def key_of(it):
        if not props:
            return [it]
        return [_prop_value(rt, it, p if not isinstance(p, Hashtable) else _calc(p)[1], cmd) for p in props]

    def cmpf(x, y):
        for a, c in zip(key_of(x), key_of(y), strict=False):
            try:
                r = compare(a, c)
            except ConversionError:
                r = compare(to_string(a), to_string(c))
            if r:
                return r
        return 0

    res = sorted(items, key=functools.cmp_to_key(cmpf), reverse=bool(b.get("Descending")))
    if b.get("Unique"):
        u = []
        for it in res:
            if not u or cmpf(u[-1], it) != 0:
                u.append(it)
        res = u
    return res


@cmdlet("Measure-Object", [P("Property", "string[]", 0), P("Sum", "switch"), P("Average", "switch"),
                           P("Maximum", "switch"), P("Minimum", "switch"), P("InputObject", "object")])
def measure_object(rt, b, inp, cmd, cdef):
    items = list(inp or [])
    prop = (b.get("Property") or [None])[0]
    vals = [rt.members.get(x, prop) if prop else x for x in items]
    nums = []
    for v in vals:
        try:
            nums.append(to_number(v))
        except ConversionError:
            pass
    o = PSObject([("Count", len(items)), ("Average", (sum(nums) / len(nums)) if b.get("Average") and nums else None),
                  ("Sum", sum(nums) if b.get("Sum") else None),
                  ("Maximum", max(nums) if b.get("Maximum") and nums else None),
                  ("Minimum", min(nums) if b.get("Minimum") and nums else None), ("Property", prop)],
                 type_names=["Microsoft.PowerShell.Commands.GenericMeasureInfo"])
    return [o]


@cmdlet("ConvertTo-Json", [P("InputObject", "object", 0), P("Depth", "int"), P("Compress", "switch")])
def convertto_json(rt, b, inp, cmd, cdef):
    from .formatting import to_json
    if b.has("InputObject"):
        v = b.get("InputObject")
    else:
        items = list(inp or [])
        if not items and inp is None:
            return []
        v = items[0] if len(items) == 1 else items
    return [to_json(rt, v, b.get("Depth") if b.has("Depth") else 2, bool(b.get("Compress")))]


@cmdlet("ConvertFrom-Json", [P("InputObject", "object", 0)])
def convertfrom_json(rt, b, inp, cmd, cdef):
    text = to_string(b.get("InputObject")) if b.has("InputObject") else "\n".join(to_string(x) for x in inp or [])
    try:
        data = json.loads(text)
    except ValueError:
        err(rt, cdef, cmd, b, "System.ArgumentException", f"Invalid JSON primitive: {text[:20]}.",
            "System.ArgumentException", "NotSpecified", terminating=True)

    def conv(v):
        if isinstance(v, dict):
            return PSObject([(k, conv(x)) for k, x in v.items()])
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    r = conv(data)
    return [r] if not isinstance(r, list) else [r]


@cmdlet("New-Object", [P("TypeName", "string", 0), P("ArgumentList", "object[]", 1), P("Property", "object"),
                       P("ComObject", "string")])
def new_object(rt, b, inp, cmd, cdef):
    tn = b.get("TypeName")
    if tn and tn.strip().lower() in ("psobject", "pscustomobject", "system.management.automation.psobject",
                                     "system.object", "object"):
        o = PSObject()
        prop = b.get("Property")
        if isinstance(prop, Hashtable):
            for k, v in prop.items():
                o.props[k] = v
        return [o]
    full = rt.type_fullname(tn) if tn else None
    if full is None:
        err(rt, cdef, cmd, b, "System.Management.Automation.PSArgumentException",
            f'Cannot find type [{tn}]: verify that the assembly containing this type is loaded.', "TypeNotFound",
            "InvalidType", terminating=True)
    from .runtime import NetError
    try:
        return [construct(rt, full, list(b.get("ArgumentList") or []))]
    except NetError as e:
        err(rt, cdef, cmd, b, "System.Management.Automation.MethodInvocationException",
            f'Exception calling ".ctor" with "{len(b.get("ArgumentList") or [])}" argument(s): "{e.exc.message}"',
            "ConstructorInvokedThrowException", "InvalidOperation", terminating=True)


class MatchInfo(NetObject):
    type_name = "Microsoft.PowerShell.Commands.MatchInfo"
    display_string = True

    def __init__(self, line, number, pattern, m):
        self.line, self.number, self.pattern, self.m = line, number, pattern, m

    def props(self):
        return [("IgnoreCase", True), ("LineNumber", self.number), ("Line", self.line), ("Filename", "InputStream"),
                ("Path", "InputStream"), ("Pattern", self.pattern), ("Context", None),
                ("Matches", [self.m.group(0)] if self.m else [])]

    def to_string(self):
        return self.line


@cmdlet("Select-String", [P("Pattern", "string[]", 0), P("InputObject", "object"), P("SimpleMatch", "switch"),
                          P("CaseSensitive", "switch"), P("NotMatch", "switch"), P("Quiet", "switch"),
                          P("Path", "string[]", 1), P("LiteralPath", "string[]")])
def select_string(rt, b, inp, cmd, cdef):
    from .values import net_regex
    pats = b.get("Pattern") or []
    cs = bool(b.get("CaseSensitive"))
    lines = []
    if b.get("Path") or b.get("LiteralPath"):
        for p in (b.get("LiteralPath") or b.get("Path")):
            for full in expand(rt, cdef, cmd, b, p, bool(b.get("LiteralPath"))):
                lines += re.split(r"\r\n|\n", read_text(rt.host.fs.read_bytes(full)))
    else:
        src = [b.get("InputObject")] if b.has("InputObject") else list(inp or [])
        lines = [to_string(x) for x in src]
    out = []
    for n, line in enumerate(lines, 1):
        m = None
        for pat in pats:
            if b.get("SimpleMatch"):
                hay, needle = (line, pat) if cs else (line.lower(), pat.lower())
                i = hay.find(needle)
                m = re.search(re.escape(line[i:i + len(pat)]), line) if i >= 0 else None
            else:
                m = net_regex(pat, cs).search(line)
            if m:
                break
        if bool(m) != bool(b.get("NotMatch")):
            out.append(MatchInfo(line, n, pats[0] if pats else "", m))
    if b.get("Quiet"):
        return [bool(out)]
    return out


# ------------------------------------------------------------------------------------------------ items
@cmdlet("Get-Item", [P("Path", "string[]", 0), P("LiteralPath", "string[]", aliases=("PSPath", "LP")),
                     P("Force", "switch"), P("Filter", "string"), P("Stream", "string[]")])
def get_item(rt, b, inp, cmd, cdef):
    paths, literal = paths_of(rt, b, inp)
    if paths is None:
        _missing_mandatory(rt, cdef, cmd, "Path")
    out = []
    for p in paths:
        for full in expand(rt, cdef, cmd, b, p, literal):
            out.append(FileSystemInfo(rt, full))
    return out


def _missing_mandatory(rt, cdef, cmd, name):
    rec = rt.make_record("System.Management.Automation.ParameterBindingException",
                         f"Cannot process command because of one or more missing mandatory parameters: {name}.",
                         f"MissingMandatoryParameter,{cdef.full}", "InvalidArgument", node=cmd, command=cdef.name)
    raise PSError(rec)


@cmdlet("Get-ChildItem", [P("Path", "string[]", 0), P("LiteralPath", "string[]", aliases=("PSPath", "LP")),
                          P("Filter", "string", 1), P("Recurse", "switch"), P("File", "switch"),
                          P("Directory", "switch"), P("Name", "switch"), P("Force", "switch"),
                          P("Include", "string[]"), P("Exclude", "string[]"), P("Depth", "int")])
def get_childitem(rt, b, inp, cmd, cdef):
    paths, literal = paths_of(rt, b, inp)
    if paths is None:
        paths, literal = [rt.cwd], True
    out = []
    fs = rt.host.fs
    flt = b.get("Filter")
    frx = wildcard_regex(flt) if flt else None
    inc = [wildcard_regex(x) for x in (b.get("Include") or [])]
    exc = [wildcard_regex(x) for x in (b.get("Exclude") or [])]

    def keep(name, is_dir):
        if b.get("File") and is_dir:
            return False
        if b.get("Directory") and not is_dir:
            return False
        if frx and not frx.match(name):
            return False
        if inc and not any(r.match(name) for r in inc):
            return False
        if exc and any(r.match(name) for r in exc):
            return False
        return True

    def walk(d, depth):
        try:
            entries = sorted(fs.real(d).iterdir(), key=lambda x: x.name.lower())
        except OSError:
            return
        for e in entries:
            p = wp.join(d, e.name)
            if keep(e.name, e.is_dir()):
                out.append(e.name if b.get("Name") else FileSystemInfo(rt, p, display_name=e.name))
            if b.get("Recurse") and e.is_dir() and (not b.has("Depth") or depth < b.get("Depth")):
                walk(p, depth + 1)

    for p in paths:
        for full in expand(rt, cdef, cmd, b, p, literal):
            if fs.is_dir(full):
                walk(full, 0)
            else:
                name = wp.leaf(full)
                if keep(name, False):
                    out.append(name if b.get("Name") else FileSystemInfo(rt, full, display_name=name))
    return out


@cmdlet("Test-Path", [P("Path", "object", 0), P("LiteralPath", "object", aliases=("PSPath", "LP")),
                      P("PathType", "string"), P("IsValid", "switch"), P("Filter", "string")])
def test_path(rt, b, inp, cmd, cdef):
    if b.has("LiteralPath"):
        vals, literal = b.get("LiteralPath"), True
    elif b.has("Path"):
        vals, literal = b.get("Path"), False
    elif inp:
        vals, literal = list(inp), True
    else:
        _missing_mandatory(rt, cdef, cmd, "Path")
    which = "LiteralPath" if literal and b.has("LiteralPath") else "Path"
    items = enumerate_value(vals) if isinstance(vals, list) else [vals]
    if vals is None or any(x is None for x in items):
        rec = rt.make_record("System.Management.Automation.ParameterBindingValidationException",
                             f"Cannot bind argument to parameter '{which}' because it is null.",
                             f"ParameterArgumentValidationErrorNullNotAllowed,{cdef.full}", "InvalidData",
                             node=cmd, command=cdef.name)
        raise PSError(rec)
    if any(to_string(x) == "" for x in items):
        rec = rt.make_record("System.Management.Automation.ParameterBindingValidationException",
                             f"Cannot bind argument to parameter '{which}' because it is an empty string.",
                             f"ParameterArgumentValidationErrorEmptyStringNotAllowed,{cdef.full}", "InvalidData",
                             node=cmd, command=cdef.name)
        raise PSError(rec)
    ptype = (b.get("PathType") or "Any").lower()
    out = []
    fs = rt.host.fs
    for x in items:
        s = item_path(x)
        if b.get("IsValid"):
            out.append(not any(c in s for c in '<>|"'))
            continue
        try:
            full = rt.host.fs.full(PROVIDER_RE.sub("", s), rt.cwd)
        except wp.WinPathError:
            out.append(False)
            continue
        if not literal and has_wildcard(s):
            found = expand(rt, cdef, cmd, None, s, False, must_exist=False)
        else:
            found = [full] if fs.exists(full) else []
        if ptype == "leaf":
            out.append(any(fs.is_file(f) for f in found))
        elif ptype == "container":
            out.append(any(fs.is_dir(f) for f in found))
        else:
            out.append(bool(found))
    return out


def _copy_tree(src, dst):
    shutil.copytree(src, dst, dirs_exist_ok=True)


@cmdlet("Copy-Item", [P("Path", "string[]", 0), P("LiteralPath", "string[]", aliases=("PSPath", "LP")),
                      P("Destination", "string", 1), P("Force", "switch"), P("Recurse", "switch"),
                      P("PassThru", "switch"), P("Container", "switch"), P("Filter", "string")])
def copy_item(rt, b, inp, cmd, cdef):
    paths, literal = paths_of(rt, b, inp)
    if paths is None:
        _missing_mandatory(rt, cdef, cmd, "Path")
    fs = rt.host.fs
    dest = ps_full(rt, b.get("Destination") or rt.cwd, cdef, cmd, b)
    if dest is None:
        return []
    out = []
    for p in paths:
        for src in expand(rt, cdef, cmd, b, p, literal):
            sreal = fs.real(src)
            target = wp.join(dest, wp.leaf(src)) if fs.is_dir(dest) else dest
            treal = fs.real(target)
            if not treal.parent.is_dir():
                err(rt, cdef, cmd, b, "System.IO.DirectoryNotFoundException",
                    f"Could not find a part of the path '{target}'.", "System.IO.DirectoryNotFoundException",
                    "NotSpecified", activity="Copy-Item")
                continue
            if sreal.is_dir():
                if wp.same(src, target):
                    continue
                if b.get("Recurse"):
                    _copy_tree(sreal, treal)
                else:
                    treal.mkdir(exist_ok=True)
            else:
                if treal.is_dir():
                    err(rt, cdef, cmd, b, "System.IO.IOException",
                        f"Cannot overwrite the item {src} with itself." if wp.same(src, target) else
                        f"The file '{target}' already exists.", "CopyError", "WriteError", target=src)
                    continue
                if wp.same(src, target):
                    err(rt, cdef, cmd, b, "System.IO.IOException", f"Cannot overwrite the item {src} with itself.",
                        "CopyError", "WriteError", target=src)
                    continue
                shutil.copyfile(sreal, treal)
            if b.get("PassThru"):
                out.append(FileSystemInfo(rt, target))
    return out


@cmdlet("Move-Item", [P("Path", "string[]", 0), P("LiteralPath", "string[]", aliases=("PSPath", "LP")),
                      P("Destination", "string", 1), P("Force", "switch"), P("PassThru", "switch")])
def move_item(rt, b, inp, cmd, cdef):
    paths, literal = paths_of(rt, b, inp)
    if paths is None:
        _missing_mandatory(rt, cdef, cmd, "Path")
    fs = rt.host.fs
    dest = ps_full(rt, b.get("Destination") or rt.cwd, cdef, cmd, b)
    if dest is None:
        return []
    out = []
    for p in paths:
        for src in expand(rt, cdef, cmd, b, p, literal):
            sreal = fs.real(src)
            target = wp.join(dest, wp.leaf(src)) if fs.is_dir(dest) and not wp.same(src, dest) else dest
            treal = fs.real(target)
            if not treal.parent.is_dir():
                err(rt, cdef, cmd, b, "System.IO.DirectoryNotFoundException",
                    "Could not find a part of the path.", "MoveFileInfoItemIOError", "WriteError", target=sreal.name,
                    target_text=src, target_type="FileInfo")
                continue
            if treal.exists() and not wp.same(src, target):
                if not b.get("Force") or treal.is_dir():
                    err(rt, cdef, cmd, b, "System.IO.IOException", "Cannot create a file when that file already "
                        "exists.", "MoveFileInfoItemIOError" if not sreal.is_dir() else "MoveDirectoryItemIOError",
                        "WriteError", target_text=src, target_type="DirectoryInfo" if sreal.is_dir() else "FileInfo")
                    continue
                treal.unlink()
            shutil.move(str(sreal), str(treal))
            if b.get("PassThru"):
                out.append(FileSystemInfo(rt, target))
    return out


@cmdlet("Remove-Item", [P("Path", "string[]", 0), P("LiteralPath", "string[]", aliases=("PSPath", "LP")),
                        P("Recurse", "switch"), P("Force", "switch"), P("Filter", "string"), P("Include", "string[]"),
                        P("Exclude", "string[]")])
def remove_item(rt, b, inp, cmd, cdef):
    paths, literal = paths_of(rt, b, inp)
    if paths is None:
        _missing_mandatory(rt, cdef, cmd, "Path")
    fs = rt.host.fs
    for p in paths:
        for full in expand(rt, cdef, cmd, b, p, literal):
            real = fs.real(full)
            if real.is_dir() and any(real.iterdir()) and not b.get("Recurse"):
                # Deleting a non-empty folder without -Recurse asks for confirmation; a non-interactive
                # host cannot prompt.
                err(rt, cdef, cmd, b, "System.Management.Automation.Host.HostException",
                    "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
                    "RemoveFileSystemItemUnAuthorizedAccess", "InvalidOperation", target=full)
                continue
            fs.remove(full)
    return []


@cmdlet("New-Item", [P("Path", "string[]", 0), P("Name", "string"), P("ItemType", "string", aliases=("Type",)),
                     P("Value", "object"), P("Force", "switch")])
def new_item(rt, b, inp, cmd, cdef):
    paths = b.get("Path") or [rt.cwd]
    fs = rt.host.fs
    out = []
    itype = (b.get("ItemType") or "File").lower()
    for p in paths:
        full = ps_full(rt, wp.join(p, b.get("Name")) if b.get("Name") else p, cdef, cmd, b)
        if full is None:
            continue
        real = fs.real(full)
        if itype in ("directory", "d"):
            if real.exists():
                if not b.get("Force") or real.is_file():
                    err(rt, cdef, cmd, b, "System.IO.IOException", f"An item with the specified name {full} already "
                        "exists.", "DirectoryExist", "ResourceExists", target=full, target_type="String")
                    continue
            else:
                real.mkdir(parents=True)
            out.append(FileSystemInfo(rt, full))
        elif itype in ("file", "f"):
            if real.exists() and not b.get("Force"):
                err(rt, cdef, cmd, b, "System.IO.IOException", f"The file '{full}' already exists.", "NewItemIOError",
                    "WriteError", target=full, target_type="String")
                continue
            if not real.parent.is_dir():
                if b.get("Force"):
                    real.parent.mkdir(parents=True)
                else:
                    err(rt, cdef, cmd, b, "System.IO.DirectoryNotFoundException",
                        f"Could not find a part of the path '{full}'.", "NewItemIOError", "WriteError", target=full,
                        target_type="String")
                    continue
            val = b.get("Value")
            real.write_bytes(to_string(val).encode("utf-8") if val is not None else b"")
            out.append(FileSystemInfo(rt, full))
        else:
            err(rt, cdef, cmd, b, "System.Management.Automation.PSArgumentException",
                "The type is not a known type for the file system. Only \"file\" and \"directory\" can be created.",
                "Argument", "InvalidArgument", terminating=True)
    return out


@cmdlet("Join-Path", [P("Path", "string[]", 0), P("ChildPath", "string", 1), P("Resolve", "switch")])
def join_path(rt, b, inp, cmd, cdef):
    paths = b.get("Path") or [to_string(x) for x in (inp or [])]
    child = b.get("ChildPath") or ""
    out = []
    for p in paths:
        d, _ = wp.split_drive(p)
        if d and not rt.host.fs.has_drive(d[0]):
            err(rt, cdef, cmd, b, "System.Management.Automation.DriveNotFoundException",
                f"Cannot find drive. A drive with the name '{d[0]}' does not exist.", "DriveNotFound",
                "ObjectNotFound", target=d[0], target_type="String")
            continue
        if not p:
            out.append(child)
            continue
        out.append(p.rstrip("\\/") + "\\" + child.lstrip("\\/") if child else (p if p.endswith("\\") else p + "\\"))
    return out


@cmdlet("Split-Path", [P("Path", "string[]", 0), P("LiteralPath", "string[]"), P("Parent", "switch"),
                       P("Leaf", "switch"), P("Qualifier", "switch"), P("NoQualifier", "switch"),
                       P("IsAbsolute", "switch"), P("Resolve", "switch")])
def split_path(rt, b, inp, cmd, cdef):
    paths = b.get("LiteralPath") or b.get("Path") or [to_string(x) for x in (inp or [])]
    out = []
    for p in paths:
        p = PROVIDER_RE.sub("", p)
        s = p.replace("/", "\\")
        if b.get("Qualifier"):
            d, _ = wp.split_drive(s)
            if not d:
                err(rt, cdef, cmd, b, "System.Management.Automation.PSArgumentException",
                    f"Cannot parse path because path '{p}' does not have a qualifier specified.",
                    "ParsePathError", "InvalidArgument", target=p, target_type="String")
                continue
            out.append(d)
        elif b.get("NoQualifier"):
            out.append(wp.split_drive(s)[1])
        elif b.get("IsAbsolute"):
            out.append(wp.is_fully_qualified(s))
        elif b.get("Leaf"):
            t = s.rstrip("\\")
            out.append(t.rsplit("\\", 1)[-1] if "\\" in t else (t if not re.fullmatch(r"[A-Za-z]:", t) else ""))
        else:
            t = s.rstrip("\\") if len(s) > 3 else s
            if re.fullmatch(r"[A-Za-z]:\\?", t) or "\\" not in t:
                out.append("")
                continue
            par = t.rsplit("\\", 1)[0]
            if re.fullmatch(r"[A-Za-z]:", par):
                par += "\\"
            out.append(par)
    return out


@cmdlet("Resolve-Path", [P("Path", "string[]", 0), P("LiteralPath", "string[]", aliases=("PSPath",)),
                         P("Relative", "switch")])
def resolve_path(rt, b, inp, cmd, cdef):
    paths, literal = paths_of(rt, b, inp)
    if paths is None:
        _missing_mandatory(rt, cdef, cmd, "Path")
    out = []
    for p in paths:
        for full in expand(rt, cdef, cmd, b, p, literal):
            out.append(PathInfo(full))
    return out


@cmdlet("Get-Content", [P("Path", "string[]", 0), P("LiteralPath", "string[]", aliases=("PSPath", "LP")),
                        P("Raw", "switch"), P("Encoding", "string"), P("TotalCount", "int", aliases=("First", "Head")),
                        P("Tail", "int", aliases=("Last",)), P("ReadCount", "int"), P("Force", "switch")])
def get_content(rt, b, inp, cmd, cdef):
    paths, literal = paths_of(rt, b, inp)
    if paths is None:
        _missing_mandatory(rt, cdef, cmd, "Path")
    fs = rt.host.fs
    out = []
    for p in paths:
        for full in expand(rt, cdef, cmd, b, p, literal):
            real = fs.real(full)
            if real.is_dir():
                err(rt, cdef, cmd, b, "System.UnauthorizedAccessException", f"Access to the path '{full}' is denied.",
                    "GetContentReaderUnauthorizedAccessError", "PermissionDenied", target=full, target_type="String")
                continue
            data = real.read_bytes()
            if (b.get("Encoding") or "").lower() == "byte":
                out += list(data)
                continue
            text = read_text(data, b.get("Encoding"))
            if b.get("Raw"):
                if text != "":
                    out.append(text)
                continue
            lines = re.split(r"\r\n|\n|\r", text)
            if lines and lines[-1] == "":
                lines.pop()
            if b.has("TotalCount"):
                lines = lines[:b.get("TotalCount")]
            if b.has("Tail"):
                lines = lines[-b.get("Tail"):] if b.get("Tail") else []
            out += lines
    return out


def _set_content(rt, b, inp, cmd, cdef, append: bool, default_enc="default", out_file=False):
    from .formatting import out_string
    if out_file:
        paths = [b.get("FilePath")] if b.get("FilePath") else None
        literal = True
    else:
        paths, literal = paths_of(rt, b, None)
    if paths is None:
        _missing_mandatory(rt, cdef, cmd, "FilePath" if out_file else "Path")
    if b.has("Value") or b.has("InputObject"):
        v = b.get("Value") if b.has("Value") else b.get("InputObject")
        values = enumerate_value(v) if isinstance(v, list) else [v]
    else:
        values = list(inp or [])
    codec, bom = write_enc(b.get("Encoding"), default_enc)
    if out_file:
        text = out_string(rt, values)
        if b.get("NoNewline"):
            text = text.rstrip("\r\n")
    else:
        nl = "" if b.get("NoNewline") else "\r\n"
        text = "".join(to_string(x) + nl for x in values)
    fs = rt.host.fs
    for p in paths:
        full = ps_full(rt, p, cdef, cmd, b)
        if full is None:
            continue
        real = fs.real(full)
        if not real.parent.is_dir():
            err(rt, cdef, cmd, b, "System.IO.DirectoryNotFoundException", f"Could not find a part of the path '{full}'.",
                "GetContentWriterDirectoryNotFoundError" if not out_file else "FileOpenFailure", "ObjectNotFound",
                target=full, target_type="String")
            continue
        if real.is_dir():
            err(rt, cdef, cmd, b, "System.UnauthorizedAccessException", f"Access to the path '{full}' is denied.",
                "GetContentWriterUnauthorizedAccessError", "PermissionDenied", target=full, target_type="String")
            continue
        if codec == "byte":
            data = bytes(to_int(x) & 0xFF for x in values)
        else:
            data = text.encode(codec, errors="replace")
        if append and real.exists() and real.stat().st_size:
            with open(real, "ab") as f:
                f.write(data)
        else:
            real.write_bytes(bom + data)
    return []


@cmdlet("Set-Content", [P("Path", "string[]", 0), P("LiteralPath", "string[]", aliases=("PSPath", "LP")),
                        P("Value", "object", 1), P("Encoding", "string"), P("NoNewline", "switch"),
                        P("Force", "switch"), P("PassThru", "switch")])
def set_content(rt, b, inp, cmd, cdef):
    return _set_content(rt, b, inp, cmd, cdef, False)


@cmdlet("Add-Content", [P("Path", "string[]", 0), P("LiteralPath", "string[]", aliases=("PSPath", "LP")),
                        P("Value", "object", 1), P("Encoding", "string"), P("NoNewline", "switch"),
                        P("Force", "switch"), P("PassThru", "switch")])
def add_content(rt, b, inp, cmd, cdef):
    return _set_content(rt, b, inp, cmd, cdef, True)


@cmdlet("Out-File", [P("FilePath", "string", 0, aliases=("Path",)), P("Encoding", "string", 1),
                     P("Append", "switch"), P("Force", "switch"), P("NoNewline", "switch"), P("Width", "int"),
                     P("InputObject", "object"), P("NoClobber", "switch"), P("LiteralPath", "string")])
def out_file(rt, b, inp, cmd, cdef):
    if b.get("LiteralPath") and not b.get("FilePath"):
        b.values["FilePath"] = b.get("LiteralPath")
    return _set_content(rt, b, inp, cmd, cdef, bool(b.get("Append")), default_enc="unicode", out_file=True)


@cmdlet("Get-FileHash", [P("Path", "string[]", 0), P("LiteralPath", "string[]", aliases=("PSPath",)),
                         P("Algorithm", "string"), P("InputStream", "object")],
        noun_type="Microsoft.PowerShell.Commands.GetFileHashCommand")
def get_filehash(rt, b, inp, cmd, cdef):
    algo = (b.get("Algorithm") or "SHA256").upper()
    valid = ["SHA1", "SHA256", "SHA384", "SHA512", "MACTRIPLEDES", "MD5", "RIPEMD160"]
    if algo not in valid:
        rec = rt.make_record("System.Management.Automation.ParameterBindingValidationException",
                             f'Cannot validate argument on parameter \'Algorithm\'. The argument "{b.get("Algorithm")}" '
                             'does not belong to the set "SHA1,SHA256,SHA384,SHA512,MACTripleDES,MD5,RIPEMD160" '
                             'specified by the ValidateSet attribute. Supply an argument that is in the set and then '
                             'try the command again.', "ParameterArgumentValidationError,Get-FileHash",
                             "InvalidData", node=cmd, command="Get-FileHash")
        raise PSError(rec)
    if algo in ("MACTRIPLEDES", "RIPEMD160"):
        err(rt, cdef, cmd, b, "System.NotSupportedException", f"Algorithm {algo} is outside this emulator's subset.",
            "AlgorithmNotSupported", "NotImplemented", terminating=True)
    paths, literal = paths_of(rt, b, inp)
    if paths is None:
        _missing_mandatory(rt, cdef, cmd, "Path")
    resolve_def = CMDLETS["resolve-path"]
    fs = rt.host.fs
    out = []
    for p in paths:
        # Resolve-Path reports a missing file (its own error record, as the 5.1 function does).
        for full in expand(rt, resolve_def, cmd, b, p, literal):
            if fs.is_dir(full):
                continue
            h = hashlib.new(algo.lower())
            with open(fs.real(full), "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
            out.append(PSObject([("Algorithm", algo), ("Hash", h.hexdigest().upper()), ("Path", full)],
                                type_names=["Microsoft.Powershell.Utility.FileHash",
                                            "System.Management.Automation.PSCustomObject", "System.Object"]))
    return out


# ------------------------------------------------------------------------------------------------ location
@cmdlet("Get-Location", [])
def get_location(rt, b, inp, cmd, cdef):
    return [PathInfo(rt.cwd)]


@cmdlet("Set-Location", [P("Path", "string", 0), P("LiteralPath", "string", aliases=("PSPath",)),
                         P("PassThru", "switch")])
def set_location(rt, b, inp, cmd, cdef):
    p = b.get("LiteralPath") or b.get("Path") or rt.ctx.env.get("USERPROFILE")
    full = ps_full(rt, p, cdef, cmd, b)
    if full is None:
        return []
    if not rt.host.fs.is_dir(full):
        err(rt, cdef, cmd, b, "System.Management.Automation.ItemNotFoundException",
            f"Cannot find path '{full}' because it does not exist.", "PathNotFound", "ObjectNotFound", target=full,
            target_type="String")
        return []
    rt.cwd = rt.host.fs.display(full)
    return [PathInfo(rt.cwd)] if b.get("PassThru") else []


@cmdlet("Get-Date", [P("Date", "object", 0), P("Format", "string"), P("UFormat", "string"),
                     P("Year", "int"), P("Month", "int"), P("Day", "int"), P("Hour", "int"), P("Minute", "int"),
                     P("Second", "int"), P("Millisecond", "int")])
def get_date(rt, b, inp, cmd, cdef):
    from .convert import convert_full
    d = convert_full(rt, b.get("Date"), "System.DateTime") if b.get("Date") is not None else DateTime(rt.host.now(), "Local")
    dt = d.dt
    repl = {k: b.get(v) for k, v in (("year", "Year"), ("month", "Month"), ("day", "Day"), ("hour", "Hour"),
                                     ("minute", "Minute"), ("second", "Second")) if b.has(v)}
    if repl:
        dt = dt.replace(**repl)
    d = DateTime(dt, d.kind)
    if b.get("Format"):
        from .netformat import format_datetime
        return [format_datetime(d, b.get("Format"))]
    if b.get("UFormat"):
        f = b.get("UFormat").replace("%s", str(d.unix_ms() // 1000))
        return [d.dt.strftime(f)]
    return [d]


@cmdlet("Start-Sleep", [P("Seconds", "object", 0, aliases=("s",)), P("Milliseconds", "int", aliases=("ms",))])
def start_sleep(rt, b, inp, cmd, cdef):
    secs = float(to_number(b.get("Seconds"))) if b.has("Seconds") else (b.get("Milliseconds") or 0) / 1000
    rt.out.flush()
    rt.ctx.sleep(secs)
    return []


@cmdlet("Get-Command", [P("Name", "string[]", 0), P("CommandType", "string"), P("Module", "string[]")])
def get_command(rt, b, inp, cmd, cdef):
    from .invoke import resolve
    out = []
    for n in b.get("Name") or []:
        r = resolve(rt, n)
        if r is None:
            err(rt, cdef, cmd, b, "System.Management.Automation.CommandNotFoundException",
                f"The term '{n}' is not recognized as the name of a cmdlet, function, script file, or operable "
                "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
                "and try again.", "CommandNotFoundException", "ObjectNotFound", target=n, target_type="String")
            continue
        kind, obj = r
        if kind == "cmdlet":
            out.append(CommandInfo(obj.name, "Cmdlet", "Microsoft.PowerShell.Management", None))
        elif kind == "function":
            out.append(CommandInfo(n, "Function", "", None))
        else:
            out.append(CommandInfo(wp.leaf(obj), "Application" if kind == "native" else "ExternalScript", obj, obj))
    return out


class CommandInfo(NetObject):
    cmd_kind = True

    def __init__(self, name, ctype, source, path):
        self.name = name
        self.ctype = ctype
        self.source = source
        self.path = path
        self.type_name = {"Application": "System.Management.Automation.ApplicationInfo",
                          "Cmdlet": "System.Management.Automation.CmdletInfo"}.get(ctype,
                                                                                    "System.Management.Automation.CommandInfo")

    def props(self):
        out = [("CommandType", EnumValue("System.Management.Automation.CommandTypes", self.ctype,
                                         {"Cmdlet": 8, "Application": 32, "Function": 2, "ExternalScript": 16}[self.ctype])),
               ("Name", self.name), ("Version", None), ("Source", self.source)]
        if self.path:
            out += [("Path", self.path), ("Definition", self.path), ("Extension", "." + self.name.rsplit(".", 1)[-1])]
        else:
            out += [("Definition", self.name)]
        return out

    def default_props(self):
        return ["CommandType", "Name", "Version", "Source"]

    def to_string(self):
        return self.name


# ------------------------------------------------------------------------------------------------ services
def _svc_err(rt, cdef, cmd, b, name, by_display=False):
    err(rt, cdef, cmd, b, "Microsoft.PowerShell.Commands.ServiceCommandException",
        f"Cannot find any service with {'display name' if by_display else 'service name'} '{name}'.",
        "NoServiceFoundForGivenDisplayName" if by_display else "NoServiceFoundForGivenName", "ObjectNotFound",
        target=name, target_type="String")


def _services(rt, cdef, cmd, b, inp, names_param="Name"):
    host = rt.host
    out = []
    if b.get("InputObject") is not None or (inp and any(isinstance(x, ServiceController) for x in inp)):
        src = b.get("InputObject") if b.get("InputObject") is not None else inp
        for x in enumerate_value(src):
            if isinstance(x, ServiceController):
                out.append(x.svc)
        return out
    names = b.get(names_param)
    if names is None and inp:
        names = [to_string(x) for x in inp]
    if b.get("DisplayName"):
        for dn in b.get("DisplayName"):
            found = [s for s in list(host.services.values()) if like(s.display_name, dn)]
            if not found and not has_wildcard(dn):
                _svc_err(rt, cdef, cmd, b, dn, True)
            out += found
        return out
    if names is None:
        return sorted(list(host.services.values()), key=lambda s: s.name.lower())
    for n in names:
        if has_wildcard(n):
            out += sorted((s for s in list(host.services.values()) if like(s.name, n)), key=lambda s: s.name.lower())
            continue
        # ServiceController(name) accepts a service name or a display name.
        s = host.find_service(n) or host.find_service_by_display(n)
        if s is None:
            _svc_err(rt, cdef, cmd, b, n)
            continue
        out.append(s)
    return out


@cmdlet("Get-Service", [P("Name", "string[]", 0, aliases=("ServiceName",)), P("DisplayName", "string[]"),
                        P("InputObject", "object"), P("ComputerName", "string[]"), P("DependentServices", "switch"),
                        P("RequiredServices", "switch"), P("Include", "string[]"), P("Exclude", "string[]")])
def get_service(rt, b, inp, cmd, cdef):
    return [ServiceController(rt, s) for s in _services(rt, cdef, cmd, b, inp)]


def _svc_label(s):
    return f"{s.display_name} ({s.name})"


def _svc_control(rt, b, inp, cmd, cdef, action):
    out = []
    for s in _services(rt, cdef, cmd, b, inp):
        if action in ("stop", "restart") and s.state == "Running":
            e = rt.host.service_stop(s.name)
            if e:
                err(rt, cdef, cmd, b, "Microsoft.PowerShell.Commands.ServiceCommandException",
                    f"Service '{_svc_label(s)}' cannot be stopped due to the following error: Cannot open {s.name} "
                    "service on computer '.'." if e == 5 else
                    f"Service '{_svc_label(s)}' cannot be stopped due to the following error: Cannot stop {s.name} "
                    "service on computer '.'.", "CouldNotStopService", "CloseError",
                    target_text="System.ServiceProcess.ServiceController", target_type="ServiceController")
                continue
        if action in ("start", "restart") and s.state != "Running":
            e = rt.host.service_start(s.name)
            if e:
                err(rt, cdef, cmd, b, "Microsoft.PowerShell.Commands.ServiceCommandException",
                    f"Service '{_svc_label(s)}' cannot be started due to the following error: Cannot open {s.name} "
                    "service on computer '.'." if e == 5 else
                    f"Service '{_svc_label(s)}' cannot be started due to the following error: Cannot start service "
                    f"{s.name} on computer '.'.", "CouldNotStartService", "OpenError",
                    target_text="System.ServiceProcess.ServiceController", target_type="ServiceController")
                continue
        if b.get("PassThru"):
            out.append(ServiceController(rt, s))
    return out


_SVC_PARAMS = [P("Name", "string[]", 0, aliases=("ServiceName",)), P("DisplayName", "string[]"),
               P("InputObject", "object"), P("PassThru", "switch"), P("Force", "switch"), P("NoWait", "switch"),
               P("Include", "string[]"), P("Exclude", "string[]")]


@cmdlet("Start-Service", _SVC_PARAMS)
def start_service(rt, b, inp, cmd, cdef):
    return _svc_control(rt, b, inp, cmd, cdef, "start")


@cmdlet("Stop-Service", _SVC_PARAMS)
def stop_service(rt, b, inp, cmd, cdef):
    return _svc_control(rt, b, inp, cmd, cdef, "stop")


@cmdlet("Restart-Service", _SVC_PARAMS)
def restart_service(rt, b, inp, cmd, cdef):
    return _svc_control(rt, b, inp, cmd, cdef, "restart")


# ------------------------------------------------------------------------------------------------ processes
@cmdlet("Get-Process", [P("Name", "string[]", 0, aliases=("ProcessName",)), P("Id", "object", aliases=("PID",)),
                        P("InputObject", "object"), P("IncludeUserName", "switch"), P("Module", "switch"),
                        P("ComputerName", "string[]")])
def get_process(rt, b, inp, cmd, cdef):
    host = rt.host
    out = []
    if b.has("Id"):
        for i in enumerate_value(b.get("Id")) if isinstance(b.get("Id"), list) else [b.get("Id")]:
            pid = to_int(i)
            pi = host.processes.get(pid)
            if pi is None:
                err(rt, cdef, cmd, b, "Microsoft.PowerShell.Commands.ProcessCommandException",
                    f"Cannot find a process with the process identifier {pid}.", "NoProcessFoundForGivenId",
                    "ObjectNotFound", target=pid, target_type="Int32")
                continue
            out.append(ProcessObj(rt, pi))
        return out
    names = b.get("Name")
    procs = sorted(list(host.processes.values()), key=lambda p: (p.name.lower(), p.pid))
    if not names:
        return [ProcessObj(rt, p) for p in procs]
    for n in names:
        found = [p for p in procs if like(p.name[:-4] if p.name.lower().endswith(".exe") else p.name, n)]
        if not found and not has_wildcard(n):
            err(rt, cdef, cmd, b, "Microsoft.PowerShell.Commands.ProcessCommandException",
                f'Cannot find a process with the name "{n}". Verify the process name and call the cmdlet again.',
                "NoProcessFoundForGivenName", "ObjectNotFound", target=n, target_type="String")
        out += [ProcessObj(rt, p) for p in found]
    return out


@cmdlet("Stop-Process", [P("Id", "object", 0), P("Name", "string[]", aliases=("ProcessName",)),
                         P("InputObject", "object"), P("Force", "switch"), P("PassThru", "switch")])
def stop_process(rt, b, inp, cmd, cdef):
    host = rt.host
    pids = []
    if b.has("Id"):
        pids = [to_int(x) for x in (enumerate_value(b.get("Id")) if isinstance(b.get("Id"), list) else [b.get("Id")])]
    src = b.get("InputObject") if b.has("InputObject") else inp
    for x in enumerate_value(src) if src is not None else []:
        if isinstance(x, ProcessObj):
            pids.append(x.p.pid)
    for n in b.get("Name") or []:
        pids += [p.pid for p in list(host.processes.values()) if like(p.name[:-4] if p.name.lower().endswith(".exe")
                                                                else p.name, n)]
    for pid in pids:
        if pid not in host.processes:
            err(rt, cdef, cmd, b, "Microsoft.PowerShell.Commands.ProcessCommandException",
                f"Cannot find a process with the process identifier {pid}.", "NoProcessFoundForGivenId",
                "ObjectNotFound", target=pid, target_type="Int32")
            continue
        svc = host.central_service
        if svc is not None and svc.pid == pid:
            host.crash_central()
        else:
            host.exit_process(pid)
    return []


@cmdlet("Start-Process", [P("FilePath", "string", 0, aliases=("PSPath",)), P("ArgumentList", "string[]", 1,
                                                                               aliases=("Args",)),
                          P("Wait", "switch"), P("PassThru", "switch"), P("NoNewWindow", "switch"),
                          P("WorkingDirectory", "string"), P("WindowStyle", "string"), P("Verb", "string"),
                          P("RedirectStandardOutput", "string"), P("RedirectStandardError", "string"),
                          P("RedirectStandardInput", "string"), P("UseNewEnvironment", "switch")])
def start_process(rt, b, inp, cmd, cdef):
    from ..proc import FileSink, InputPipe, NullSink
    from ..programs import launch
    from .invoke import resolve
    fp = b.get("FilePath")
    r = resolve(rt, fp)
    if r is None or r[0] not in ("native",):
        err(rt, cdef, cmd, b, "System.InvalidOperationException", "This command cannot be run due to the error: The "
            "system cannot find the file specified.", "InvalidOperationException", "InvalidOperation",
            terminating=True)
    path = r[1]
    args = b.get("ArgumentList") or []
    tail = (" " + " ".join(args)) if args else ""
    host = rt.host
    out_sink = NullSink()
    err_sink = NullSink()
    opened = []
    for pname, which in (("RedirectStandardOutput", "out"), ("RedirectStandardError", "err")):
        if b.get(pname):
            s = FileSink(host.fs.real(ps_full(rt, b.get(pname))))
            opened.append(s)
            if which == "out":
                out_sink = s
            else:
                err_sink = s
    child = rt.ctx.child(stdout=out_sink, stderr=err_sink, stdin=InputPipe(b"", eof=True),
                         cwd=ps_full(rt, b.get("WorkingDirectory")) if b.get("WorkingDirectory") else rt.cwd,
                         kill_event=threading.Event())
    state = {"rc": None}
    from ..host import ProcessInfo

    def run():
        try:
            state["rc"] = launch(child, path, tail)
        except BaseException:
            state["rc"] = 1
        finally:
            for s in opened:
                s.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(0.01)
    pinfo = next((p for p in sorted(list(host.processes.values()), key=lambda p: -p.pid)
                  if p.path.lower() == path.lower()), None) or ProcessInfo(0, wp.leaf(path), path, path, host.now())
    proc = ProcessObj(rt, pinfo)
    proc.thread = t
    if b.get("Wait"):
        while t.is_alive():
            rt.ctx.sleep(0.02)
        proc.exit_code = state["rc"]
        proc.has_exited = True
    else:
        def fin():
            t.join()
            proc.exit_code = state["rc"]
            proc.has_exited = True
        threading.Thread(target=fin, daemon=True).start()
    return [proc] if b.get("PassThru") else []


# ------------------------------------------------------------------------------------------------ CIM
def cim_classes(rt):
    """Instances of the Win32 classes this host serves, with the documented property names and types
    (https://learn.microsoft.com/windows/win32/cimwin32prov/win32-service, win32-logicaldisk, win32-process)."""
    host = rt.host

    def services():
        out = []
        for s in sorted(list(host.services.values()), key=lambda s: s.name.lower()):
            running = s.state == "Running"
            out.append([("Name", s.name), ("Status", "OK"), ("ExitCode", s.exit_code if not running else 0),
                        ("DesktopInteract", False), ("ErrorControl", "Normal"), ("PathName", s.path_name),
                        ("ServiceType", s.service_type), ("StartMode", s.start_mode), ("Caption", s.display_name),
                        ("Description", s.description), ("InstallDate", None),
                        ("CreationClassName", "Win32_Service"), ("Started", running), ("SystemCreationClassName",
                                                                                      "Win32_ComputerSystem"),
                        ("SystemName", host.hostname), ("AcceptPause", False), ("AcceptStop", running),
                        ("DisplayName", s.display_name), ("ServiceSpecificExitCode", 0),
                        ("StartName", s.start_name), ("State", s.state), ("TagId", 0), ("CheckPoint", 0),
                        ("DelayedAutoStart", False), ("ProcessId", s.pid if running else 0), ("WaitHint", 0)])
        return out

    def disks():
        out = []
        for d in sorted(host.fs.drives):
            free, total = host.fs.free_bytes(d)
            out.append([("Caption", f"{d}:"), ("Description", "Local Fixed Disk"), ("InstallDate", None),
                        ("Name", f"{d}:"), ("Status", None), ("Availability", None),
                        ("CreationClassName", "Win32_LogicalDisk"), ("DeviceID", f"{d}:"), ("DriveType", 3),
                        ("FileSystem", "NTFS"), ("FreeSpace", free), ("MediaType", 12), ("Size", total),
                        ("SystemName", host.hostname), ("VolumeName", ""), ("VolumeSerialNumber", "1A2B3C4D")])
        return out

    def procs():
        out = []
        for p in sorted(list(host.processes.values()), key=lambda p: p.pid):
            out.append([("Caption", p.name), ("Description", p.name), ("InstallDate", None), ("Name", p.name),
                        ("Status", None), ("CreationClassName", "Win32_Process"),
                        ("CreationDate", DateTime(p.start_time, "Local")), ("CSName", host.hostname),
                        ("CommandLine", p.command_line or None), ("ExecutablePath", p.path or None),
                        ("Handle", str(p.pid)), ("HandleCount", 0), ("ParentProcessId", p.parent_pid),
                        ("ProcessId", p.pid), ("SessionId", p.session_id), ("ThreadCount", 1)])
        return out

    def os_():
        return [[("Caption", "Microsoft Windows Server 2019 Standard"), ("Version", "10.0.17763"),
                 ("BuildNumber", "17763"), ("CSName", host.hostname),
                 ("LastBootUpTime", DateTime(host._boot, "Local")), ("LocalDateTime", DateTime(host.now(), "Local")),
                 ("OSArchitecture", "64-bit")]]

    def cs():
        return [[("Name", host.hostname), ("Domain", "WORKGROUP"), ("PartOfDomain", False),
                 ("Manufacturer", "Emulated"), ("Model", "Windows host emulator"), ("NumberOfProcessors", 1)]]

    return {"win32_service": ("Win32_Service", "Name", services), "win32_logicaldisk": ("Win32_LogicalDisk",
                                                                                      "DeviceID", disks),
            "win32_process": ("Win32_Process", "Handle", procs),
            "win32_operatingsystem": ("Win32_OperatingSystem", "Name", os_),
            "win32_computersystem": ("Win32_ComputerSystem", "Name", cs)}


def _cim(rt, b, cmd, cdef, wmi: bool):
    from .wql import WqlError, parse_query, parse_where
    cls = b.get("ClassName") or b.get("Class")
    flt = b.get("Filter")
    props = None
    if b.get("Query"):
        try:
            cls, props, flt_node = parse_query(b.get("Query"))
        except WqlError:
            return _cim_invalid(rt, b, cmd, cdef, wmi)
    else:
        flt_node = None
        if flt:
            try:
                flt_node = parse_where(flt)
            except WqlError:
                return _cim_invalid(rt, b, cmd, cdef, wmi)
    ns = (b.get("Namespace") or "root/cimv2").replace("\\", "/").lower()
    table = cim_classes(rt)
    entry = table.get((cls or "").lower())
    if entry is None or ns != "root/cimv2":
        if wmi:
            err(rt, cdef, cmd, b, "System.Management.ManagementException", "Invalid class ",
                "GetWMIManagementException", "InvalidType", terminating=True)
        err(rt, cdef, cmd, b, "Microsoft.Management.Infrastructure.CimException", "Invalid class ",
            "HRESULT 0x80041010", "MetadataError", target_text=f"root\\cimv2:{cls}", target_type="String",
            terminating=True)
    name, key, fn = entry
    rows = fn()
    out = []
    for row in rows:
        if flt_node is not None:
            try:
                if not flt_node.eval(dict((k.lower(), v) for k, v in row)):
                    continue
            except WqlError:
                return _cim_invalid(rt, b, cmd, cdef, wmi)
        out.append(CimInstance(name, row, key, wmi=wmi, rt=rt))
    return out


def _cim_invalid(rt, b, cmd, cdef, wmi):
    if wmi:
        err(rt, cdef, cmd, b, "System.Management.ManagementException", "Invalid query ", "GetWMIManagementException",
            "InvalidOperation", terminating=True)
    err(rt, cdef, cmd, b, "Microsoft.Management.Infrastructure.CimException", "Invalid query ", "HRESULT 0x80041017",
        "InvalidArgument", terminating=True)


@cmdlet("Get-CimInstance", [P("ClassName", "string", 0, aliases=("Class",)), P("Filter", "string"),
                            P("Query", "string"), P("Namespace", "string"), P("Property", "string[]"),
                            P("ComputerName", "string[]"), P("KeyOnly", "switch"), P("Shallow", "switch"),
                            P("OperationTimeoutSec", "int"), P("CimSession", "object")],
        noun_type="Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand")
def get_ciminstance(rt, b, inp, cmd, cdef):
    return _cim(rt, b, cmd, cdef, wmi=False)


@cmdlet("Get-WmiObject", [P("Class", "string", 0), P("Filter", "string"), P("Query", "string"),
                          P("Namespace", "string"), P("Property", "string[]", 1), P("ComputerName", "string[]")])
def get_wmiobject(rt, b, inp, cmd, cdef):
    return _cim(rt, b, cmd, cdef, wmi=True)


REAL_BUT_UNSUPPORTED.discard("get-wmiobject")
