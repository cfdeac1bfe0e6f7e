"""Casts ([type]value) and -is, following about_Type_Conversion / PowerShell's LanguagePrimitives:
[int] of a double rounds half to even; [int]'abc' fails with "Input string was not in a correct format.";
[bool] of a non-empty string is $true (even 'False'); [string] of an array joins with $OFS;
[pscustomobject]@{} keeps the key order of the literal; [DateTimeOffset] of a DateTime keeps the instant.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from .values import (
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
    exc_is_a,
    to_bool,
    to_int,
    to_number,
    to_string,
    type_full,
)

INT_RANGES = {
    "System.Int32": (-2 ** 31, 2 ** 31 - 1), "System.Int64": (-2 ** 63, 2 ** 63 - 1),
    "System.Int16": (-2 ** 15, 2 ** 15 - 1), "System.Byte": (0, 255), "System.SByte": (-128, 127),
    "System.UInt32": (0, 2 ** 32 - 1), "System.UInt64": (0, 2 ** 64 - 1), "System.UInt16": (0, 2 ** 16 - 1),
}


def _fail(value, full):
    if isinstance(value, str):
        raise ConversionError(f'Cannot convert value "{value}" to type "{full}". Error: "Input string was not in a '
                              f'correct format."', "InvalidCastFromStringToInteger")
    raise ConversionError(f'Cannot convert the "{to_string(value)}" value of type "{type_full(value)}" to type '
                          f'"{full}".', "ConvertToFinalInvalidCastException")


def parse_datetime(s: str):
    s = s.strip()
    fmts = ["%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%m/%d/%Y %I:%M:%S %p"]
    t = s.replace("Z", "+0000") if s.endswith("Z") else s
    t = re.sub(r"([+-]\d\d):(\d\d)$", r"\1\2", t)
    if "." in t:
        t = re.sub(r"\.(\d{6})\d+", r".\1", t)
    for f in fmts:
        try:
            dt = datetime.strptime(t, f)
            kind = "Utc" if s.endswith("Z") else ("Local" if dt.tzinfo else "Unspecified")
            return dt, kind
        except ValueError:
            continue
    raise ValueError(s)


def convert(rt, value, typename: str, node=None):
    full = rt.type_fullname(typename) if isinstance(typename, str) else typename
    if full is None:
        rt.runtime_error(f"Unable to find type [{typename}].", "TypeNotFound", "InvalidOperation", node=node,
                         target_text=typename, target_type="TypeName")
    return convert_full(rt, value, full, node)


def convert_full(rt, value, full: str, node=None):
    if full.endswith("[]"):
        elem = full[:-2]
        items = value if isinstance(value, (list, tuple)) else ([] if value is None else
                                                                (list(value) if isinstance(value, (bytes, bytearray))
                                                                 else [value]))
        if elem == "System.Byte":
            if isinstance(value, (bytes, bytearray)):
                return bytes(value)
            return bytes(to_int(x) & 0xFF for x in items)
        conv = [convert_full(rt, x, elem, node) for x in items]
        return TypedList(conv, elem) if elem != "System.Object" else list(conv)
    if full in INT_RANGES:
        if value is None:
            return 0
        if isinstance(value, str) and value.strip() == "":
            return 0
        try:
            n = to_int(value, full)
        except ConversionError:
            _fail(value, full)
        lo, hi = INT_RANGES[full]
        if not lo <= n <= hi:
            raise ConversionError(f'Cannot convert value "{to_string(value)}" to type "{full}". Error: "Value was '
                                  f'either too large or too small for {"an" if full[7] in "IU" else "a"} '
                                  f'{full[7:]}."', "InvalidCastIConvertible")
        return n
    if full in ("System.Double", "System.Single", "System.Decimal"):
        if value is None:
            return 0.0
        try:
            return float(to_number(value, full))
        except ConversionError:
            _fail(value, full)
    if full == "System.String":
        if value is None:
            return ""
        ofs = rt.get_var("OFS")
        return to_string(value, " " if ofs is None else to_string(ofs))
    if full == "System.Char":
        if isinstance(value, str) and len(value) == 1:
            return value
        if isinstance(value, int):
            return chr(value)
        _fail(value, full)
    if full == "System.Boolean" or full == "System.Management.Automation.SwitchParameter":
        return to_bool(value)
    if full == "System.Object":
        return value
    if full == "System.Management.Automation.PSObject":
        if isinstance(value, Hashtable):
            return PSObject(value.items())
        return value
    if full == "System.Array":
        return value if isinstance(value, list) else [value]
    if full == "System.Void":
        from .values import VOID
        return VOID
    if full == "System.Collections.Hashtable":
        if isinstance(value, Hashtable):
            return value
        _fail(value, full)
    if full == "System.Collections.Specialized.OrderedDictionary":
        if isinstance(value, Hashtable):
            h = value.copy()
            h.ordered = True
            return h
        _fail(value, full)
    if full == "System.DateTime":
        if isinstance(value, DateTime):
            return value
        if isinstance(value, DateTimeOffset):
            return DateTime(value.dt, "Unspecified")
        if isinstance(value, str):
            try:
                dt, kind = parse_datetime(value)
                return DateTime(dt, kind)
            except ValueError:
                raise ConversionError(f'Cannot convert value "{value}" to type "System.DateTime". Error: "String was '
                                      f'not recognized as a valid DateTime."', "InvalidCastParseTargetInvocation") from None
        if isinstance(value, int):
            from datetime import timedelta

            from .values import DOTNET_EPOCH
            return DateTime(DOTNET_EPOCH + timedelta(microseconds=value // 10), "Unspecified")
        _fail(value, full)
    if full == "System.DateTimeOffset":
        if isinstance(value, DateTimeOffset):
            return value
        if isinstance(value, DateTime):
            return DateTimeOffset(value.dt.astimezone(timezone.utc))
        if isinstance(value, str):
            try:
                dt, kind = parse_datetime(value)
                return DateTimeOffset(dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc))
            except ValueError:
                _fail(value, full)
        _fail(value, full)
    if full == "System.TimeSpan":
        if isinstance(value, TimeSpan):
            return value
        if isinstance(value, str):
            m = re.fullmatch(r"(-)?(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d+))?)?", value.strip())
            if m:
                from datetime import timedelta
                td = timedelta(days=int(m.group(2) or 0), hours=int(m.group(3)), minutes=int(m.group(4)),
                               seconds=int(m.group(5) or 0))
                return TimeSpan(-td if m.group(1) else td)
        if isinstance(value, int):
            from datetime import timedelta
            return TimeSpan(timedelta(microseconds=value / 10))
        _fail(value, full)
    if full == "System.Version":
        if isinstance(value, Version):
            return value
        try:
            return Version.parse(to_string(value))
        except ValueError:
            raise ConversionError(f'Cannot convert value "{to_string(value)}" to type "System.Version". Error: '
                                  f'"Version string portion was too short or too long."', "InvalidCastParseTargetInvocation") from None
    if full == "System.Guid":
        import uuid
        try:
            return GuidValue(str(uuid.UUID(to_string(value))))
        except ValueError:
            _fail(value, full)
    if full == "System.Text.RegularExpressions.Regex":
        from .members import RegexObj
        return RegexObj(to_string(value))
    if full == "System.Management.Automation.ScriptBlock":
        if isinstance(value, ScriptBlock):
            return value
        _fail(value, full)
    if full == "System.Xml.XmlDocument":
        raise ConversionError("[xml] is outside this emulator's PowerShell subset.", "EmulatorUnsupported")
    if full == "System.Type" or full == "System.RuntimeType":
        if isinstance(value, PSTypeRef):
            return value
        return rt.resolve_type(to_string(value), node)
    # any other known type: identity when the value is of that type
    if value_is(rt, value, full):
        return value
    _fail(value, full)


class GuidValue(NetObject):
    type_name = "System.Guid"

    def __init__(self, s):
        self.s = s

    def to_string(self):
        return self.s

    def props(self):
        return [("Guid", self.s)]


def value_is(rt, v, full: str) -> bool:
    full_l = full.lower()
    if full_l in ("system.object", "object"):
        return v is not None
    if v is None:
        return False
    if full.endswith("[]"):
        return isinstance(v, (list, bytes, bytearray)) and (full == "System.Object[]" or type_full(v) == full)
    t = type_full(v)
    if t.lower() == full_l:
        return True
    if full == "System.Array":
        return isinstance(v, (list, bytes, bytearray))
    if full in ("System.ValueType",):
        return isinstance(v, (int, float, bool, DateTime, DateTimeOffset, TimeSpan, EnumValue))
    if full in ("System.Int32", "System.Int64") and isinstance(v, int) and not isinstance(v, bool):
        return t == full
    if full == "System.Management.Automation.PSObject" or full == "System.Management.Automation.PSCustomObject":
        return isinstance(v, PSObject)
    if full in ("System.Collections.IDictionary", "System.Collections.Hashtable"):
        return isinstance(v, Hashtable)
    if full == "System.Collections.IEnumerable":
        return isinstance(v, (list, Hashtable, str, bytes))
    if isinstance(v, NetException):
        return exc_is_a(v.type_name, full)
    if isinstance(v, NetObject):
        return full in getattr(v, "base_types", ()) or t == full
    return False
