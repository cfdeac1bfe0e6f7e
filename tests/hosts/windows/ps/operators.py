"""Binary operators (about_Operators, about_Arithmetic_Operators, about_Comparison_Operators,
about_Split, about_Join, about_Format?  (-f: about_Operators "Format operator -f"), about_Regular_Expressions).

* Comparison with a collection on the left returns the matching elements (about_Comparison_Operators).
* -match / -notmatch on a scalar set $Matches; on a collection they filter and leave $Matches alone.
* -replace uses .NET regex substitution ($1, ${name}); -split a regex, case-insensitive by default.
* -like uses wildcards (about_Wildcards).
* String operands: + concatenates, * repeats.  Arrays: + appends, * repeats.
* Division of two integers gives a double unless exact.
"""
from __future__ import annotations

from .values import (
    ConversionError,
    DateTime,
    DateTimeOffset,
    Hashtable,
    TimeSpan,
    compare,
    eq,
    like,
    net_regex,
    net_replacement,
    to_bool,
    to_int,
    to_number,
    to_string,
)


def _cs(op):
    if op.startswith("c") and op[1:] in BASE_OPS:
        return op[1:], True
    if op.startswith("i") and op[1:] in BASE_OPS:
        return op[1:], False
    return op, False


BASE_OPS = {"eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch", "replace", "contains",
            "notcontains", "in", "notin", "split"}


def binop(rt, op, a, b, node):
    if op == "+":
        return add(rt, a, b, node)
    if op == "-":
        return sub(rt, a, b, node)
    if op == "*":
        return mul(rt, a, b, node)
    if op == "/":
        return div(rt, a, b, node)
    if op == "%":
        x, y = to_number(a), to_number(b)
        if y == 0:
            rt.runtime_error("Attempted to divide by zero.", "RuntimeException", "NotSpecified", node=node)
        r = abs(x) % abs(y)
        return r if x >= 0 else -r
    if op == "..":
        x, y = to_int(a), to_int(b)
        step = 1 if y >= x else -1
        return list(range(x, y + step, step))
    if op == "f":
        from .netformat import composite_format
        args = b if isinstance(b, list) else [b]
        return composite_format(rt, to_string(a), args, node)
    if op in ("band", "bor", "bxor", "shl", "shr"):
        x, y = to_int(a), to_int(b)
        return {"band": x & y, "bor": x | y, "bxor": x ^ y, "shl": x << y, "shr": x >> y}[op]
    if op == "xor":
        return to_bool(a) != to_bool(b)
    if op == "join":
        items = a if isinstance(a, list) else ([] if a is None else [a])
        return to_string(b).join(to_string(x) for x in items)
    if op in ("is", "isnot"):
        r = is_type(rt, a, b, node)
        return r if op == "is" else not r
    if op == "as":
        from .convert import convert
        tn = b.full_name if hasattr(b, "full_name") else to_string(b)
        try:
            return convert(rt, a, tn, node)
        except Exception:
            return None
    base, cs = _cs(op)
    if base in ("eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch"):
        if isinstance(a, list):
            return [x for x in a if _scalar_cmp(rt, base, x, b, cs, False)]
        return _scalar_cmp(rt, base, a, b, cs, True)
    if base in ("contains", "notcontains"):
        items = a if isinstance(a, list) else [a]
        r = any(eq(x, b, cs) for x in items)
        return r if base == "contains" else not r
    if base in ("in", "notin"):
        items = b if isinstance(b, list) else [b]
        r = any(eq(x, a, cs) for x in items)
        return r if base == "in" else not r
    if base == "replace":
        if isinstance(b, list):
            pat = to_string(b[0]) if b else ""
            rep = to_string(b[1]) if len(b) > 1 else ""
        else:
            pat, rep = to_string(b), ""
        rx = _regex(rt, pat, cs, node)
        prep = net_replacement(rep)
        if isinstance(a, list):
            return [rx.sub(prep, to_string(x)) for x in a]
        return rx.sub(prep, to_string(a))
    if base == "split":
        if isinstance(b, list):
            pat = to_string(b[0]) if b else ""
            limit = to_int(b[1]) if len(b) > 1 else 0
        else:
            pat, limit = to_string(b), 0
        rx = _regex(rt, pat, cs, node)
        out = []
        for x in (a if isinstance(a, list) else [a]):
            s = to_string(x)
            parts = rx.split(s, maxsplit=max(0, limit - 1)) if limit > 0 else rx.split(s)
            if rx.groups:
                parts = [p for p in parts if p is not None]
            out.extend(parts)
        return out
    raise ConversionError(f"operator -{op} is not supported", "OperatorNotSupported")


def _regex(rt, pat, cs, node):
    try:
        return net_regex(pat, cs)
    except ConversionError:
        rt.runtime_error(f'The regular expression pattern {pat} is not valid.', "InvalidRegularExpression",
                         "InvalidOperation", node=node, target=pat)


def _scalar_cmp(rt, base, a, b, cs, set_matches):
    if base == "eq":
        return eq(a, b, cs)
    if base == "ne":
        return not eq(a, b, cs)
    if base in ("like", "notlike"):
        r = like(a, b, cs)
        return r if base == "like" else not r
    if base in ("match", "notmatch"):
        rx = _regex(rt, to_string(b), cs, None)
        m = rx.search(to_string(a))
        if m and set_matches:
            h = Hashtable()
            names = {v: k for k, v in rx.groupindex.items()}
            for gi in range(rx.groups + 1):
                g = m.group(gi)
                if g is not None:
                    h[names.get(gi, gi)] = g
            rt.set_var("Matches", h)
        return bool(m) if base == "match" else not m
    if a is None or b is None:
        c = compare(a, b, cs)
    else:
        c = compare(a, b, cs)
    return {"gt": c > 0, "ge": c >= 0, "lt": c < 0, "le": c <= 0}[base]


def is_type(rt, a, b, node) -> bool:
    from .convert import value_is
    tn = b.full_name if hasattr(b, "full_name") else to_string(b)
    return value_is(rt, a, tn)


def add(rt, a, b, node):
    if a is None:
        return b if not isinstance(b, (list,)) else list(b)
    if isinstance(a, list):
        return a + (b if isinstance(b, list) else [b])
    if isinstance(a, str):
        return a + to_string(b)
    if isinstance(a, Hashtable):
        if not isinstance(b, Hashtable):
            rt.runtime_error("A hash table can only be added to another hash table.", "AddHashTableToNonHashTable",
                             "InvalidOperation", node=node)
        h = a.copy()
        for k, v in b.items():
            if k in h:
                rt.runtime_error(f"Item has already been added. Key in dictionary: '{to_string(k)}'  Key being "
                                 f"added: '{to_string(k)}'", "System.ArgumentException", "OperationStopped",
                                 node=node, exc="System.ArgumentException")
            h[k] = v
        return h
    if isinstance(a, (DateTime, DateTimeOffset)) and isinstance(b, TimeSpan):
        return type(a)(a.dt + b.td) if isinstance(a, DateTimeOffset) else DateTime(a.dt + b.td, a.kind)
    if isinstance(a, TimeSpan) and isinstance(b, TimeSpan):
        return TimeSpan(a.td + b.td)
    if isinstance(a, (bytes, bytearray)):
        return list(a) + (b if isinstance(b, list) else [b])
    x = to_number(a)
    try:
        y = to_number(b)
    except ConversionError as e:
        raise ConversionError(e.message.replace("System.Int32", "System.Int32"), e.error_id) from None
    return x + y


def sub(rt, a, b, node):
    if isinstance(a, (DateTime, DateTimeOffset)):
        if isinstance(b, (DateTime, DateTimeOffset)):
            return TimeSpan(a.dt - b.dt)
        if isinstance(b, TimeSpan):
            return DateTime(a.dt - b.td, a.kind) if isinstance(a, DateTime) else DateTimeOffset(a.dt - b.td)
    if isinstance(a, TimeSpan) and isinstance(b, TimeSpan):
        return TimeSpan(a.td - b.td)
    if isinstance(a, list):
        rt.runtime_error("Method invocation failed because [System.Object[]] does not contain a method named "
                         "'op_Subtraction'.", "MethodNotFound", "InvalidOperation", node=node)
    return to_number(a) - to_number(b)


def mul(rt, a, b, node):
    if isinstance(a, str):
        return a * to_int(b)
    if isinstance(a, list):
        return a * to_int(b)
    return to_number(a) * to_number(b)


def div(rt, a, b, node):
    x, y = to_number(a), to_number(b)
    if y == 0:
        rt.runtime_error("Attempted to divide by zero.", "RuntimeException", "NotSpecified", node=node)
    if isinstance(x, int) and isinstance(y, int) and x % y == 0:
        return x // y
    return x / y
