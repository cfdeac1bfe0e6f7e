"""Values of the PowerShell subset and the conversion rules of the language.

Sources: about_Type_Conversion (PowerShell's conversion rules: the left operand decides the comparison
type; string conversions use the invariant culture), about_Comparison_Operators (string comparisons are
case-insensitive unless the c-prefixed form is used; a collection on the left filters), about_Arithmetic_Operators
(string + x concatenates; array + x appends; integer division yields a double when not exact;
[int] casts round half to even), about_Booleans (truthiness of $null, 0, '', empty arrays and of a
one-element array), about_Hash_Tables (keys are case-insensitive), about_Automatic_Variables ($OFS " ").
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)


class Void:
    """Result of a method returning void: writes nothing to the pipeline."""
    _inst = None

    def __new__(cls):
        if cls._inst is None:
            cls._inst = super().__new__(cls)
        return cls._inst

    def __repr__(self):
        return "VOID"


VOID = Void()


# ------------------------------------------------------------------------------------------------ objects
class CIDict:
    """Ordered dictionary with case-insensitive string keys (Hashtable / PSObject properties)."""

    __slots__ = ("_d",)

    def __init__(self, items=None):
        self._d: dict = {}
        if items:
            for k, v in items:
                self[k] = v

    @staticmethod
    def _key(k):
        return k.casefold() if isinstance(k, str) else k

    def __getitem__(self, k):
        return self._d[self._key(k)][1]

    def get(self, k, default=None):
        e = self._d.get(self._key(k))
        return e[1] if e else default

    def __setitem__(self, k, v):
        kk = self._key(k)
        old = self._d.get(kk)
        self._d[kk] = (old[0] if old else k, v)

    def __delitem__(self, k):
        del self._d[self._key(k)]

    def pop(self, k, default=None):
        e = self._d.pop(self._key(k), None)
        return e[1] if e else default

    def __contains__(self, k):
        return self._key(k) in self._d

    def keys(self):
        return [e[0] for e in self._d.values()]

    def values(self):
        return [e[1] for e in self._d.values()]

    def items(self):
        return [(e[0], e[1]) for e in self._d.values()]

    def __len__(self):
        return len(self._d)

    def copy(self):
        c = type(self)()
        c._d = dict(self._d)
        return c


class Hashtable(CIDict):
    """System.Collections.Hashtable (or OrderedDictionary when ``ordered``)."""

    __slots__ = ("ordered",)

    def __init__(self, items=None, ordered=False):
        super().__init__(items)
        self.ordered = ordered

    def copy(self):
        c = Hashtable(ordered=self.ordered)
        c._d = dict(self._d)
        return c

    @property
    def type_name(self):
        return "System.Collections.Specialized.OrderedDictionary" if self.ordered else "System.Collections.Hashtable"


class PSObject:
    """A PSCustomObject: ordered, case-insensitive note properties."""

    __slots__ = ("props", "type_names")

    def __init__(self, items=None, type_names=None):
        self.props = CIDict(items)
        self.type_names = type_names or ["System.Management.Automation.PSCustomObject", "System.Object"]

    type_name = "System.Management.Automation.PSCustomObject"


class NetObject:
    """Base of emulated .NET objects.  ``props()`` lists (name, value) for formatting/serialisation;
    ``member(name)`` returns a property value or raises KeyError."""

    type_name = "System.Object"
    base_types: tuple = ()

    def props(self) -> list[tuple[str, Any]]:
        return []

    def default_props(self) -> list[str] | None:
        return None

    def member(self, name: str):
        for k, v in self.props():
            if k.casefold() == name.casefold():
                return v
        raise KeyError(name)

    def set_member(self, name: str, value) -> bool:
        return False

    def to_string(self) -> str:
        return self.type_name


class EnumValue:
    __slots__ = ("type_name", "name", "value")

    def __init__(self, type_name: str, name: str, value: int):
        self.type_name = type_name
        self.name = name
        self.value = value

    def __repr__(self):
        return f"{self.type_name}::{self.name}"


class Version(NetObject):
    type_name = "System.Version"

    def __init__(self, parts: list[int]):
        self.parts = parts

    @classmethod
    def parse(cls, s: str) -> "Version":
        s = s.strip()
        if not re.fullmatch(r"\d+(\.\d+){1,3}", s):
            raise ValueError(s)
        return cls([int(p) for p in s.split(".")])

    def props(self):
        p = self.parts + [-1] * (4 - len(self.parts))
        return [("Major", p[0]), ("Minor", p[1]), ("Build", p[2]), ("Revision", p[3]),
                ("MajorRevision", -1 if p[3] < 0 else p[3] >> 16), ("MinorRevision", -1 if p[3] < 0 else p[3] & 0xFFFF)]

    def default_props(self):
        return ["Major", "Minor", "Build", "Revision"]

    def key(self):
        return tuple(self.parts + [-1] * (4 - len(self.parts)))

    def to_string(self):
        return ".".join(str(p) for p in self.parts)


class DateTime(NetObject):
    """System.DateTime (kind Utc, Local or Unspecified; this host's local zone is UTC)."""

    type_name = "System.DateTime"

    def __init__(self, dt: datetime, kind: str = "Local"):
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        self.dt = dt.astimezone(timezone.utc)
        self.kind = kind

    def ticks(self) -> int:
        delta = self.dt - DOTNET_EPOCH
        return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10

    def props(self):
        d = self.dt
        return [("DisplayHint", EnumValue("Microsoft.PowerShell.Commands.DisplayHintType", "DateTime", 2)),
                ("Date", DateTime(d.replace(hour=0, minute=0, second=0, microsecond=0), self.kind)),
                ("Day", d.day), ("DayOfWeek", EnumValue("System.DayOfWeek", d.strftime("%A"), (d.weekday() + 1) % 7)),
                ("DayOfYear", d.timetuple().tm_yday), ("Hour", d.hour),
                ("Kind", EnumValue("System.DateTimeKind", self.kind, {"Unspecified": 0, "Utc": 1, "Local": 2}[self.kind])),
                ("Millisecond", d.microsecond // 1000), ("Minute", d.minute), ("Month", d.month),
                ("Second", d.second), ("Ticks", self.ticks()),
                ("TimeOfDay", TimeSpan(timedelta(hours=d.hour, minutes=d.minute, seconds=d.second,
                                                 microseconds=d.microsecond))),
                ("Year", d.year)]

    def to_string(self):
        # PowerShell converts DateTime to string with the invariant culture (about_Type_Conversion).
        return self.dt.strftime("%m/%d/%Y %H:%M:%S")

    def long_string(self):
        # Default Out-Default display (en-US "F" pattern: dddd, MMMM d, yyyy h:mm:ss tt)
        d = self.dt
        h = d.hour % 12 or 12
        return f"{d.strftime('%A, %B')} {d.day}, {d.year} {h}:{d.minute:02d}:{d.second:02d} {'AM' if d.hour < 12 else 'PM'}"

    def unix_ms(self) -> int:
        delta = self.dt - EPOCH
        return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


class DateTimeOffset(NetObject):
    type_name = "System.DateTimeOffset"

    def __init__(self, dt: datetime):
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        self.dt = dt

    def props(self):
        u = self.dt.astimezone(timezone.utc)
        return [("DateTime", DateTime(self.dt, "Unspecified")), ("UtcDateTime", DateTime(u, "Utc")),
                ("LocalDateTime", DateTime(u, "Local")), ("Date", DateTime(self.dt.replace(
                    hour=0, minute=0, second=0, microsecond=0), "Unspecified")),
                ("Day", self.dt.day), ("Hour", self.dt.hour), ("Millisecond", self.dt.microsecond // 1000),
                ("Minute", self.dt.minute), ("Month", self.dt.month),
                ("Offset", TimeSpan(self.dt.utcoffset() or timedelta(0))), ("Second", self.dt.second),
                ("Ticks", DateTime(self.dt).ticks()), ("UtcTicks", DateTime(u).ticks()), ("Year", self.dt.year)]

    def to_string(self):
        off = self.dt.utcoffset() or timedelta(0)
        sign = "-" if off < timedelta(0) else "+"
        off = abs(off)
        return self.dt.strftime("%m/%d/%Y %H:%M:%S") + f" {sign}{off.seconds // 3600:02d}:{off.seconds % 3600 // 60:02d}"

    def unix_ms(self) -> int:
        delta = self.dt.astimezone(timezone.utc) - EPOCH
        return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


class TimeSpan(NetObject):
    type_name = "System.TimeSpan"

    def __init__(self, td: timedelta):
        self.td = td

    def props(self):
        td = self.td
        total = td.total_seconds()
        sign = -1 if total < 0 else 1
        a = abs(td)
        return [("Ticks", int(total * 10_000_000)), ("Days", sign * a.days), ("Hours", sign * (a.seconds // 3600)),
                ("Milliseconds", sign * (a.microseconds // 1000)), ("Minutes", sign * (a.seconds % 3600 // 60)),
                ("Seconds", sign * (a.seconds % 60)), ("TotalDays", total / 86400), ("TotalHours", total / 3600),
                ("TotalMilliseconds", total * 1000), ("TotalMinutes", total / 60), ("TotalSeconds", total)]

    def to_string(self):
        td = self.td
        neg = td < timedelta(0)
        a = abs(td)
        hms = f"{a.seconds // 3600:02d}:{a.seconds % 3600 // 60:02d}:{a.seconds % 60:02d}"
        s = (f"{a.days}." if a.days else "") + hms + (f".{a.microseconds * 10:07d}" if a.microseconds else "")
        return ("-" if neg else "") + s


class ScriptBlock:
    __slots__ = ("ast", "text")

    def __init__(self, ast, text):
        self.ast = ast
        self.text = text

    type_name = "System.Management.Automation.ScriptBlock"


class PSTypeRef:
    """A type literal value ([IO.File])."""

    __slots__ = ("full_name",)

    def __init__(self, full_name: str):
        self.full_name = full_name

    type_name = "System.RuntimeType"

    @property
    def name(self):
        return self.full_name.rsplit(".", 1)[-1]


# ------------------------------------------------------------------------------------------------ errors
EXC_PARENT = {
    "System.Exception": None,
    "System.SystemException": "System.Exception",
    "System.IO.IOException": "System.SystemException",
    "System.IO.FileNotFoundException": "System.IO.IOException",
    "System.IO.DirectoryNotFoundException": "System.IO.IOException",
    "System.IO.EndOfStreamException": "System.IO.IOException",
    "System.UnauthorizedAccessException": "System.SystemException",
    "System.ArgumentException": "System.SystemException",
    "System.ArgumentNullException": "System.ArgumentException",
    "System.ArgumentOutOfRangeException": "System.ArgumentException",
    "System.FormatException": "System.SystemException",
    "System.InvalidOperationException": "System.SystemException",
    "System.ObjectDisposedException": "System.InvalidOperationException",
    "System.NotSupportedException": "System.SystemException",
    "System.InvalidCastException": "System.SystemException",
    "System.DivideByZeroException": "System.ArithmeticException",
    "System.ArithmeticException": "System.SystemException",
    "System.OverflowException": "System.ArithmeticException",
    "System.ComponentModel.Win32Exception": "System.Runtime.InteropServices.ExternalException",
    "System.Runtime.InteropServices.ExternalException": "System.SystemException",
    "System.Management.Automation.RuntimeException": "System.SystemException",
    "System.Management.Automation.ItemNotFoundException": "System.Management.Automation.SessionStateException",
    "System.Management.Automation.SessionStateException": "System.Management.Automation.RuntimeException",
    "System.Management.Automation.DriveNotFoundException": "System.Management.Automation.SessionStateException",
    "System.Management.Automation.CommandNotFoundException": "System.Management.Automation.RuntimeException",
    "System.Management.Automation.MethodInvocationException": "System.Management.Automation.MethodException",
    "System.Management.Automation.MethodException": "System.Management.Automation.RuntimeException",
    "System.Management.Automation.ActionPreferenceStopException": "System.Management.Automation.RuntimeException",
    "System.Management.Automation.ParameterBindingException": "System.Management.Automation.RuntimeException",
    "System.Management.Automation.PSInvalidCastException": "System.InvalidCastException",
    "System.Management.Automation.PSArgumentException": "System.ArgumentException",
    "System.Management.Automation.RemoteException": "System.Management.Automation.RuntimeException",
    "System.Management.Automation.ParseException": "System.Management.Automation.RuntimeException",
    "System.Management.Automation.PSInvalidOperationException": "System.InvalidOperationException",
    "System.Management.Automation.ValidationMetadataException": "System.Management.Automation.RuntimeException",
    "Microsoft.PowerShell.Commands.ServiceCommandException": "System.SystemException",
    "Microsoft.PowerShell.Commands.ProcessCommandException": "System.SystemException",
    "Microsoft.PowerShell.Commands.WriteErrorException": "System.SystemException",
    "Microsoft.Management.Infrastructure.CimException": "System.SystemException",
    "System.Xml.XmlException": "System.SystemException",
    "System.Security.Cryptography.CryptographicException": "System.SystemException",
}


class NetException(NetObject):
    """An exception object as PowerShell sees it ($_.Exception)."""

    def __init__(self, type_name: str, message: str, inner: "NetException | None" = None, **extra):
        self.type_name = type_name
        self.message = message
        self.inner = inner
        self.extra = extra
        self.error_record = None

    def props(self):
        out = [("Message", self.message), ("Data", Hashtable()), ("InnerException", self.inner),
               ("TargetSite", None), ("StackTrace", None), ("HelpLink", None), ("Source", None),
               ("HResult", self.extra.get("hresult", -2146233087))]
        for k, v in self.extra.items():
            if k != "hresult":
                out.append((k, v))
        if self.error_record is not None:
            out.insert(0, ("ErrorRecord", self.error_record))
        return out

    def is_a(self, name: str) -> bool:
        return exc_is_a(self.type_name, name)

    def to_string(self):
        return f"{self.type_name}: {self.message}"

    @property
    def short(self):
        return self.type_name.rsplit(".", 1)[-1]


def exc_is_a(type_name: str, name: str) -> bool:
    """Whether exception type ``type_name`` is ``name`` or derives from it (names resolve as PowerShell
    resolves type literals: as written, or with "System." prepended)."""
    want = {name.casefold(), ("system." + name).casefold()}
    if want & {"system.object", "object"}:
        return True
    t: str | None = type_name
    while t:
        if t.casefold() in want:
            return True
        t = EXC_PARENT.get(t, "System.Exception" if t != "System.Exception" else None)
    return False


class ErrorRecord(NetObject):
    type_name = "System.Management.Automation.ErrorRecord"

    def __init__(self, exception: NetException, error_id: str, category: str, target=None, *,
                 activity: str = "", command: str | None = None, extent=None, script: str = "",
                 prefix: str | None = None, target_type: str | None = None, target_text: str | None = None):
        self.exception = exception
        exception.error_record = self if exception.error_record is None else exception.error_record
        self.error_id = error_id          # FullyQualifiedErrorId
        self.category = category          # ErrorCategory name
        self.target = target
        self.activity = activity
        self.command = command            # command name shown as "X : message" prefix
        self.extent = extent              # (start, end) in script
        self.script = script
        self.prefix = prefix
        self.target_type = target_type
        self.target_text = target_text

    @property
    def message(self) -> str:
        return self.exception.message

    def props(self):
        return [("Exception", self.exception), ("TargetObject", self.target),
                ("CategoryInfo", self.category_info()), ("FullyQualifiedErrorId", self.error_id),
                ("ErrorDetails", None), ("InvocationInfo", None), ("ScriptStackTrace", ""),
                ("PipelineIterationInfo", [])]

    def category_info(self) -> str:
        t = self.target_text if self.target_text is not None else (to_string(self.target) if self.target is not None else "")
        tt = self.target_type if self.target_type is not None else (type_short(self.target) if self.target is not None else "")
        return f"{self.category}: ({t}:{tt}) [{self.activity}], {self.exception.short}"

    def to_string(self):
        return self.message


# ------------------------------------------------------------------------------------------------ types
def type_full(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "System.Boolean"
    if isinstance(v, int):
        return "System.Int32" if -2 ** 31 <= v < 2 ** 31 else "System.Int64"
    if isinstance(v, float):
        return "System.Double"
    if isinstance(v, str):
        return "System.String"
    if isinstance(v, TypedList):
        return v.elem + "[]"
    if isinstance(v, list):
        return "System.Object[]"
    if isinstance(v, (bytes, bytearray)):
        return "System.Byte[]"
    if isinstance(v, EnumValue):
        return v.type_name
    return getattr(v, "type_name", "System.Object")


def type_short(v) -> str:
    return type_full(v).rsplit(".", 1)[-1]


class TypedList(list):
    """A typed array such as string[] or int[]."""

    def __init__(self, items=(), elem="System.Object"):
        super().__init__(items)
        self.elem = elem


# ------------------------------------------------------------------------------------------------ strings
def fmt_double(f: float) -> str:
    """Double to string as .NET 'R'/default formatting gives it in PowerShell."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    if f == int(f) and abs(f) < 1e15:
        return str(int(f))
    r = repr(f)
    if "e" in r:
        mant, exp = r.split("e")
        e = int(exp)
        return f"{mant}E{'+' if e >= 0 else '-'}{abs(e):02d}"
    return r


def to_string(v, ofs: str = " ") -> str:
    if v is None or v is VOID:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return fmt_double(v)
    if isinstance(v, (list, tuple)):
        return ofs.join(to_string(x, ofs) for x in v)
    if isinstance(v, (bytes, bytearray)):
        return ofs.join(str(b) for b in v)
    if isinstance(v, EnumValue):
        return v.name
    if isinstance(v, Hashtable):
        return v.type_name
    if isinstance(v, PSObject):
        return "@{" + "; ".join(f"{k}={to_string(x)}" for k, x in v.props.items()) + "}"
    if isinstance(v, ScriptBlock):
        return v.text
    if isinstance(v, PSTypeRef):
        return v.full_name
    if isinstance(v, NetObject):
        return v.to_string()
    return str(v)


# ------------------------------------------------------------------------------------------------ truth
def to_bool(v) -> bool:
    if v is None or v is VOID:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, str):
        return len(v) > 0
    if isinstance(v, (list, tuple)):
        if len(v) == 0:
            return False
        if len(v) == 1:
            return to_bool(v[0]) if not isinstance(v[0], (list, tuple)) else len(v[0]) > 0
        return True
    if isinstance(v, (bytes, bytearray)):
        return len(v) > 0 if len(v) != 1 else v[0] != 0
    if isinstance(v, EnumValue):
        return v.value != 0
    return True


# ------------------------------------------------------------------------------------------------ numbers
class ConversionError(Exception):
    def __init__(self, message: str, error_id: str = "InvalidCastFromStringToInteger"):
        super().__init__(message)
        self.message = message
        self.error_id = error_id


def parse_number(s: str):
    t = s.strip()
    if t == "":
        return 0
    tl = t.lower()
    try:
        if tl.startswith("0x") or tl.startswith("-0x"):
            return int(tl, 16)
        mult = 1
        for suf, m in (("kb", 1024), ("mb", 1024 ** 2), ("gb", 1024 ** 3), ("tb", 1024 ** 4)):
            if tl.endswith(suf):
                mult = m
                tl = tl[:-2]
                break
        if re.fullmatch(r"[+-]?\d+", tl):
            return int(tl) * mult
        f = float(tl.replace(",", ""))
        return f * mult if mult == 1 else int(f * mult)
    except ValueError:
        raise ValueError(s) from None


def to_number(v, target: str = "System.Int32"):
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return parse_number(v)
        except ValueError:
            raise ConversionError(f'Cannot convert value "{v}" to type "{target}". Error: "Input string was not '
                                  f'in a correct format."') from None
    if isinstance(v, EnumValue):
        return v.value
    if isinstance(v, (list, tuple)) and len(v) == 1:
        return to_number(v[0], target)
    raise ConversionError(f'Cannot convert the "{to_string(v)}" value of type "{type_full(v)}" to type "{target}".',
                          "InvalidCastException")


def round_half_even(f: float) -> int:
    return int(round(f))


def to_int(v, target: str = "System.Int32") -> int:
    n = to_number(v, target)
    if isinstance(n, float):
        if math.isnan(n) or math.isinf(n):
            raise ConversionError(f'Cannot convert value "{to_string(v)}" to type "{target}". Error: "Value was '
                                  f'either too large or too small for an Int32."', "InvalidCastIConvertible")
        n = round_half_even(n)
    return n


# ------------------------------------------------------------------------------------------------ compare
def _ci(s: str) -> str:
    return s.casefold()


def eq(a, b, cs: bool = False) -> bool:
    """Scalar -eq with the left operand deciding the comparison type."""
    if a is None:
        return b is None
    if b is None:
        return False
    if isinstance(a, str):
        bs = b if isinstance(b, str) else to_string(b)
        if a == bs:
            return True
        if cs or (len(a) != len(bs) and a.isascii() and bs.isascii()):
            return False
        return a.casefold() == bs.casefold()
    if isinstance(a, bool):
        return a == to_bool(b)
    if isinstance(a, (int, float)):
        if isinstance(b, (int, float)) and not isinstance(b, bool):
            return a == b
        try:
            return a == to_number(b)
        except ConversionError:
            return False
    if isinstance(a, EnumValue):
        if isinstance(b, str):
            return a.name.casefold() == b.casefold()
        if isinstance(b, EnumValue):
            return a.value == b.value
        try:
            return a.value == to_number(b)
        except ConversionError:
            return False
    if isinstance(a, Version):
        try:
            bv = b if isinstance(b, Version) else Version.parse(to_string(b))
        except ValueError:
            return False
        return a.key() == bv.key()
    if isinstance(a, (DateTime, DateTimeOffset)):
        if isinstance(b, (DateTime, DateTimeOffset)):
            return a.dt == b.dt
        return False
    if isinstance(a, (bytes, bytearray)) and isinstance(b, (bytes, bytearray)):
        return a is b
    return a is b or a == b


def compare(a, b, cs: bool = False) -> int:
    """-gt/-lt family: returns <0, 0, >0."""
    if a is None and b is None:
        return 0
    if a is None:
        return -1
    if b is None:
        return 1
    if isinstance(a, str):
        bs = to_string(b)
        x, y = (a, bs) if cs else (a.casefold(), bs.casefold())
        return (x > y) - (x < y)
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        bn = to_number(b)
        return (a > bn) - (a < bn)
    if isinstance(a, bool):
        bb = to_bool(b)
        return (a > bb) - (a < bb)
    if isinstance(a, Version):
        try:
            bv = b if isinstance(b, Version) else Version.parse(to_string(b))
        except ValueError:
            raise ConversionError(f'Cannot convert value "{to_string(b)}" to type "System.Version". Error: '
                                  '"Version string portion was too short or too long."',
                                  "InvalidCastParseTargetInvocation") from None
        return (a.key() > bv.key()) - (a.key() < bv.key())
    if isinstance(a, (DateTime, DateTimeOffset)):
        if isinstance(b, (DateTime, DateTimeOffset)):
            return (a.dt > b.dt) - (a.dt < b.dt)
        raise ConversionError(f'Cannot convert value "{to_string(b)}" to type "System.DateTime".')
    if isinstance(a, TimeSpan) and isinstance(b, TimeSpan):
        return (a.td > b.td) - (a.td < b.td)
    if isinstance(a, EnumValue):
        bn = b.value if isinstance(b, EnumValue) else to_number(b)
        return (a.value > bn) - (a.value < bn)
    raise ConversionError(f'Cannot compare "{to_string(a)}" because it is not IComparable.', "NotIcomparable")


# ------------------------------------------------------------------------------------------------ wildcards
_wild_cache: dict = {}


def wildcard_regex(pattern: str, cs: bool = False):
    """about_Wildcards: * any sequence, ? one character, [a-z]/[abc] ranges/sets; ` escapes."""
    key = (pattern, cs)
    r = _wild_cache.get(key)
    if r is not None:
        return r
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "`" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                out.append("[" + pattern[i + 1:j].replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    r = re.compile("".join(out) + r"\Z", re.DOTALL | (0 if cs else re.IGNORECASE))
    _wild_cache[key] = r
    return r


def has_wildcard(s: str) -> bool:
    return any(c in s for c in "*?[")


def like(a, pattern, cs: bool = False) -> bool:
    return wildcard_regex(to_string(pattern), cs).match(to_string(a)) is not None


# ------------------------------------------------------------------------------------------------ regex
_re_cache: dict = {}


def net_regex(pattern: str, cs: bool = False):
    """Translate the common .NET regex syntax to Python's (named groups (?<n>..), \\A \\z, $ at end)."""
    key = (pattern, cs)
    r = _re_cache.get(key)
    if r is not None:
        return r
    p = re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", pattern)
    p = re.sub(r"\\k<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P=\1)", p)
    p = p.replace(r"\z", r"\Z")
    try:
        r = re.compile(p, 0 if cs else re.IGNORECASE)
    except re.error as e:
        raise ConversionError(f'The regular expression pattern {pattern} is not valid.', "InvalidRegularExpression") from e
    _re_cache[key] = r
    return r


def net_replacement(rep: str) -> str:
    """.NET replacement ($1, ${name}, $$, $0 / $&) to Python's."""
    out = []
    i = 0
    while i < len(rep):
        c = rep[i]
        if c == "$" and i + 1 < len(rep):
            nx = rep[i + 1]
            if nx == "$":
                out.append("$")
                i += 2
                continue
            if nx.isdigit():
                j = i + 1
                while j < len(rep) and rep[j].isdigit():
                    j += 1
                out.append(f"\\g<{rep[i + 1:j]}>")
                i = j
                continue
            if nx == "&":
                out.append("\\g<0>")
                i += 2
                continue
            if nx == "{":
                j = rep.find("}", i)
                if j > 0:
                    out.append(f"\\g<{rep[i + 2:j]}>")
                    i = j + 1
                    continue
        if c == "\\":
            out.append("\\\\")
        else:
            out.append(c)
        i += 1
    return "".join(out)
