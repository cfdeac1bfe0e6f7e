"""WQL subset for Get-CimInstance -Filter / -Query.

Sources: "WQL Operators" (https://learn.microsoft.com/windows/win32/wmisdk/wql-operators: = < > <= >= != <>,
IS [NOT] NULL, LIKE), "LIKE Operator" (WMI: % any string, _ one character, [ ] a range or set — ranges
written [a=f] —, ^ negates a set), KB242507 "Using Backslash in WMI Strings" (backslash is the escape
character in string constants: \\\\ for a backslash, \\" for a quote).  String comparisons are
case-insensitive.  A malformed query is rejected ("Invalid query").
"""
from __future__ import annotations

import re

from .values import DateTime, to_string


class WqlError(Exception):
    pass


TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<num>-?\d+(?:\.\d+)?)|"
                   r"(?P<op><=|>=|<>|!=|=|<|>|\(|\)|,|\*)|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))", re.DOTALL)


def tokenize(s: str):
    out = []
    i = 0
    s = s.rstrip()
    while i < len(s):
        m = TOKEN.match(s, i)
        if not m or m.end() == i:
            raise WqlError(s)
        i = m.end()
        if m.group("str") is not None:
            out.append(("str", unescape(m.group("str")[1:-1])))
        elif m.group("num") is not None:
            t = m.group("num")
            out.append(("num", float(t) if "." in t else int(t)))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            out.append(("word", m.group("word")))
    return out


def unescape(s: str) -> str:
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s) or s[i + 1] not in "\\'\"":
                raise WqlError("invalid escape")
            out.append(s[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def like_regex(pattern: str):
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                raise WqlError("unterminated [")
            body = pattern[i + 1:j]
            neg = body.startswith("^")
            if neg:
                body = body[1:]
            body = re.sub(r"(.)=(.)", r"\1-\2", body)
            out.append("[" + ("^" if neg else "") + body.replace("\\", "\\\\") + "]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE | re.DOTALL)


class Cond:
    def __init__(self, kind, *args):
        self.kind = kind
        self.args = args

    def eval(self, row: dict) -> bool:
        k = self.kind
        if k == "and":
            return self.args[0].eval(row) and self.args[1].eval(row)
        if k == "or":
            return self.args[0].eval(row) or self.args[1].eval(row)
        if k == "not":
            return not self.args[0].eval(row)
        prop, op, val = self.args
        if prop.lower() not in row:
            raise WqlError(f"no property {prop}")
        v = row[prop.lower()]
        if op == "isnull":
            return v is None
        if op == "isnotnull":
            return v is not None
        if v is None:
            return False
        if op in ("like", "notlike"):
            r = like_regex(to_string(val)).match(to_string(v)) is not None
            return r if op == "like" else not r
        if isinstance(v, bool):
            b = val if isinstance(val, bool) else str(val).lower() in ("true", "1")
            a, c = v, b
        elif isinstance(v, (int, float)):
            try:
                a, c = v, float(val) if not isinstance(val, (int, float)) else val
            except (TypeError, ValueError):
                return False
        elif isinstance(v, DateTime):
            a, c = to_string(v).lower(), to_string(val).lower()
        else:
            a, c = to_string(v).lower(), to_string(val).lower()
        return {"=": a == c, "<>": a != c, "!=": a != c, "<": a < c, ">": a > c, "<=": a <= c, ">=": a >= c}[op]


class Parser:
    def __init__(self, toks):
        self.t = toks
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def word(self, w):
        k, v = self.peek()
        return k == "word" and v.upper() == w

    def expr(self):
        left = self.and_()
        while self.word("OR"):
            self.take()
            left = Cond("or", left, self.and_())
        return left

    def and_(self):
        left = self.not_()
        while self.word("AND"):
            self.take()
            left = Cond("and", left, self.not_())
        return left

    def not_(self):
        if self.word("NOT"):
            self.take()
            return Cond("not", self.not_())
        return self.prim()

    def value(self):
        k, v = self.take()
        if k in ("str", "num"):
            return v
        if k == "word" and v.upper() in ("TRUE", "FALSE"):
            return v.upper() == "TRUE"
        raise WqlError("value expected")

    def prim(self):
        k, v = self.peek()
        if k == "op" and v == "(":
            self.take()
            e = self.expr()
            if self.take() != ("op", ")"):
                raise WqlError(") expected")
            return e
        if k != "word":
            raise WqlError("property expected")
        prop = self.take()[1]
        k2, v2 = self.peek()
        if k2 == "word" and v2.upper() == "IS":
            self.take()
            neg = False
            if self.word("NOT"):
                self.take()
                neg = True
            if not self.word("NULL"):
                raise WqlError("NULL expected")
            self.take()
            return Cond("cmp", prop, "isnotnull" if neg else "isnull", None)
        if k2 == "word" and v2.upper() == "LIKE":
            self.take()
            return Cond("cmp", prop, "like", self.value())
        if k2 == "word" and v2.upper() == "NOT":
            self.take()
            if not self.word("LIKE"):
                raise WqlError("LIKE expected")
            self.take()
            return Cond("cmp", prop, "notlike", self.value())
        if k2 == "op" and v2 in ("=", "<>", "!=", "<", ">", "<=", ">="):
            self.take()
            return Cond("cmp", prop, v2, self.value())
        raise WqlError("operator expected")


def parse_where(text: str) -> Cond:
    p = Parser(tokenize(text))
    c = p.expr()
    if p.i != len(p.t):
        raise WqlError("trailing tokens")
    return c


def parse_query(text: str):
    toks = tokenize(text)
    p = Parser(toks)
    if not p.word("SELECT"):
        raise WqlError("SELECT expected")
    p.take()
    props = []
    while True:
        k, v = p.take()
        if (k, v) == ("op", "*"):
            props = None
        elif k == "word":
            props.append(v)
        else:
            raise WqlError("property list")
        if p.peek() == ("op", ","):
            p.take()
            continue
        break
    if not p.word("FROM"):
        raise WqlError("FROM expected")
    p.take()
    k, cls = p.take()
    if k != "word":
        raise WqlError("class expected")
    cond = None
    if p.word("WHERE"):
        p.take()
        cond = p.expr()
    if p.i != len(p.t):
        raise WqlError("trailing tokens")
    return cls, props, cond
