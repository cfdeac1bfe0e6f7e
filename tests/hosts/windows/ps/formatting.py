"""Output formatting: Out-Default/Out-String text, ConvertTo-Json, the error view and CLIXML.

* Error stream as CLIXML: PowerShell's ConsoleHost writes the error stream serialized ("#< CLIXML" line,
  then <Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"> with one
  <S S="Error"> element per line of the formatted error, CR LF encoded as _x000D__x000A_) when the shell
  is non-interactive, stderr is redirected, -OutputFormat was not given and the command came from
  -EncodedCommand (ConsoleHost.ErrorFormat in PowerShell's source; PowerShell issues #5912, #16678;
  pywinrm __init__.py Session._clean_error_msg parses exactly this).  Otherwise errors are text.
* Error view (Windows PowerShell 5.1 "NormalView"): "<command> : <message>", "At line:L char:C", the source
  line and a ~ underline, "    + CategoryInfo          : ...", "    + FullyQualifiedErrorId : ...".
  Parse errors put the position first, then the message.
* ConvertTo-Json (5.1, JavaScriptSerializer based): '"name":  value' (two spaces after the colon) and
  members of a nested object/array indented 4 columns past the column of its opening bracket (the 5.1
  layout; PowerShell 6 kept the 5.1 prettifier as ConvertToPrettyJsonString); -Compress gives no spaces;
  default -Depth 2, deeper objects become their string form; DateTime as
  "\\/Date(<ms since epoch>)\\/"; enums as numbers; '<', '>', '&', "'" escaped as \\u003c \\u003e \\u0026
  \\u0027 (JavaScriptSerializer HTML-safe escaping).
# ASSUMPTION: table/list layouts of Out-Default only approximate PowerShell's (column widths from the
# data, numbers right-aligned, a blank line before and two after); scripts that need exact text should
# format it themselves (the product does, through ConvertTo-Json / explicit strings).
"""
from __future__ import annotations

import math

from ..proc import encode
from .values import (
    DateTime,
    DateTimeOffset,
    EnumValue,
    ErrorRecord,
    Hashtable,
    NetObject,
    PSObject,
    PSTypeRef,
    ScriptBlock,
    TimeSpan,
    fmt_double,
    to_string,
    type_full,
)

SCALARS = (str, int, float, bool)


def is_scalar(v) -> bool:
    return (v is None or isinstance(v, SCALARS) or isinstance(v, (EnumValue, PSTypeRef, ScriptBlock))
            or getattr(v, "display_string", False))


def display_scalar(v) -> str:
    if isinstance(v, DateTime):
        return v.long_string()
    return to_string(v)


def prop_list(v):
    if isinstance(v, PSObject):
        return list(v.props.items())
    if isinstance(v, Hashtable):
        return [("Name", k) for k in v.keys()]
    if isinstance(v, NetObject):
        props = v.props()
        dp = v.default_props()
        if dp:
            d = dict((k.lower(), (k, x)) for k, x in props)
            return [d[n.lower()] for n in dp if n.lower() in d]
        return props
    return []


def cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        inner = ", ".join(cell(x) for x in v[:4])
        return "{" + inner + (", ..." if len(v) > 4 else "") + "}"
    if isinstance(v, DateTime):
        d = v.dt
        h = d.hour % 12 or 12
        return f"{d.month}/{d.day}/{d.year} {h}:{d.minute:02d}:{d.second:02d} {'AM' if d.hour < 12 else 'PM'}"
    return to_string(v)


def shape_key(v):
    if isinstance(v, Hashtable):
        return ("hashtable",)
    if getattr(v, "type_name", "") in ("System.IO.FileInfo", "System.IO.DirectoryInfo"):
        return ("filesystem",)
    return (type_full(v),) + tuple(k for k, _ in prop_list(v))


def format_table(rows_props: list[list[tuple[str, object]]]) -> str:
    headers = [k for k, _ in rows_props[0]]
    rows = [[cell(x) for _, x in r] for r in rows_props]
    numeric = [all(isinstance(r[i][1], (int, float)) and not isinstance(r[i][1], bool) for r in rows_props
                   if r[i][1] is not None) and any(r[i][1] is not None for r in rows_props)
               for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = []

    def fmt(vals, under=False):
        parts = []
        for i, v in enumerate(vals):
            last = i == len(vals) - 1
            if numeric[i]:
                parts.append(v.rjust(widths[i]))
            else:
                parts.append(v if last else v.ljust(widths[i]))
        return " ".join(parts).rstrip()

    lines.append(fmt(headers))
    lines.append(fmt(["-" * len(h) for h in headers]))
    for r in rows:
        lines.append(fmt(r))
    return "\r\n" + "\r\n".join(lines) + "\r\n\r\n\r\n"


def format_list(items_props: list[list[tuple[str, object]]]) -> str:
    out = []
    for props in items_props:
        w = max((len(k) for k, _ in props), default=0)
        out.append("\r\n".join(f"{k.ljust(w)} : {cell(v)}" for k, v in props))
    return "\r\n" + "\r\n\r\n".join(out) + "\r\n\r\n\r\n"


def format_filesystem(items) -> str:
    """Get-ChildItem / Get-Item display: a "Directory:" header per folder, then Mode, LastWriteTime, Length,
    Name (FileSystem.format.ps1xml children view)."""
    out = []
    cur = None
    for it in items:
        props = dict(it.props())
        parent = props.get("PSParentPath", "").split("::", 1)[-1]
        if parent != cur:
            if cur is not None:
                out.append("\r\n")
            cur = parent
            out.append(f"\r\n\r\n    Directory: {parent}\r\n\r\n\r\n")
            out.append("Mode                LastWriteTime         Length Name\r\n")
            out.append("----                -------------         ------ ----\r\n")
        d = props["LastWriteTime"].dt
        h = d.hour % 12 or 12
        stamp = f"{d.month:>2}/{d.day:>2}/{d.year} {h:>2}:{d.minute:02d} {'AM' if d.hour < 12 else 'PM'}"
        length = "" if it.is_dir else str(props.get("Length") or 0)
        out.append(f"{props['Mode']:<6}       {stamp} {length:>14} {props['Name']}\r\n")
    out.append("\r\n\r\n")
    return "".join(out)


def format_group(items) -> str:
    first = items[0]
    if getattr(first, "type_name", "") in ("System.IO.FileInfo", "System.IO.DirectoryInfo"):
        return format_filesystem(items)
    if isinstance(first, Hashtable):
        rows = []
        for h in items:
            rows += [[("Name", k), ("Value", v)] for k, v in h.items()]
        return format_table(rows) if rows else ""
    props = [prop_list(x) for x in items]
    if not props[0]:
        return "".join(to_string(x) + "\r\n" for x in items)
    if len(props[0]) <= 4:
        return format_table(props)
    return format_list(props)


def format_objects(rt, items) -> str:
    """Out-String / Out-Default text for a list of objects."""
    out = []
    group = []

    def flush():
        if group:
            out.append(format_group(group))
            group.clear()

    for x in items:
        if x is None:
            continue
        if is_scalar(x) or isinstance(x, (DateTime, DateTimeOffset, TimeSpan)):
            flush()
            out.append(display_scalar(x) + "\r\n")
            continue
        if isinstance(x, ErrorRecord):
            flush()
            out.append("\r\n".join(format_error(x)) + "\r\n")
            continue
        if isinstance(x, (bytes, bytearray)):
            flush()
            out.append("".join(f"{b}\r\n" for b in x))
            continue
        if isinstance(x, list):
            flush()
            out.append(format_objects(rt, x))
            continue
        if group and shape_key(group[0]) != shape_key(x):
            flush()
        group.append(x)
    flush()
    return "".join(out)


def out_string(rt, items) -> str:
    return format_objects(rt, items)


class OutDefault:
    """The host's Out-Default: formats objects of a top-level statement onto stdout."""

    def __init__(self, rt):
        self.rt = rt
        self.pending: list = []

    def append(self, v):
        if v is None:
            return
        if is_scalar(v) or isinstance(v, (DateTime, DateTimeOffset, TimeSpan)):
            self.flush()
            self.rt.ctx.out(display_scalar(v) + "\r\n")
            return
        self.pending.append(v)

    emit = append

    def flush(self):
        if self.pending:
            items = self.pending
            self.pending = []
            self.rt.ctx.out(format_objects(self.rt, items))


# ------------------------------------------------------------------------------------------------ errors
def position_lines(rec: ErrorRecord) -> list[str]:
    if not rec.extent or not rec.script:
        return []
    start, end = rec.extent
    s = rec.script
    line_no = s.count("\n", 0, start) + 1
    ls = s.rfind("\n", 0, start) + 1
    le = s.find("\n", start)
    if le < 0:
        le = len(s)
    line = s[ls:le].rstrip("\r")
    col = start - ls + 1
    width = max(1, min(end, ls + len(line)) - start)
    return [f"At line:{line_no} char:{col}", "+ " + line, "+ " + " " * (col - 1) + "~" * width]


def format_error(rec: ErrorRecord) -> list[str]:
    if rec.error_id == "NativeCommandErrorMessage":
        return [rec.message]
    info = ["    + CategoryInfo          : " + rec.category_info(),
            "    + FullyQualifiedErrorId : " + rec.error_id]
    msg_lines = rec.message.replace("\r\n", "\n").split("\n")
    if rec.category == "ParserError" and rec.exception.type_name.endswith("ParseException"):
        return position_lines(rec) + msg_lines + info + [" "]
    prefix = f"{rec.command} : " if rec.command else ""
    lines = [prefix + msg_lines[0]] + msg_lines[1:]
    return lines + position_lines(rec) + info + [" "]


def clixml_escape(s: str) -> str:
    out = []
    for i, c in enumerate(s):
        o = ord(c)
        if c == "_" and s[i + 1:i + 2] == "x":
            out.append("_x005F_")
        elif o < 0x20 or 0x7F <= o <= 0x9F or 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            out.append(f"_x{o:04X}_")
        elif c == "&":
            out.append("&amp;")
        elif c == "<":
            out.append("&lt;")
        elif c == ">":
            out.append("&gt;")
        else:
            out.append(c)
    return "".join(out)


class ErrorWriter:
    def __init__(self, ctx, xml: bool):
        self.ctx = ctx
        self.xml = xml
        self.started = False

    def _start(self):
        if not self.started:
            self.started = True
            self.ctx.stderr.write(b"#< CLIXML\r\n<Objs Version=\"1.1.0.1\" "
                                  b"xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">")

    def write_error(self, lines: list[str]):
        if self.xml:
            self._start()
            body = "".join(f'<S S="Error">{clixml_escape(line + chr(13) + chr(10))}</S>' for line in lines)
            self.ctx.stderr.write(body.encode("utf-8"))
        else:
            self.ctx.stderr.write(encode("".join(line + "\r\n" for line in lines), self.ctx.codec))

    def write_stream(self, kind: str, text: str):
        if self.xml:
            self._start()
            self.ctx.stderr.write(f'<S S="{kind}">{clixml_escape(text + chr(13) + chr(10))}</S>'.encode("utf-8"))
        else:
            self.ctx.stdout.write(encode(text + "\r\n", self.ctx.codec))

    def close(self):
        if self.started:
            self.ctx.stderr.write(b"</Objs>")


# ------------------------------------------------------------------------------------------------ JSON
def _jstr(s: str) -> str:
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\b":
            out.append("\\b")
        elif c == "\f":
            out.append("\\f")
        elif o < 0x20 or c in "<>&'":
            out.append(f"\\u{o:04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _jnum(v) -> str:
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return _jstr(fmt_double(v))
        return fmt_double(v)
    return str(v)


def to_json(rt, v, depth: int = 2, compress: bool = False) -> str:
    return _json(rt, v, depth, 0, compress)


def _json_props(v):
    if isinstance(v, PSObject):
        return list(v.props.items())
    if isinstance(v, Hashtable):
        return [(to_string(k), x) for k, x in v.items()]
    if isinstance(v, NetObject):
        return v.props()
    return []


def _json(rt, v, depth, level, compress, col=0) -> str:
    """JSON text of ``v``; ``col`` is the column where the value starts (for the 5.1 layout, where nested
    containers indent their members 4 columns past the container's own opening bracket)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return _jnum(v)
    if isinstance(v, str):
        return _jstr(v)
    if isinstance(v, EnumValue):
        return str(v.value)
    if isinstance(v, DateTime):
        return '"\\/Date(' + str(v.unix_ms()) + ')\\/"'
    if isinstance(v, (ScriptBlock, PSTypeRef)):
        return _jstr(to_string(v))
    inner = " " * (col + 4)
    close = "\r\n" + " " * col
    if isinstance(v, (list, bytes, bytearray)) or getattr(v, "_enumerable", False):
        items = list(v.items) if getattr(v, "_enumerable", False) else list(v)
        if level > depth:
            return _jstr(" ".join(to_string(x) for x in items))
        if compress:
            return "[" + ",".join(_json(rt, x, depth, level + 1, True) for x in items) + "]"
        if not items:
            return "[\r\n" + close + "]"
        parts = [inner + _json(rt, x, depth, level + 1, False, col + 4) for x in items]
        return "[\r\n" + ",\r\n".join(parts) + close + "]"
    if level > depth:
        return _jstr(to_string(v))
    props = _json_props(v)
    if compress:
        return "{" + ",".join(_jstr(k) + ":" + _json(rt, x, depth, level + 1, True) for k, x in props) + "}"
    if not props:
        return "{\r\n" + close + "}"
    parts = []
    for k, x in props:
        head = _jstr(k) + ":  "
        parts.append(inner + head + _json(rt, x, depth, level + 1, False, col + 4 + len(head)))
    return "{\r\n" + ",\r\n".join(parts) + close + "}"


def _indent(text: str, ind: str) -> str:
    return "\r\n".join(ind + line for line in text.split("\r\n"))
