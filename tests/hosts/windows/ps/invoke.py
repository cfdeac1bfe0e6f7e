"""Command invocation: resolution, parameter binding, native programs, functions and scripts.

* Resolution order (about_Command_Precedence): alias, function, cmdlet, external command; an external
  command is found on PATH with PATHEXT — PowerShell does not search the current directory; a name with a
  path runs that file.
* Unknown command: CommandNotFoundException "The term 'X' is not recognized as the name of a cmdlet,
  function, script file, or operable program. Check the spelling of the name, or if a path was included,
  verify that the path is correct and try again." (a statement-terminating error).
* Parameter binding (about_Parameters, about_CommonParameters): named parameters match by name, alias or
  unambiguous prefix; then positional; errors NamedParameterNotFound / PositionalParameterNotFound /
  MissingArgument / MissingMandatoryParameter (non-interactive).
* Native arguments (Windows PowerShell 5.1): each value becomes one argument, quoted with "..." when it
  contains whitespace; the child runs in PowerShell's current location.  Pipeline input to a native program
  is written to its stdin as text in $OutputEncoding (ASCII in 5.1).
"""
from __future__ import annotations

from typing import Any

from .. import paths as wp
from ..proc import CaptureSink, InputPipe, decode
from . import ast as A
from .runtime import PSError, enumerate_value, unwrap
from .values import (
    ConversionError,
    ErrorRecord,
    Hashtable,
    NetException,
    ScriptBlock,
    to_bool,
    to_int,
    to_string,
    type_full,
)

NOVALUE = object()

COMMON = {
    "erroraction": ("ErrorAction", ("ea",)), "warningaction": ("WarningAction", ("wa",)),
    "informationaction": ("InformationAction", ("infa",)), "errorvariable": ("ErrorVariable", ("ev",)),
    "warningvariable": ("WarningVariable", ("wv",)), "informationvariable": ("InformationVariable", ("iv",)),
    "outvariable": ("OutVariable", ("ov",)), "outbuffer": ("OutBuffer", ("ob",)),
    "pipelinevariable": ("PipelineVariable", ("pv",)), "verbose": ("Verbose", ("vb",)),
    "debug": ("Debug", ("db",)), "whatif": ("WhatIf", ("wi",)), "confirm": ("Confirm", ("cf",)),
}
SWITCH_COMMON = {"Verbose", "Debug", "WhatIf", "Confirm"}
ACTIONS = ["SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"]


class P:
    __slots__ = ("name", "type", "pos", "aliases", "mandatory")

    def __init__(self, name, type="object", pos=None, aliases=(), mandatory=False):
        self.name = name
        self.type = type
        self.pos = pos
        self.aliases = aliases
        self.mandatory = mandatory


class CmdletDef:
    def __init__(self, name, params, fn, noun_type=None):
        self.name = name
        self.params = params
        self.fn = fn
        verb, noun = name.split("-", 1)
        self.full = noun_type or f"Microsoft.PowerShell.Commands.{verb}{noun.replace('-', '')}Command"


class Bound:
    def __init__(self, values: dict, explicit: set):
        self.values = values
        self.explicit = explicit

    def get(self, name, default=None):
        return self.values.get(name, default)

    def has(self, name) -> bool:
        return name in self.explicit

    @property
    def ea(self):
        v = self.values.get("ErrorAction")
        return v


def cmd_name_of(rt, cmd: A.Command):
    n = cmd.name
    if isinstance(n, A.Const):
        return n.value
    return rt.ev(n)


def gather_args(rt, cmd: A.Command):
    """Evaluate a command's arguments into [(kind, name, value, node)]."""
    out = []
    for a in cmd.args:
        if type(a) is A.CmdParam:
            out.append(("param", a.name, NOVALUE if a.value is None else rt.ev(a.value), a))
        elif a.splat:
            v = rt.ev(a.value)
            if isinstance(v, Hashtable):
                for k, x in v.items():
                    if x is True:
                        out.append(("param", to_string(k), NOVALUE, a))
                    else:
                        out.append(("param", to_string(k), x, a))
            else:
                for x in enumerate_value(v):
                    out.append(("arg", None, x, a))
        else:
            out.append(("arg", None, rt.ev(a.value), a))
    return out


def invoke_command(rt, cmd: A.Command, inp, direct=False):
    name = cmd_name_of(rt, cmd)
    if isinstance(name, ScriptBlock):
        args = [v for k, n, v, _ in gather_args(rt, cmd) if k == "arg"]
        return rt.call_scriptblock(name, ..., args=args, new_scope=(cmd.invoke != "."), inp=inp)
    from .values import NetObject
    if isinstance(name, NetObject) and hasattr(name, "cmd_kind"):
        target = name
        name = target.name
    name = to_string(name)
    resolved = resolve(rt, name)
    if resolved is None:
        # ASSUMPTION: commands PowerShell 5.1 has but this emulator does not implement also answer
        # CommandNotFoundException; they are listed in host.unsupported so a test can tell them apart.
        from .cmdlets import REAL_BUT_UNSUPPORTED
        if name.lower() in REAL_BUT_UNSUPPORTED:
            rt.host.unsupported.append(name)
        rt.raise_error("System.Management.Automation.CommandNotFoundException",
                       f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
                       "operable program. Check the spelling of the name, or if a path was included, verify that the "
                       "path is correct and try again.", "CommandNotFoundException", "ObjectNotFound",
                       target=name, node=cmd, command=name, activity="")
    kind, obj = resolved
    raw = gather_args(rt, cmd)
    if kind == "cmdlet":
        b = bind(rt, obj, raw, cmd)
        rt.cur_cmd = (obj, cmd)
        res = obj.fn(rt, b, inp, cmd, obj)
        return list(res) if res is not None else []
    if kind == "function":
        saved = getattr(rt, "current_function", None)
        rt.current_function = name
        try:
            return call_function(rt, obj, raw, inp, cmd)
        finally:
            rt.current_function = saved
    if kind == "script":
        from .parser import ParseError, parse
        text = decode(rt.host.fs.read_bytes(obj), "utf-8")
        try:
            ast = parse(text)
        except ParseError as e:
            rt.runtime_error(e.message, e.error_id, "ParserError", node=cmd)
        return call_function(rt, ast, raw, inp, cmd)
    return run_native(rt, obj, None, raw, cmd, direct, inp)


def resolve(rt, name: str):
    low = name.lower()
    if low in rt.aliases:
        target = rt.aliases[low]
        if target.lower() in rt.functions:
            return "function", rt.functions[target]
        return "cmdlet", rt.cmdlets[target.lower()]
    if name in rt.functions:
        return "function", rt.functions[name]
    if low in rt.cmdlets:
        return "cmdlet", rt.cmdlets[low]
    if "\\" in name or "/" in name or (len(name) > 1 and name[1] == ":") or name.startswith("."):
        try:
            full = rt.host.fs.full(name, rt.cwd)
        except wp.WinPathError:
            return None
        exts = [e.lower() for e in (rt.ctx.env.get("PATHEXT") or ".EXE").split(";") if e]
        cands = [full] + [full + e for e in exts] + [full + ".ps1"]
        for c in cands:
            if rt.host.fs.is_file(c):
                return ("script", c) if c.lower().endswith(".ps1") else ("native", rt.host.fs.display(c))
        return None
    from ..cmdshell import find_executable
    ctx = rt.ctx.child(cwd=rt.cwd)
    path, why = find_executable(ctx, name, search_cwd=False)
    if path:
        return "native", path
    return None


def match_param(cdef: CmdletDef, name: str):
    """Returns (canonical name, P or None for common params)."""
    ln = name.lower()
    exact = []
    pref = []
    for p in cdef.params:
        names = [p.name] + list(p.aliases)
        if any(n.lower() == ln for n in names):
            exact.append((p.name, p))
        elif any(n.lower().startswith(ln) for n in names):
            pref.append((p.name, p))
    for canon, aliases in COMMON.values():
        names = [canon] + list(aliases)
        if any(n.lower() == ln for n in names):
            exact.append((canon, None))
        elif canon.lower().startswith(ln):
            pref.append((canon, None))
    if exact:
        return exact[0], None
    if len(pref) == 1:
        return pref[0], None
    if len(pref) > 1:
        return None, pref
    return None, None


def bind(rt, cdef: CmdletDef, raw, cmd) -> Bound:
    values: dict[str, Any] = {}
    explicit: set[str] = set()
    positional = []
    i = 0
    cname = cdef.name

    def perr(msg, eid, category="InvalidArgument"):
        rec = rt.make_record("System.Management.Automation.ParameterBindingException", msg,
                             f"{eid},{cdef.full}", category, node=cmd, command=cname)
        raise PSError(rec)

    while i < len(raw):
        kind, name, value, node = raw[i]
        if kind == "param":
            m, amb = match_param(cdef, name)
            if m is None:
                if amb:
                    perr(f"Parameter cannot be processed because the parameter name '{name}' is ambiguous. Possible "
                         f"matches include: {' '.join('-' + a[0] for a in amb)}.", "AmbiguousParameter")
                perr(f"A parameter cannot be found that matches parameter name '{name}'.", "NamedParameterNotFound")
            canon, p = m
            ptype = p.type if p is not None else ("switch" if canon in SWITCH_COMMON else "string")
            if ptype == "switch":
                values[canon] = True if value is NOVALUE else to_bool(value)
            else:
                if value is NOVALUE:
                    if i + 1 < len(raw) and raw[i + 1][0] == "arg":
                        value = raw[i + 1][2]
                        i += 1
                    else:
                        tn = {"string": "System.String", "string[]": "System.String[]", "int": "System.Int32",
                              "scriptblock": "System.Management.Automation.ScriptBlock"}.get(ptype, "System.Object")
                        perr(f"Missing an argument for parameter '{canon}'. Specify a parameter of type '{tn}' and "
                             "try again.", "MissingArgument")
                values[canon] = value
            explicit.add(canon)
        else:
            positional.append(value)
        i += 1
    pos_params = sorted([p for p in cdef.params if p.pos is not None and p.name not in values], key=lambda p: p.pos)
    rest_param = next((p for p in cdef.params if p.type == "remaining"), None)
    for k, v in enumerate(positional):
        if rest_param is not None and pos_params and pos_params[0] is rest_param:
            # ValueFromRemainingArguments: the rest of the positional values go to this parameter
            rem = positional[k:]
            values[rest_param.name] = rem[0] if len(rem) == 1 else list(rem)
            explicit.add(rest_param.name)
            break
        if not pos_params:
            perr(f"A positional parameter cannot be found that accepts argument '{to_string(v)}'.",
                 "PositionalParameterNotFound")
        p = pos_params.pop(0)
        values[p.name] = v
        explicit.add(p.name)
    for p in cdef.params:
        if p.name in values:
            values[p.name] = coerce(rt, values[p.name], p, cdef, cmd)
    if "ErrorAction" in values:
        ea = to_string(values["ErrorAction"]) if not hasattr(values["ErrorAction"], "name") else values["ErrorAction"].name
        match = [a for a in ACTIONS if a.lower() == ea.lower()]
        if not match:
            perr(f"Cannot bind parameter 'ErrorAction'. Cannot convert value \"{ea}\" to type "
                 f"\"System.Management.Automation.ActionPreference\". Error: \"Unable to match the identifier name "
                 f"{ea} to a valid enumerator name. Specify one of the following enumerator names and try again:\r\n"
                 f"SilentlyContinue, Stop, Continue, Inquire, Ignore, Suspend\"", "CannotConvertArgumentNoMessage")
        values["ErrorAction"] = match[0]
    return Bound(values, explicit)


def coerce(rt, v, p: P, cdef, cmd):
    t = p.type
    try:
        if t == "string":
            if isinstance(v, list):
                return " ".join(to_string(x) for x in v) if len(v) != 1 else to_string(v[0])
            return None if v is None else to_string(v)
        if t == "string[]":
            if v is None:
                return None
            return [to_string(x) for x in enumerate_value(v)] if isinstance(v, list) else [to_string(v)]
        if t == "int":
            return to_int(unwrap(enumerate_value(v)) if isinstance(v, list) else v)
        if t == "switch":
            return to_bool(v)
        if t == "scriptblock":
            if not isinstance(v, ScriptBlock):
                rec = rt.make_record("System.Management.Automation.ParameterBindingException",
                                     f"Cannot bind parameter '{p.name}'. Cannot convert the \"{to_string(v)}\" value "
                                     f"of type \"{type_full(v)}\" to type \"System.Management.Automation.ScriptBlock\".",
                                     f"CannotConvertArgumentNoMessage,{cdef.full}", "InvalidArgument", node=cmd,
                                     command=cdef.name)
                raise PSError(rec)
            return v
        if t == "object[]":
            return enumerate_value(v) if isinstance(v, list) else [v]
    except ConversionError as e:
        rec = rt.make_record("System.Management.Automation.ParameterBindingException",
                             f"Cannot bind parameter '{p.name}'. {e.message}",
                             f"CannotConvertArgumentNoMessage,{cdef.full}", "InvalidArgument", node=cmd,
                             command=cdef.name)
        raise PSError(rec) from None
    return v


def call_function(rt, sb, raw, inp, cmd):
    from .runtime import Collector, FlowReturn
    from .values import CIDict
    params = sb.params or []
    named = {}
    positional = []
    i = 0
    pnames = {p.name.lower(): p.name for p in params}
    while i < len(raw):
        kind, name, value, node = raw[i]
        if kind == "param":
            ln = name.lower()
            match = [v for k, v in pnames.items() if k == ln] or [v for k, v in pnames.items() if k.startswith(ln)]
            if match and len(match) == 1:
                if value is NOVALUE:
                    if i + 1 < len(raw) and raw[i + 1][0] == "arg":
                        value = raw[i + 1][2]
                        i += 1
                    else:
                        value = True
                named[match[0]] = value
            else:
                positional.append("-" + name)
                if value is not NOVALUE:
                    positional.append(value)
        else:
            positional.append(value)
        i += 1
    rt.scopes.append(CIDict())
    c = Collector()
    try:
        if inp is not None:
            rt.scopes[-1]["input"] = list(inp)
        rt._bind_script_params(params, positional, named)
        try:
            rt.exec_block(sb.statements, c)
        except FlowReturn:
            pass
    finally:
        rt.scopes.pop()
    return list(c)


def native_arg_strings(values) -> list[str]:
    out = []
    for v in values:
        for x in (v if isinstance(v, list) else [v]):
            if x is None:
                continue
            s = to_string(x)
            if s == "":
                out.append('""')
            elif any(c in s for c in " \t") and not (s.startswith('"') and s.endswith('"')):
                out.append(f'"{s}"')
            else:
                out.append(s)
    return out


def run_native(rt, path, _vals, raw, cmd, direct, inp):
    from ..programs import launch
    args = []
    for kind, name, value, node in raw:
        if kind == "param":
            # a -Name token is passed to a native program as written ("-Name", or "-Name:value" evaluated)
            text = getattr(node, "text", None) or "-" + name
            dash = text[0] if text else "-"
            args.append(text if value is NOVALUE else f"{dash}{name}:{to_string(value)}")
        else:
            args.append(value)
    parts = native_arg_strings(args)
    tail = (" " + " ".join(parts)) if parts else ""
    redirected_err = rt.error_capture is not None
    out_sink = rt.ctx.stdout if direct else CaptureSink()
    err_sink = CaptureSink() if redirected_err else rt.ctx.stderr
    if inp is not None:
        from .formatting import out_string
        text = out_string(rt, list(inp))
        stdin = InputPipe(text.encode("ascii", errors="replace"), eof=True)
    else:
        stdin = rt.ctx.stdin
    if direct:
        rt.out.flush()
    child = rt.ctx.child(stdout=out_sink, stderr=err_sink, stdin=stdin, cwd=rt.cwd)
    rc = launch(child, path, tail)
    code = rc - 2 ** 32 if rc >= 2 ** 31 else rc
    rt.globals["LASTEXITCODE"] = code
    if code != 0:
        rt.native_failed = True
    outputs = []
    if not direct:
        text = decode(out_sink.getvalue(), rt.ctx.codec)
        outputs = text.split("\r\n") if "\r\n" in text else text.split("\n")
        outputs = [o.rstrip("\r") for o in outputs]
        if outputs and outputs[-1] == "":
            outputs.pop()
    if redirected_err:
        text = decode(err_sink.getvalue(), rt.ctx.codec)
        lines = text.replace("\r\n", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        cname = wp.leaf(path)
        for k, line in enumerate(lines):
            exc = NetException("System.Management.Automation.RemoteException", line)
            rec = ErrorRecord(exc, "NativeCommandError" if k == 0 else "NativeCommandErrorMessage", "NotSpecified",
                              line, activity="", command=cname, extent=(cmd.start, cmd.end), script=rt.script,
                              target_type="String")
            rt.write_error(rec)
    return outputs
