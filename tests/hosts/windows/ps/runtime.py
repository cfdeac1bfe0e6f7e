"""Interpreter of the PowerShell subset.

Language rules and their sources:
* Error handling (about_Try_Catch_Finally, about_Preference_Variables $ErrorActionPreference,
  about_CommonParameters -ErrorAction, about_Throw): non-terminating errors are written to the error stream
  and execution continues; statement-terminating errors (unknown command, .NET method exception, failed
  conversion, -ErrorAction Stop) end the statement; ``throw`` is script-terminating; inside ``try`` any
  terminating error is caught; ``$ErrorActionPreference = 'Stop'`` turns every error into a terminating one.
* $? (about_Automatic_Variables): $false after a command that wrote an error or a native program that exited
  non-zero.  $LASTEXITCODE: exit code of the last native program.
* Pipelines (about_Pipelines): arrays are enumerated into the pipeline; a single result is a scalar, several
  an object[] (about_Arrays, "@()" always gives an array).
* Native commands (about_Redirection, PowerShell issues #3996 and #13501): stdout lines become strings;
  stderr passes straight through to powershell's own stderr unless redirected (2>&1, 2>$null, 2>file): then
  in Windows PowerShell 5.1 each line becomes an ErrorRecord (NativeCommandError) and, with
  $ErrorActionPreference='Stop', the first one is a terminating error.
* Process exit code for -Command/-EncodedCommand (ConsoleHost.DoRunspaceLoop in PowerShell's source;
  about_PowerShell_exe): ``exit N`` gives N; otherwise 0 when the last statement succeeded ($? true), 1
  when not (a native program's own code is not propagated).
"""
from __future__ import annotations

import re
from typing import Optional

from . import ast as A
from .values import (
    VOID,
    CIDict,
    ConversionError,
    ErrorRecord,
    Hashtable,
    NetException,
    PSTypeRef,
    ScriptBlock,
    eq,
    to_bool,
    to_int,
    to_number,
    to_string,
)


class PSError(Exception):
    """A terminating error carrying its ErrorRecord."""

    def __init__(self, record: ErrorRecord, script_terminating: bool = False):
        super().__init__(record.message)
        self.record = record
        self.script_terminating = script_terminating


class FlowBreak(Exception):
    def __init__(self, label=None):
        self.label = label


class FlowContinue(Exception):
    def __init__(self, label=None):
        self.label = label


class FlowReturn(Exception):
    pass


class FlowExit(Exception):
    def __init__(self, code: int):
        self.code = code


class NetError(Exception):
    """Raised by emulated .NET members; becomes a MethodInvocationException ('Exception calling ...')."""

    def __init__(self, type_name: str, message: str, **extra):
        super().__init__(message)
        self.exc = NetException(type_name, message, **extra)


def enumerate_value(v):
    """Items a value contributes to a pipeline (arrays and lists are unrolled, one level)."""
    if v is VOID:
        return []
    if isinstance(v, list):
        return v
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, (bytes, bytearray)):
        return list(v)
    if getattr(v, "_enumerable", False):
        return list(v.items)
    return [v]


def unwrap(items: list):
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return list(items)


class Collector(list):
    """An output sink that keeps objects (assignment, subexpressions)."""

    def emit(self, v):
        self.append(v)


TYPE_ALIASES = {
    "int": "System.Int32", "int32": "System.Int32", "long": "System.Int64", "int64": "System.Int64",
    "short": "System.Int16", "int16": "System.Int16", "byte": "System.Byte", "sbyte": "System.SByte",
    "uint32": "System.UInt32", "uint64": "System.UInt64", "uint16": "System.UInt16", "uint": "System.UInt32",
    "ulong": "System.UInt64", "double": "System.Double", "float": "System.Single", "single": "System.Single",
    "decimal": "System.Decimal", "string": "System.String", "char": "System.Char", "bool": "System.Boolean",
    "boolean": "System.Boolean", "object": "System.Object", "array": "System.Array", "void": "System.Void",
    "hashtable": "System.Collections.Hashtable", "ordered": "System.Collections.Specialized.OrderedDictionary",
    "pscustomobject": "System.Management.Automation.PSObject", "psobject": "System.Management.Automation.PSObject",
    "datetime": "System.DateTime", "datetimeoffset": "System.DateTimeOffset", "timespan": "System.TimeSpan",
    "version": "System.Version", "guid": "System.Guid", "regex": "System.Text.RegularExpressions.Regex",
    "scriptblock": "System.Management.Automation.ScriptBlock", "switch": "System.Management.Automation.SwitchParameter",
    "math": "System.Math", "convert": "System.Convert", "console": "System.Console",
    "environment": "System.Environment", "bitconverter": "System.BitConverter", "xml": "System.Xml.XmlDocument",
    "ipaddress": "System.Net.IPAddress", "uri": "System.Uri", "type": "System.Type",
    "psvariable": "System.Management.Automation.PSVariable",
    "wildcardpattern": "System.Management.Automation.WildcardPattern",
}


class Runtime:
    def __init__(self, ctx, script_text: str, *, error_xml: bool, out_writer=None, err_writer=None):
        from .formatting import ErrorWriter, OutDefault
        self.ctx = ctx
        self.host = ctx.host
        self.script = script_text
        self.globals = CIDict()
        self.scopes = [self.globals]
        self.functions = CIDict()
        self.try_depth = 0
        self.last_ok = True
        self.error_count = 0
        self.errors: list = []
        self.err_writer = err_writer or ErrorWriter(ctx, error_xml)
        self.out = out_writer or OutDefault(self)
        self.cwd = ctx.cwd
        self.error_capture: Optional[list] = None
        self.error_sink_stack: list = []
        from .members import Members
        self.members = Members(self)
        from .cmdlets import ALIASES, CMDLETS
        self.cmdlets = CMDLETS
        self.aliases = ALIASES
        self._ev_cache: dict = {}
        self._init_vars()

    # ------------------------------------------------------------------ variables
    def _init_vars(self):
        from .values import Version
        g = self.globals
        g["ErrorActionPreference"] = "Continue"
        g["ProgressPreference"] = "Continue"
        g["WarningPreference"] = "Continue"
        g["VerbosePreference"] = "SilentlyContinue"
        g["DebugPreference"] = "SilentlyContinue"
        g["InformationPreference"] = "SilentlyContinue"
        g["ConfirmPreference"] = "High"
        g["PSHOME"] = r"C:\Windows\System32\WindowsPowerShell\v1.0"
        g["HOME"] = self.ctx.env.get("USERPROFILE") or r"C:\Users\Administrator"
        g["PID"] = self.ctx.pid
        g["PSVersionTable"] = Hashtable([
            ("PSVersion", Version([5, 1, 17763, 1])), ("PSEdition", "Desktop"),
            ("PSCompatibleVersions", [Version([1, 0]), Version([2, 0]), Version([3, 0]), Version([4, 0]),
                                      Version([5, 0]), Version([5, 1, 17763, 1])]),
            ("BuildVersion", Version([10, 0, 17763, 1])), ("CLRVersion", Version([4, 0, 30319, 42000])),
            ("WSManStackVersion", Version([3, 0])), ("PSRemotingProtocolVersion", Version([2, 3])),
            ("SerializationVersion", Version([1, 1, 0, 1]))])
        g["MaximumHistoryCount"] = 4096

    def get_var(self, name: str, scope: Optional[str] = None):
        if scope == "env":
            return self.ctx.env.get(name)
        ln = name.lower()
        if ln == "true":
            return True
        if ln == "false":
            return False
        if ln == "null":
            return None
        if ln == "?":
            return self.last_ok
        if ln == "error":
            return list(self.errors)
        if ln == "psitem":
            name = "_"
        if ln == "pwd":
            from .members import PathInfo
            return PathInfo(self.cwd)
        if scope in ("global", "script"):
            return self.globals.get(name)
        for sc in reversed(self.scopes):
            if name in sc:
                return sc[name]
        return None

    def has_var(self, name: str) -> bool:
        return any(name in sc for sc in self.scopes) or name.lower() in ("true", "false", "null")

    def set_var(self, name: str, value, scope: Optional[str] = None):
        if scope == "env":
            if value is None or value == "":
                del self.ctx.env[name]
            else:
                self.ctx.env[name] = to_string(value)
            return
        ln = name.lower()
        if ln in ("true", "false", "?", "pid", "pshome", "host"):
            self.raise_error("System.Management.Automation.SessionStateUnauthorizedAccessException",
                             f"Cannot overwrite variable {name} because it is read-only or constant.",
                             "VariableNotWritable", "WriteError", target=name)
        if ln == "null":
            return
        if ln == "psitem":
            name = "_"
        if scope in ("global", "script"):
            self.globals[name] = value
            return
        self.scopes[-1][name] = value

    def eap(self) -> str:
        v = self.get_var("ErrorActionPreference")
        s = to_string(v) if not hasattr(v, "name") else v.name
        return s

    # ------------------------------------------------------------------ errors
    def make_record(self, exc_type: str, message: str, error_id: str, category: str, target=None, *,
                    command: Optional[str] = None, node=None, target_text=None, target_type=None,
                    inner: Optional[NetException] = None, activity: Optional[str] = None, **extra) -> ErrorRecord:
        exc = NetException(exc_type, message, inner, **extra)
        ext = (node.start, node.end) if node is not None else getattr(self, "cur_extent", None)
        return ErrorRecord(exc, error_id, category, target, activity=activity if activity is not None else (command or ""),
                           command=command, extent=ext, script=self.script, target_text=target_text,
                           target_type=target_type)

    def raise_error(self, exc_type, message, error_id, category, target=None, *, node=None, command=None,
                    script_terminating=False, **kw):
        rec = self.make_record(exc_type, message, error_id, category, target, node=node, command=command, **kw)
        raise PSError(rec, script_terminating)

    def runtime_error(self, message: str, error_id: str, category: str = "InvalidOperation", node=None,
                      exc="System.Management.Automation.RuntimeException", target=None, target_text=None,
                      target_type=None):
        rec = self.make_record(exc, message, error_id, category, target, node=node, target_text=target_text,
                               target_type=target_type)
        raise PSError(rec)

    def report(self, rec: ErrorRecord):
        """Write a record to the error stream (display) and $Error."""
        self.errors.insert(0, rec)
        self.error_count += 1
        if self.error_capture is not None:
            self.error_capture.append(rec)
            return
        from .formatting import format_error
        self.err_writer.write_error(format_error(rec))

    def write_error(self, rec: ErrorRecord, ea: Optional[str] = None):
        """A non-terminating error, with -ErrorAction ``ea`` or $ErrorActionPreference."""
        action = (ea or self.eap() or "Continue").lower()
        if action == "stop":
            # ActionPreferenceStopException wrapping the record; the record itself is what catch sees.
            raise PSError(rec)
        if action == "ignore":
            self.error_count += 1
            return
        if action == "silentlycontinue":
            self.errors.insert(0, rec)
            self.error_count += 1
            return
        self.report(rec)

    # ------------------------------------------------------------------ running
    def run_script(self, sb: A.ScriptBlockAst) -> int:
        code = None
        try:
            try:
                self.exec_block(sb.statements, self.out)
            finally:
                self.out.flush()
        except FlowExit as e:
            code = e.code
        except PSError as e:
            self.report(e.record)
            code = 1
        except (FlowReturn, FlowBreak, FlowContinue):
            pass
        if code is None:
            code = 0 if self.last_ok else 1
        return int(code) & 0xFFFFFFFF

    def exec_block(self, stmts, out):
        for st in stmts:
            self.exec_statement(st, out)

    def exec_statement(self, st, out):
        try:
            m = self._stmt_dispatch.get(type(st))
            if m is None:
                self.ev_pipeline_stmt(st, out)
            else:
                m(self, st, out)
        except PSError as e:
            if self.try_depth > 0 or e.script_terminating or self.eap().lower() == "stop":
                raise
            self.report(e.record)
            self.last_ok = False
        except ConversionError as e:
            rec = self.make_record("System.Management.Automation.PSInvalidCastException", e.message,
                                   e.error_id, "InvalidArgument", node=st)
            if self.try_depth > 0 or self.eap().lower() == "stop":
                raise PSError(rec) from None
            self.report(rec)
            self.last_ok = False
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, ZeroDivisionError, OverflowError,
                UnicodeError, OSError, RecursionError) as e:
            # A defect or a gap of this emulator, not PowerShell behaviour: reported loudly as an error record.
            rec = self.make_record("System.Management.Automation.RuntimeException",
                                   f"[windows-host-emulator internal error] {type(e).__name__}: {e}",
                                   "EmulatorInternalError", "NotSpecified", node=st)
            self.host.unsupported.append(f"internal error: {type(e).__name__}: {e}")
            if self.try_depth > 0 or self.eap().lower() == "stop":
                raise PSError(rec) from None
            self.report(rec)
            self.last_ok = False

    def emit(self, v, out):
        if v is VOID:
            return
        if isinstance(v, (list, tuple)):
            for x in v:
                out.append(x)
        elif isinstance(v, (bytes, bytearray)):
            for x in v:
                out.append(x)
        else:
            out.append(v)

    # statements --------------------------------------------------------------
    def st_pipeline(self, st, out):
        self.cur_extent = (st.start, st.end)
        before = self.error_count
        self.native_failed = False
        els = st.elements
        if len(els) == 1 and type(els[0]) is A.ExprElement and not els[0].redirs:
            v = self.ev(els[0].expr)
            if type(els[0].expr) is not A.IncDec:  # $i++ as a statement writes nothing
                self.emit(v, out)
            self.last_ok = self.error_count == before
            return
        results = self.run_elements(els, out)
        if results is not None:
            for x in results:
                out.append(x)
        self.last_ok = self.error_count == before and not self.native_failed

    ev_pipeline_stmt = st_pipeline

    def run_elements(self, els, out):
        inp = None
        n = len(els)
        for idx, el in enumerate(els):
            last = idx == n - 1
            if type(el) is A.ExprElement:
                if idx:
                    self.runtime_error("Expressions are only allowed as the first element of a pipeline.",
                                       "ExpressionsMustBeFirstInPipeline", "ParserError", node=el)
                res = self.with_redirs(el.redirs, lambda: enumerate_value(self.ev(el.expr)), el)
            else:
                res = self.with_redirs(el.redirs, lambda el=el, inp=inp, last=last:
                                       self.invoke_command(el, inp, direct=(last and out is self.out
                                                                            and not el.redirs)), el)
            inp = res if res is not None else []
        return inp

    def with_redirs(self, redirs, fn, node):
        if not redirs:
            return fn()
        merge_err = False
        discard_err = False
        err_file = None
        out_target = None
        out_append = False
        for r in redirs:
            if r.merge:
                if r.stream in ("2", "*") and r.merge == "1":
                    merge_err = True
                continue
            target = self.ev(r.target)
            is_null = target is None
            if r.stream == "1":
                out_target = "null" if is_null else to_string(target)
                out_append = r.append
            elif r.stream == "2":
                if is_null:
                    discard_err = True
                else:
                    err_file = (to_string(target), r.append)
            elif r.stream == "*":
                out_target = "null" if is_null else to_string(target)
                out_append = r.append
                discard_err = True
        saved = self.error_capture
        captured = []
        if merge_err or discard_err or err_file:
            self.error_capture = captured
        self.redir_stderr = merge_err or discard_err or bool(err_file)
        try:
            res = fn()
        finally:
            self.error_capture = saved
            self.redir_stderr = False
        if merge_err:
            res = list(res or []) + captured
        elif err_file:
            from .formatting import format_error
            text = "".join("\r\n".join(format_error(r)) + "\r\n" for r in captured)
            self.write_text_file(err_file[0], text, err_file[1], node)
        if out_target == "null":
            return []
        if out_target:
            from .formatting import out_string
            self.write_text_file(out_target, out_string(self, list(res or [])), out_append, node)
            return []
        return res

    def write_text_file(self, path: str, text: str, append: bool, node):
        """``>`` / ``>>`` is Out-File, whose default encoding in Windows PowerShell 5.1 is Unicode
        (UTF-16 LE with BOM) (about_Redirection; Out-File -Encoding default "unicode")."""
        fs = self.host.fs
        full = self.resolve_path(path, node)
        real = fs.real(full)
        if not real.parent.is_dir():
            self.runtime_error(f"Could not find a part of the path '{full}'.", "FileOpenFailure", "OpenError",
                               node=node, exc="System.IO.DirectoryNotFoundException")
        data = text.encode("utf-16-le")
        if append and real.exists():
            with open(real, "ab") as f:
                f.write(data)
        else:
            real.write_bytes(b"\xff\xfe" + data)

    def resolve_path(self, path: str, node=None) -> str:
        from .. import paths as wp
        try:
            return self.host.fs.full(path, self.cwd)
        except wp.WinPathError as e:
            self.raise_error("System.Management.Automation.DriveNotFoundException", str(e), "DriveNotFound",
                             "ObjectNotFound", target=e.drive, node=node)

    def st_assign(self, st, out):
        self.cur_extent = (st.start, st.end)
        before = self.error_count
        self.native_failed = False
        if isinstance(st.value, A.Pipeline):
            val = self.eval_pipeline_value(st.value)
        else:
            c = Collector()
            self.exec_statement(st.value, c)
            val = unwrap(c)
        self.assign(st.target, st.op, val, st)
        self.last_ok = self.error_count == before and not self.native_failed

    def eval_pipeline_value(self, p):
        els = p.elements
        if len(els) == 1 and type(els[0]) is A.ExprElement and not els[0].redirs:
            v = self.ev(els[0].expr)
            return None if v is VOID else v
        res = self.run_elements(els, None)
        return unwrap(list(res or []))

    def assign(self, target, op, val, node):
        if type(target) is A.Cast:
            from .convert import convert
            val = convert(self, val, target.typename, node)
            target = target.expr
        if op != "=":
            cur = self.ev(target)
            val = self.binop(op[0], cur, val, node)
        t = type(target)
        if t is A.Var:
            self.set_var(target.name, val, target.scope)
        elif t is A.Member:
            obj = self.ev(target.obj)
            name = target.name if isinstance(target.name, str) else to_string(self.ev(target.name))
            self.members.set(obj, name, val, node, static=target.static)
        elif t is A.Index:
            obj = self.ev(target.obj)
            idx = self.ev(target.index)
            self.members.set_index(obj, idx, val, node)
        elif t is A.ArrayLit:
            vals = enumerate_value(val)
            for k, item in enumerate(target.items):
                if k == len(target.items) - 1:
                    rest = vals[k:]
                    self.assign(item, "=", unwrap(rest) if len(rest) != 1 else rest[0], node)
                else:
                    self.assign(item, "=", vals[k] if k < len(vals) else None, node)
        else:
            self.runtime_error("The assignment expression is not valid. The input to an assignment operator must "
                               "be an object that is able to accept assignments, such as a variable or a property.",
                               "InvalidLeftHandSide", "ParserError", node=node)

    def st_if(self, st, out):
        for cond, block in st.clauses:
            if to_bool(self.cond_value(cond)):
                self.exec_block(block.statements, out)
                return
        if st.else_block is not None:
            self.exec_block(st.else_block.statements, out)

    def cond_value(self, cond):
        if isinstance(cond, A.Pipeline):
            v = self.eval_pipeline_value(cond)
            if isinstance(cond.elements[0], A.Command) or len(cond.elements) > 1:
                self.last_ok = True
            return v
        if isinstance(cond, A.Assign):
            self.st_assign(cond, None)
            return self.ev(cond.target)
        c = Collector()
        self.exec_statement(cond, c)
        return unwrap(c)

    def _loop_body(self, body, out, label) -> bool:
        """Runs a loop body; returns False when the loop must stop (break)."""
        try:
            self.exec_block(body.statements, out)
        except FlowBreak as b:
            if b.label and b.label != label:
                raise
            return False
        except FlowContinue as c:
            if c.label and c.label != label:
                raise
        return True

    def st_while(self, st, out):
        while to_bool(self.cond_value(st.cond)):
            if not self._loop_body(st.body, out, st.label):
                break

    def st_doloop(self, st, out):
        while True:
            if not self._loop_body(st.body, out, st.label):
                break
            c = to_bool(self.cond_value(st.cond))
            if (st.until and c) or (not st.until and not c):
                break

    def st_for(self, st, out):
        if st.init is not None:
            self.exec_statement(st.init, Collector())
        while st.cond is None or to_bool(self.cond_value(st.cond)):
            if not self._loop_body(st.body, out, st.label):
                break
            if st.iter is not None:
                self.exec_statement(st.iter, Collector())

    def st_foreach(self, st, out):
        v = self.cond_value(st.iterable)
        # about_Foreach: a collection is iterated; $null iterates zero times; any other value once.
        if v is None:
            items = []
        elif isinstance(v, (list, tuple, bytes, bytearray)):
            items = list(v)
        else:
            items = [v]
        for item in items:
            self.set_var(st.var, item)
            if not self._loop_body(st.body, out, st.label):
                break

    def st_switch(self, st, out):
        v = self.cond_value(st.value)
        items = enumerate_value(v) if isinstance(v, list) else [v]
        for item in items:
            matched = False
            try:
                for cond, block in st.clauses:
                    if isinstance(cond, A.ScriptBlockLit):
                        self.set_var("_", item)
                        ok = to_bool(self.eval_pipeline_value_nodes(cond.block.statements))
                    else:
                        cv = self.ev(cond)
                        ok = eq(item, cv) if not isinstance(item, str) else eq(item, to_string(cv))
                    if ok:
                        matched = True
                        self.set_var("_", item)
                        self.exec_block(block.statements, out)
                if not matched and st.default is not None:
                    self.set_var("_", item)
                    self.exec_block(st.default.statements, out)
            except FlowBreak:
                return
            except FlowContinue:
                continue

    def eval_pipeline_value_nodes(self, stmts):
        c = Collector()
        self.exec_block(stmts, c)
        return unwrap(c)

    def st_try(self, st, out):
        try:
            self.try_depth += 1
            try:
                self.exec_block(st.body.statements, out)
            finally:
                self.try_depth -= 1
        except PSError as e:
            rec = e.record
            for types, block in st.catches:
                if not types or any(self._catch_matches(rec, t) for t in types):
                    saved = self.get_var("_")
                    self.set_var("_", rec)
                    try:
                        self.exec_block(block.statements, out)
                    finally:
                        self.set_var("_", saved)
                    break
            else:
                if st.finally_ is not None:
                    self.exec_block(st.finally_.statements, out)
                raise
        except ConversionError as ce:
            rec = self.make_record("System.Management.Automation.PSInvalidCastException", ce.message,
                                   ce.error_id, "InvalidArgument", node=st)
            for types, block in st.catches:
                if not types or any(self._catch_matches(rec, t) for t in types):
                    self.set_var("_", rec)
                    self.exec_block(block.statements, out)
                    break
            else:
                if st.finally_ is not None:
                    self.exec_block(st.finally_.statements, out)
                raise PSError(rec)
        except BaseException:
            if st.finally_ is not None:
                self.exec_block(st.finally_.statements, out)
            raise
        if st.finally_ is not None:
            self.exec_block(st.finally_.statements, out)

    def _catch_matches(self, rec: ErrorRecord, typename: str) -> bool:
        from .values import exc_is_a
        # A catch type matches the exception or one it wraps (MethodInvocationException carries the .NET
        # exception as InnerException; PowerShell's handler search looks through the chain).
        exc = rec.exception
        while exc is not None:
            if exc_is_a(exc.type_name, typename):
                return True
            exc = exc.inner
        return False

    def st_throw(self, st, out):
        self.cur_extent = (st.start, st.end)
        if st.value is None:
            cur = self.get_var("_")
            if isinstance(cur, ErrorRecord):
                raise PSError(cur, True)
            rec = self.make_record("System.Management.Automation.RuntimeException", "ScriptHalted", "ScriptHalted",
                                   "OperationStopped", node=st)
            raise PSError(rec, True)
        v = self.eval_pipeline_value(st.value) if isinstance(st.value, A.Pipeline) else None
        if isinstance(v, ErrorRecord):
            raise PSError(v, True)
        if isinstance(v, NetException):
            rec = ErrorRecord(v, v.short, "OperationStopped", None, extent=(st.start, st.end), script=self.script)
            raise PSError(rec, True)
        msg = to_string(v)
        rec = self.make_record("System.Management.Automation.RuntimeException", msg, msg, "OperationStopped",
                               target=v, node=st)
        raise PSError(rec, True)

    def st_return(self, st, out):
        if st.value is not None:
            v = self.eval_pipeline_value(st.value)
            self.emit(v, out)
        raise FlowReturn()

    def st_exit(self, st, out):
        code = 0
        if st.value is not None:
            v = self.eval_pipeline_value(st.value)
            try:
                code = to_int(v) if v is not None else 0
            except ConversionError:
                code = 0
        raise FlowExit(code)

    def st_break(self, st, out):
        raise FlowBreak(st.label)

    def st_continue(self, st, out):
        raise FlowContinue(st.label)

    def st_functiondef(self, st, out):
        self.functions[st.name] = st.body

    _stmt_dispatch: dict = {}

    # ------------------------------------------------------------------ expressions
    def ev(self, node):
        m = self._ev_dispatch.get(type(node))
        if m is None:
            raise RuntimeError(f"cannot evaluate {type(node).__name__}")
        return m(self, node)

    def ev_const(self, n):
        return n.value

    def ev_var(self, n):
        return self.get_var(n.name, n.scope)

    def ev_strexpand(self, n):
        ofs = self.get_var("OFS")
        ofs = " " if ofs is None else to_string(ofs)
        parts = []
        for p in n.parts:
            if isinstance(p, str):
                parts.append(p)
            else:
                v = self.ev(p)
                parts.append(to_string(v, ofs))
        return "".join(parts)

    def ev_arraylit(self, n):
        return [self.ev(x) for x in n.items]

    def ev_subexpr(self, n):
        c = Collector()
        self.exec_block(n.statements, c)
        return unwrap(c) if len(c) != 1 else c[0]

    def ev_arraysub(self, n):
        c = Collector()
        self.exec_block(n.statements, c)
        return list(c)

    def ev_paren(self, n):
        inner = n.pipeline
        if isinstance(inner, A.Assign):
            self.st_assign(inner, None)
            return self.ev(inner.target)
        if isinstance(inner, A.Pipeline):
            return self.eval_pipeline_value(inner)
        c = Collector()
        self.exec_statement(inner, c)
        return unwrap(c)

    def ev_hashlit(self, n):
        h = Hashtable(ordered=n.ordered)
        for k, v in n.pairs:
            key = self.ev(k)
            if isinstance(v, A.Pipeline):
                val = self.eval_pipeline_value(v)
            else:
                c = Collector()
                self.exec_statement(v, c)
                val = unwrap(c)
            if key in h:
                self.runtime_error(f"Duplicate keys '{to_string(key)}' are not allowed in hash literals.",
                                   "DuplicateKeyInHashLiteral", "ParserError", node=k)
            h[key] = val
        return h

    def ev_scriptblocklit(self, n):
        return ScriptBlock(n.block, n.block.text)

    def ev_typelit(self, n):
        return self.resolve_type(n.name, n)

    def resolve_type(self, name: str, node=None) -> PSTypeRef:
        full = self.type_fullname(name)
        if full is None:
            self.runtime_error(f"Unable to find type [{name}].", "TypeNotFound", "InvalidOperation", node=node,
                               target_text=name, target_type="TypeName")
        return PSTypeRef(full)

    def type_fullname(self, name: str):
        from .members import KNOWN_TYPES
        from .values import EXC_PARENT
        n = name.strip()
        arr = ""
        while n.endswith("[]"):
            arr += "[]"
            n = n[:-2].strip()
        ln = n.lower()
        if ln in TYPE_ALIASES:
            return TYPE_ALIASES[ln] + arr
        for cand in (ln, "system." + ln):
            if cand in KNOWN_TYPES:
                return KNOWN_TYPES[cand] + arr
            for e in EXC_PARENT:
                if e.lower() == cand:
                    return e + arr
        return None

    def ev_cast(self, n):
        from .convert import convert
        v = self.ev(n.expr)
        return convert(self, v, n.typename, n)

    def ev_unary(self, n):
        op = n.op
        if op == "not":
            return not to_bool(self.ev(n.operand))
        v = self.ev(n.operand)
        if op == "-":
            num = to_number(v)
            return -num
        if op == "+":
            return to_number(v)
        if op == "bnot":
            return ~to_int(v)
        if op == "join":
            return "".join(to_string(x) for x in enumerate_value(v))
        if op == "split":
            return [s for s in re.split(r"\s+", to_string(v).strip())] if to_string(v).strip() else [""]
        raise RuntimeError(op)

    def ev_incdec(self, n):
        cur = self.ev(n.target)
        new = to_number(cur) + (1 if n.op == "++" else -1)
        self.assign(n.target, "=", new, n)
        return new if n.prefix else cur

    def ev_member(self, n):
        obj = self.ev(n.obj)
        name = n.name if isinstance(n.name, str) else to_string(self.ev(n.name))
        if n.static:
            return self.members.get_static(obj, name, n)
        return self.members.get(obj, name, n)

    def ev_invoke(self, n):
        obj = self.ev(n.obj)
        name = n.name if isinstance(n.name, str) else to_string(self.ev(n.name))
        args = [self.ev(a) for a in n.args]
        if n.static:
            return self.members.call_static(obj, name, args, n)
        return self.members.call(obj, name, args, n)

    def ev_index(self, n):
        obj = self.ev(n.obj)
        idx = self.ev(n.index)
        return self.members.index(obj, idx, n)

    def ev_binary(self, n):
        op = n.op
        if op == "and":
            return to_bool(self.ev(n.left)) and to_bool(self.ev(n.right))
        if op == "or":
            return to_bool(self.ev(n.left)) or to_bool(self.ev(n.right))
        a = self.ev(n.left)
        b = self.ev(n.right)
        return self.binop(op, a, b, n)

    def binop(self, op, a, b, node):
        from .operators import binop
        return binop(self, op, a, b, node)

    # ------------------------------------------------------------------ commands
    def invoke_command(self, cmd: A.Command, inp, direct: bool = False):
        from .invoke import invoke_command
        return invoke_command(self, cmd, inp, direct)

    def call_scriptblock(self, sb: ScriptBlock, dollar_under=None, args=None, new_scope=False, inp=None):
        """Run a script block and return its output list.  ForEach-Object / Where-Object blocks run in the
        caller's scope (dot-sourced); ``& {}`` gets a new scope."""
        c = Collector()
        if new_scope:
            self.scopes.append(CIDict())
        saved_under = self.get_var("_")
        if dollar_under is not ...:
            self.scopes[-1]["_"] = dollar_under
        if args is not None:
            self.scopes[-1]["args"] = list(args)
        if inp is not None:
            self.scopes[-1]["input"] = list(inp)
        try:
            if sb.ast.params and new_scope:
                self._bind_script_params(sb.ast.params, args or [], {})
            try:
                self.exec_block(sb.ast.statements, c)
            except FlowReturn:
                pass
        finally:
            if new_scope:
                self.scopes.pop()
            elif dollar_under is not ...:
                self.scopes[-1]["_"] = saved_under
        return list(c)

    def _bind_script_params(self, params, positional, named):
        pos = list(positional)
        for p in params:
            if p.name in named:
                v = named.pop(p.name)
            elif pos:
                v = pos.pop(0)
            elif p.default is not None:
                v = self.ev(p.default)
            else:
                v = None
            if p.typename and v is not None:
                from .convert import convert
                v = convert(self, v, p.typename, p)
            self.scopes[-1][p.name] = v
        self.scopes[-1]["args"] = pos


Runtime._stmt_dispatch = {
    A.Pipeline: Runtime.st_pipeline, A.Assign: Runtime.st_assign, A.If: Runtime.st_if,
    A.While: Runtime.st_while, A.DoLoop: Runtime.st_doloop, A.For: Runtime.st_for,
    A.ForEach: Runtime.st_foreach, A.Try: Runtime.st_try, A.Throw: Runtime.st_throw,
    A.Return: Runtime.st_return, A.Exit: Runtime.st_exit, A.Break: Runtime.st_break,
    A.Continue: Runtime.st_continue, A.FunctionDef: Runtime.st_functiondef, A.Switch: Runtime.st_switch,
}
Runtime._ev_dispatch = {
    A.Const: Runtime.ev_const, A.Var: Runtime.ev_var, A.StrExpand: Runtime.ev_strexpand,
    A.ArrayLit: Runtime.ev_arraylit, A.SubExpr: Runtime.ev_subexpr, A.ArraySub: Runtime.ev_arraysub,
    A.Paren: Runtime.ev_paren, A.HashLit: Runtime.ev_hashlit, A.ScriptBlockLit: Runtime.ev_scriptblocklit,
    A.TypeLit: Runtime.ev_typelit, A.Cast: Runtime.ev_cast, A.Unary: Runtime.ev_unary,
    A.IncDec: Runtime.ev_incdec, A.Member: Runtime.ev_member, A.Invoke: Runtime.ev_invoke,
    A.Index: Runtime.ev_index, A.Binary: Runtime.ev_binary,
}
