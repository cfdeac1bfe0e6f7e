""".NET composite formatting ('{0,-10:N2}' -f ...) and ToString(format) for numbers and dates.

Sources: https://learn.microsoft.com/dotnet/standard/base-types/composite-formatting,
standard-numeric-format-strings, custom-date-and-time-format-strings, standard-date-and-time-format-strings
(en-US culture for culture-sensitive specifiers; the host runs en-US).
"""
from __future__ import annotations

import re

from .values import DateTime, DateTimeOffset, TimeSpan, fmt_double, to_string


def format_number(v, fmt: str) -> str:
    if not fmt:
        return to_string(v)
    m = re.fullmatch(r"([A-Za-z])(\d*)", fmt)
    if not m:
        return _custom_number(v, fmt)
    spec, prec = m.group(1), m.group(2)
    p = int(prec) if prec else None
    s = spec.upper()
    if s == "N":
        return f"{v:,.{2 if p is None else p}f}"
    if s == "F":
        return f"{v:.{2 if p is None else p}f}"
    if s == "D":
        return f"{int(v):0{p or 0}d}" if int(v) >= 0 else "-" + f"{-int(v):0{p or 0}d}"
    if s == "X":
        h = f"{int(v) & 0xFFFFFFFF if int(v) < 0 else int(v):0{p or 0}x}"
        return h.upper() if spec == "X" else h
    if s == "P":
        return f"{v * 100:,.{2 if p is None else p}f} %"
    if s == "G":
        return to_string(v)
    if s == "E":
        return f"{v:.{6 if p is None else p}E}".replace("E+", "E+00")[:]
    if s == "R":
        return fmt_double(float(v)) if isinstance(v, float) else str(v)
    return to_string(v)


def _custom_number(v, fmt):
    if re.fullmatch(r"0+", fmt):
        return f"{int(round(v)):0{len(fmt)}d}"
    m = re.fullmatch(r"([#0,]*)\.?(0*)(#*)", fmt)
    if m:
        dec = len(m.group(2)) + len(m.group(3))
        s = f"{v:,.{dec}f}" if "," in m.group(1) else f"{v:.{dec}f}"
        if m.group(3) and "." in s:
            keep = len(m.group(2))
            whole, frac = s.split(".")
            frac = frac.rstrip("0")
            if len(frac) < keep:
                frac = frac + "0" * (keep - len(frac))
            s = whole + ("." + frac if frac else "")
        return s
    return to_string(v)


_DT_TOKENS = re.compile(r"yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|fffffff|ffffff|fff|ff|f|tt|t|zzz|K|'[^']*'|\\.|.",
                        re.DOTALL)


def format_datetime(d, fmt: str) -> str:
    dt = d.dt
    if not fmt:
        return d.to_string()
    if fmt in ("o", "O"):
        frac = f"{dt.microsecond:06d}0"
        if isinstance(d, DateTimeOffset):
            return dt.strftime("%Y-%m-%dT%H:%M:%S.") + frac + _offset(d)
        suffix = "Z" if d.kind == "Utc" else ("+00:00" if d.kind == "Local" else "")
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + frac + suffix
    if fmt == "s":
        return dt.strftime("%Y-%m-%dT%H:%M:%S")
    if fmt == "u":
        return dt.strftime("%Y-%m-%d %H:%M:%SZ")
    if fmt == "d":
        return f"{dt.month}/{dt.day}/{dt.year}"
    if fmt == "D":
        return f"{dt.strftime('%A, %B')} {dt.day}, {dt.year}"
    if fmt == "F":
        return d.long_string() if isinstance(d, DateTime) else DateTime(dt).long_string()
    if fmt == "g":
        h = dt.hour % 12 or 12
        return f"{dt.month}/{dt.day}/{dt.year} {h}:{dt.minute:02d} {'AM' if dt.hour < 12 else 'PM'}"
    if fmt == "G":
        h = dt.hour % 12 or 12
        return f"{dt.month}/{dt.day}/{dt.year} {h}:{dt.minute:02d}:{dt.second:02d} {'AM' if dt.hour < 12 else 'PM'}"
    out = []
    for tok in _DT_TOKENS.findall(fmt):
        if tok == "yyyy":
            out.append(f"{dt.year:04d}")
        elif tok == "yy":
            out.append(f"{dt.year % 100:02d}")
        elif tok == "MMMM":
            out.append(dt.strftime("%B"))
        elif tok == "MMM":
            out.append(dt.strftime("%b"))
        elif tok == "MM":
            out.append(f"{dt.month:02d}")
        elif tok == "M":
            out.append(str(dt.month))
        elif tok == "dddd":
            out.append(dt.strftime("%A"))
        elif tok == "ddd":
            out.append(dt.strftime("%a"))
        elif tok == "dd":
            out.append(f"{dt.day:02d}")
        elif tok == "d":
            out.append(str(dt.day))
        elif tok == "HH":
            out.append(f"{dt.hour:02d}")
        elif tok == "H":
            out.append(str(dt.hour))
        elif tok == "hh":
            out.append(f"{dt.hour % 12 or 12:02d}")
        elif tok == "h":
            out.append(str(dt.hour % 12 or 12))
        elif tok == "mm":
            out.append(f"{dt.minute:02d}")
        elif tok == "m":
            out.append(str(dt.minute))
        elif tok == "ss":
            out.append(f"{dt.second:02d}")
        elif tok == "s":
            out.append(str(dt.second))
        elif tok.startswith("f"):
            out.append(f"{dt.microsecond:06d}0"[:len(tok)])
        elif tok == "tt":
            out.append("AM" if dt.hour < 12 else "PM")
        elif tok == "t":
            out.append("A" if dt.hour < 12 else "P")
        elif tok in ("zzz", "K"):
            out.append(_offset(d) if isinstance(d, DateTimeOffset) or d.kind != "Utc" else "Z")
        elif tok.startswith("'"):
            out.append(tok[1:-1])
        elif tok.startswith("\\"):
            out.append(tok[1:])
        else:
            out.append(tok)
    return "".join(out)


def _offset(d) -> str:
    off = d.dt.utcoffset()
    secs = int(off.total_seconds()) if off else 0
    sign = "-" if secs < 0 else "+"
    secs = abs(secs)
    return f"{sign}{secs // 3600:02d}:{secs % 3600 // 60:02d}"


def format_value(v, fmt: str) -> str:
    if isinstance(v, (DateTime, DateTimeOffset)):
        return format_datetime(v, fmt)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return format_number(v, fmt)
    if isinstance(v, TimeSpan) and fmt in ("c", "g", ""):
        return v.to_string()
    return to_string(v)


def composite_format(rt, fmt: str, args: list, node=None) -> str:
    out = []
    i, n = 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c == "{":
            if i + 1 < n and fmt[i + 1] == "{":
                out.append("{")
                i += 2
                continue
            j = fmt.find("}", i)
            if j < 0:
                rt.runtime_error('Error formatting a string: Input string was not in a correct format..',
                                 "FormatError", "InvalidOperation", node=node, target=fmt)
            spec = fmt[i + 1:j]
            m = re.fullmatch(r"\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?(?::(.*))?", spec, re.DOTALL)
            if not m:
                rt.runtime_error('Error formatting a string: Input string was not in a correct format..',
                                 "FormatError", "InvalidOperation", node=node, target=fmt)
            idx = int(m.group(1))
            if idx >= len(args):
                rt.runtime_error("Error formatting a string: Index (zero based) must be greater than or equal to zero "
                                 "and less than the size of the argument list..", "FormatError", "InvalidOperation",
                                 node=node, target=fmt)
            s = format_value(args[idx], m.group(3) or "")
            if m.group(2):
                w = int(m.group(2))
                s = s.ljust(-w) if w < 0 else s.rjust(w)
            out.append(s)
            i = j + 1
            continue
        if c == "}" and i + 1 < n and fmt[i + 1] == "}":
            out.append("}")
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)
