"""Parser of the PowerShell subset.

Follows the language documentation (PowerShell 5.1):
* about_Parsing: expression mode vs argument mode; in argument mode a token that starts with ``$``, ``@``,
  ``(``, a quote or ``{`` is an expression, a number-looking token is a number, anything else is an
  expandable string; ``-Name`` is a parameter, ``-Name:value`` binds a value.
* about_Quoting_Rules: '' escapes ' in single-quoted strings; double-quoted strings expand ``$var``,
  ``${name}``, ``$env:NAME`` and ``$(...)`` (``"$a.b"`` expands only ``$a``); ``""`` and backtick escapes;
  here-strings @" "@ / @' '@.
* about_Special_Characters: `0 `a `b `e? (not in 5.1) `f `n `r `t `v; backtick at line end continues it.
* about_Operator_Precedence: the precedence chain implemented by the expression methods below.
* about_Comments: # to end of line, <# #> blocks.
* about_Redirection: >, >>, 2>, 2>>, 2>&1, *>, 3>&1 ...
"""
from __future__ import annotations

import re

from . import ast as A

COMPARISON = {
    "eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch", "replace", "contains",
    "notcontains", "in", "notin", "split", "join", "is", "isnot", "as",
}
CMP_ALL = set()
for _op in COMPARISON:
    CMP_ALL.add(_op)
    if _op not in ("is", "isnot", "as", "join"):
        CMP_ALL.add("i" + _op)
        CMP_ALL.add("c" + _op)
LOGICAL = {"and", "or", "xor"}
BITWISE = {"band", "bor", "bxor", "shl", "shr"}
KEYWORDS = {"if", "while", "foreach", "for", "do", "try", "throw", "return", "exit", "break", "continue",
            "function", "filter", "switch", "param", "begin", "process", "end", "trap", "data"}
NUM_RE = re.compile(r"(0x[0-9a-fA-F]+|(?:\d+(?:\.(?!\.)\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([lLdD])?(kb|mb|gb|tb|pb)?",
                    re.IGNORECASE)
ARG_END = set(" \t\r\n;|)},&")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
SCOPES = {"env", "global", "script", "local", "private", "variable", "using", "function"}
ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
MULT = {"kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3, "tb": 1024 ** 4, "pb": 1024 ** 5}


class ParseError(Exception):
    def __init__(self, message: str, error_id: str, pos: int):
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.pos = pos


def parse(text: str) -> A.ScriptBlockAst:
    p = Parser(text)
    return p.script()


class Parser:
    def __init__(self, text: str):
        self.s = text
        self.n = len(text)
        self.i = 0
        self.allow_comma = True

    # ------------------------------------------------------------------ helpers
    def err(self, msg: str, eid: str, pos: int | None = None):
        raise ParseError(msg, eid, self.i if pos is None else pos)

    def ch(self, off: int = 0) -> str:
        j = self.i + off
        return self.s[j] if j < self.n else ""

    def startswith(self, t: str) -> bool:
        return self.s.startswith(t, self.i)

    def ws(self, nl: bool = False) -> None:
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c in " \t\f\v\u00a0":
                self.i += 1
            elif c == "`" and self.i + 1 < n and s[self.i + 1] in "\r\n":
                self.i += 2
                if s[self.i - 1] == "\r" and self.i < n and s[self.i] == "\n":
                    self.i += 1
            elif c == "#":
                while self.i < n and s[self.i] not in "\r\n":
                    self.i += 1
            elif c == "<" and s.startswith("<#", self.i):
                j = s.find("#>", self.i + 2)
                if j < 0:
                    self.err("Missing the terminator: #>.", "TerminatorExpectedAtEndOfString")
                self.i = j + 2
            elif nl and c in "\r\n":
                self.i += 1
            else:
                break

    def at_eol(self) -> bool:
        return self.i >= self.n or self.s[self.i] in "\r\n"

    def expect(self, t: str, msg: str, eid: str) -> None:
        if not self.startswith(t):
            self.err(msg, eid)
        self.i += len(t)

    def peek_word(self) -> str:
        j = self.i
        while j < self.n and (self.s[j].isalpha() or self.s[j] == "_"):
            j += 1
        w = self.s[self.i:j]
        nxt = self.s[j] if j < self.n else ""
        if nxt and (nxt.isalnum() or nxt in "-_.\\:/"):
            return ""
        return w.lower()

    def dash_op(self) -> tuple[str, int]:
        """If at '-operator' return (op lowercase without dash, end index)."""
        if self.ch() not in ("-", "\u2013"):
            return "", self.i
        j = self.i + 1
        while j < self.n and self.s[j].isalpha():
            j += 1
        word = self.s[self.i + 1:j].lower()
        if j < self.n and (self.s[j].isalnum() or self.s[j] == "_"):
            return "", self.i
        return word, j

    # ------------------------------------------------------------------ script / statements
    def script(self) -> A.ScriptBlockAst:
        self.ws(nl=True)
        params = self.param_block()
        stmts = self.statement_list("")
        if self.i < self.n:
            c = self.s[self.i]
            if c == ")":
                self.err("Unexpected token ')' in expression or statement.", "UnexpectedToken")
            if c == "}":
                self.err("Unexpected token '}' in expression or statement.", "UnexpectedToken")
        return A.ScriptBlockAst(params, stmts, self.s, start=0, end=self.n)

    def param_block(self):
        save = self.i
        if self.peek_word() == "param":
            self.i += 5
            self.ws(nl=True)
            if self.ch() != "(":
                self.i = save
                return None
            self.i += 1
            params = self.param_list(")")
            self.ws(nl=True)
            return params
        return None

    def param_list(self, close: str) -> list:
        params = []
        while True:
            self.ws(nl=True)
            if self.ch() == close:
                self.i += 1
                return params
            typename = None
            mandatory = False
            while self.ch() == "[":
                tn = self.type_name()
                if tn.lower().startswith("parameter"):
                    mandatory = "mandatory" in tn.lower() and "$false" not in tn.lower()
                elif not tn.lower().startswith(("validate", "alias", "allownull", "allowempty", "cmdletbinding")):
                    typename = tn
                self.ws(nl=True)
            if self.ch() != "$":
                self.err("Missing ')' in function parameter list.", "MissingEndParenthesisInFunctionParameterList")
            start = self.i
            v = self.variable()
            default = None
            self.ws(nl=True)
            if self.ch() == "=":
                self.i += 1
                self.ws(nl=True)
                default = self.expression()
            params.append(A.Param(v.name, default, typename, mandatory, start=start, end=self.i))
            self.ws(nl=True)
            if self.ch() == ",":
                self.i += 1

    def statement_list(self, terms: str) -> list:
        stmts = []
        while True:
            self.ws(nl=True)
            while self.ch() == ";":
                self.i += 1
                self.ws(nl=True)
            if self.i >= self.n or (terms and self.s[self.i] in terms):
                return stmts
            if self.s[self.i] in ")}" and not terms:
                return stmts
            if self.s[self.i] in ")}":
                return stmts
            st = self.statement()
            stmts.append(st)
            self.ws()
            if self.i < self.n and self.s[self.i] not in "\r\n;" and not (terms and self.s[self.i] in terms):
                if self.s[self.i] in ")}":
                    continue
                tok = self.s[self.i:].split(None, 1)[0] if self.s[self.i:].strip() else self.s[self.i]
                self.err(f"Unexpected token '{tok[:40]}' in expression or statement.", "UnexpectedToken")

    def block(self) -> A.Block:
        self.ws(nl=True)
        start = self.i
        if self.ch() != "{":
            self.err("Missing statement block.", "MissingStatementBlock")
        self.i += 1
        stmts = self.statement_list("}")
        if self.ch() != "}":
            self.err("Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace", start)
        self.i += 1
        return A.Block(stmts, start=start, end=self.i)

    def statement(self):
        start = self.i
        label = None
        if self.ch() == ":" and self.ch(1).isalpha():
            j = self.i + 1
            while j < self.n and (self.s[j].isalnum() or self.s[j] == "_"):
                j += 1
            label = self.s[self.i + 1: j]
            self.i = j
            self.ws(nl=True)
        w = self.peek_word()
        if w in KEYWORDS:
            m = getattr(self, "kw_" + w, None)
            if m is not None:
                self.i += len(w)
                node = m(start, label) if w in ("while", "foreach", "for", "do") else m(start)
                node.end = self.i
                return node
            if w in ("param", "begin", "process", "end", "trap", "data", "filter"):
                self.err(f"The '{w}' keyword is not supported in this version of the language.",
                         "ReservedKeywordNotAllowed")
        return self.pipeline_statement()

    def cond_paren(self) -> A.Node:
        self.ws(nl=True)
        if self.ch() != "(":
            self.err("Missing '(' after 'if' in if statement.", "MissingOpenParenthesisInIfStatement")
        self.i += 1
        self.ws(nl=True)
        save = self.allow_comma
        self.allow_comma = True
        cond = self.pipeline_statement()
        self.allow_comma = save
        self.ws(nl=True)
        if self.ch() != ")":
            self.err("Missing closing ')' after expression in 'if' statement.", "MissingEndParenthesisAfterStatement")
        self.i += 1
        return cond

    def kw_if(self, start):
        clauses = [(self.cond_paren(), self.block())]
        else_block = None
        while True:
            save = self.i
            self.ws(nl=True)
            w = self.peek_word()
            if w == "elseif":
                self.i += 6
                clauses.append((self.cond_paren(), self.block()))
                continue
            if w == "else":
                self.i += 4
                else_block = self.block()
                break
            self.i = save
            break
        return A.If(clauses, else_block, start=start)

    def kw_while(self, start, label=None):
        cond = self.cond_paren()
        return A.While(cond, self.block(), label, start=start)

    def kw_do(self, start, label=None):
        body = self.block()
        self.ws(nl=True)
        w = self.peek_word()
        if w not in ("while", "until"):
            self.err("Missing while or until keyword in do loop.", "MissingWhileOrUntilInDoWhile")
        self.i += len(w)
        cond = self.cond_paren()
        return A.DoLoop(body, cond, w == "until", label, start=start)

    def kw_for(self, start, label=None):
        self.ws(nl=True)
        self.expect("(", "Missing opening '(' after keyword 'for'.", "MissingOpenParenthesisAfterKeyword")
        parts = []
        for k in range(3):
            self.ws(nl=True)
            if self.ch() in (";", ")"):
                parts.append(None)
            else:
                parts.append(self.pipeline_statement())
            self.ws(nl=True)
            if k < 2:
                if self.ch() == ";":
                    self.i += 1
            else:
                self.expect(")", "Missing closing ')' after expression in 'for' statement.",
                            "MissingEndParenthesisAfterStatement")
        return A.For(parts[0], parts[1], parts[2], self.block(), label, start=start)

    def kw_foreach(self, start, label=None):
        self.ws(nl=True)
        self.expect("(", "Missing opening '(' after keyword 'foreach'.", "MissingOpenParenthesisAfterKeyword")
        self.ws(nl=True)
        if self.ch() != "$":
            self.err("Missing variable name after foreach.", "MissingVariableNameAfterForeach")
        v = self.variable()
        self.ws(nl=True)
        if self.peek_word() != "in":
            self.err("Missing 'in' after variable in foreach loop.", "MissingInInForeach")
        self.i += 2
        self.ws(nl=True)
        it = self.pipeline_statement()
        self.ws(nl=True)
        self.expect(")", "Missing closing ')' after expression in 'foreach' statement.",
                    "MissingEndParenthesisAfterForeach")
        return A.ForEach(v.name, it, self.block(), label, start=start)

    def kw_try(self, start):
        body = self.block()
        catches = []
        fin = None
        while True:
            save = self.i
            self.ws(nl=True)
            w = self.peek_word()
            if w == "catch":
                self.i += 5
                types = []
                while True:
                    self.ws(nl=True)
                    if self.ch() == "[":
                        types.append(self.type_name())
                        self.ws(nl=True)
                        if self.ch() == ",":
                            self.i += 1
                            continue
                    break
                catches.append((types, self.block()))
                continue
            if w == "finally":
                self.i += 7
                fin = self.block()
                break
            self.i = save
            break
        if not catches and fin is None:
            self.err("The Try statement is missing its Catch or Finally block.", "MissingCatchOrFinally")
        return A.Try(body, catches, fin, start=start)

    def _opt_pipeline(self):
        self.ws()
        if self.at_eol() or self.ch() in ";)}":
            return None
        return self.pipeline_statement()

    def kw_throw(self, start):
        return A.Throw(self._opt_pipeline(), start=start)

    def kw_return(self, start):
        return A.Return(self._opt_pipeline(), start=start)

    def kw_exit(self, start):
        return A.Exit(self._opt_pipeline(), start=start)

    def _label(self):
        self.ws()
        j = self.i
        while j < self.n and (self.s[j].isalnum() or self.s[j] == "_"):
            j += 1
        lab = self.s[self.i:j] or None
        self.i = j
        return lab

    def kw_break(self, start):
        return A.Break(self._label(), start=start)

    def kw_continue(self, start):
        return A.Continue(self._label(), start=start)

    def kw_function(self, start):
        self.ws()
        j = self.i
        while j < self.n and self.s[j] not in " \t\r\n({":
            j += 1
        name = self.s[self.i:j]
        self.i = j
        self.ws(nl=True)
        params = None
        if self.ch() == "(":
            self.i += 1
            params = self.param_list(")")
            self.ws(nl=True)
        bstart = self.i
        self.expect("{", "Missing function body in function declaration.", "MissingFunctionBody")
        self.ws(nl=True)
        inner = self.param_block()
        stmts = self.statement_list("}")
        self.expect("}", "Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace")
        sb = A.ScriptBlockAst(params if params is not None else inner, stmts, self.s[bstart:self.i],
                              start=bstart, end=self.i)
        return A.FunctionDef(name, sb, start=start)

    def kw_switch(self, start):
        self.ws()
        while self.ch() == "-":  # -regex/-wildcard/-exact/-casesensitive are not supported
            w, j = self.dash_op()
            if w == "exact":
                self.i = j
                self.ws()
            else:
                self.err(f"The switch option '-{w}' is not supported by this emulator's language subset.",
                         "UnsupportedSwitchOption")
        value = self.cond_paren()
        self.ws(nl=True)
        self.expect("{", "Missing opening '{' in switch statement.", "MissingCurlyBraceInSwitchStatement")
        clauses = []
        default = None
        while True:
            self.ws(nl=True)
            while self.ch() == ";":
                self.i += 1
                self.ws(nl=True)
            if self.ch() == "}":
                self.i += 1
                break
            if self.peek_word() == "default":
                self.i += 7
                default = self.block()
                continue
            if self.ch() in ("'", '"', "$", "(", "{") or self.ch().isdigit():
                cond = self.arg_atom()
            else:
                cond = self.bareword()
            clauses.append((cond, self.block()))
        return A.Switch(value, clauses, default, start=start)

    # ------------------------------------------------------------------ pipelines
    def pipeline_statement(self):
        start = self.i
        elements = []
        first = True
        while True:
            self.ws()
            if self.i >= self.n or self.s[self.i] in "\r\n;)}":
                if first:
                    self.err("An empty pipe element is not allowed.", "EmptyPipeElement")
                self.err("An empty pipe element is not allowed.", "EmptyPipeElement")
            el = self.pipeline_element()
            if first and isinstance(el, A.ExprElement) and not el.redirs:
                self.ws()
                op = self.assign_op()
                if op:
                    self.ws(nl=True)
                    w = self.peek_word()
                    if w in ("if", "foreach", "while", "switch", "for", "do", "try"):
                        value = self.statement()
                    else:
                        value = self.pipeline_statement()
                    return A.Assign(el.expr, op, value, start=start, end=self.i)
            elements.append(el)
            self.ws()
            if self.ch() == "|" and self.ch(1) != "|":
                self.i += 1
                self.ws(nl=True)
                first = False
                continue
            if self.startswith("&&") or self.startswith("||"):
                self.err(f"The token '{self.s[self.i:self.i + 2]}' is not a valid statement separator in this "
                         "version.", "InvalidEndOfLine")
            break
        return A.Pipeline(elements, start=start, end=self.i)

    def assign_op(self) -> str:
        s = self.s[self.i:self.i + 2]
        if s in ("+=", "-=", "*=", "/=", "%="):
            self.i += 2
            return s
        if self.ch() == "=" and self.ch(1) != "=":
            self.i += 1
            return "="
        return ""

    def is_expression_start(self) -> bool:
        c = self.ch()
        if not c:
            return False
        if c in "$('\"{[!,":
            return True
        if c == "@" and self.ch(1) in ("(", "{", '"', "'"):
            return True
        if c in "\u2018\u2019\u201c\u201d":
            return True
        if c.isdigit() or (c == "." and self.ch(1).isdigit()):
            return self.number_token() is not None
        if c in ("-", "\u2013"):
            if self.ch(1).isdigit() or (self.ch(1) == "." and self.ch(2).isdigit()):
                return True
            w, _ = self.dash_op()
            return w in ("not", "bnot", "join", "split") or (self.ch(1) in ("-",) and self.ch(2) == "$")
        if c == "+" and (self.ch(1).isdigit() or self.ch(1) == "$"):
            return True
        return False

    def pipeline_element(self):
        start = self.i
        c = self.ch()
        if c == "&" and self.ch(1) != "&":
            self.i += 1
            self.ws()
            return self.command(start, "&")
        if c == "." and self.ch(1) in (" ", "\t", "'", '"', "$", "{", "("):
            self.i += 1
            self.ws()
            return self.command(start, ".")
        if self.is_expression_start():
            expr = self.expression()
            redirs = self.redirections()
            return A.ExprElement(expr, redirs, start=start, end=self.i)
        return self.command(start, None)

    def redirections(self) -> list:
        redirs = []
        while True:
            save = self.i
            self.ws()
            r = self.redirection()
            if r is None:
                self.i = save
                return redirs
            redirs.append(r)

    def redirection(self):
        m = re.compile(r"([1-6*])?(>>|>)(&([1-6]))?").match(self.s, self.i)
        if not m or (m.group(1) is None and self.ch() != ">"):
            if self.ch() == "<":
                self.err("The '<' operator is reserved for future use.", "RedirectionNotSupported")
            return None
        start = self.i
        self.i = m.end()
        stream = m.group(1) or "1"
        append = m.group(2) == ">>"
        if m.group(3):
            return A.Redirection(stream, append, None, m.group(4), start=start, end=self.i)
        self.ws()
        if self.at_eol():
            self.err("Missing file specification after redirection operator.", "MissingFileSpecification")
        target = self.arg_atom()
        return A.Redirection(stream, append, target, None, start=start, end=self.i)

    # ------------------------------------------------------------------ commands
    def command(self, start: int, invoke):
        if invoke:
            if self.ch() in ("'", '"', "$", "(", "{", "@") or self.ch() in "\u2018\u2019\u201c\u201d":
                name = self.arg_atom()
            else:
                name = self.bareword()
        else:
            name = self.bareword()
            if isinstance(name, A.Const) and name.value == "":
                self.err(f"Unexpected token '{self.ch()}' in expression or statement.", "UnexpectedToken")
        args = []
        redirs = []
        while True:
            self.ws()
            c = self.ch()
            if not c or c in "\r\n;|)}":
                break
            if c == "&":
                if self.ch(1) == "&":
                    break
                self.err("The ampersand (&) character is not allowed. The & operator is reserved for future "
                         "use; wrap an ampersand in double quotation marks (\"&\") to pass it as part of a "
                         "string.", "AmpersandNotAllowed")
            r = self.redirection() if (c in ">" or (c in "123456*" and self.ch(1) == ">")) else None
            if r is not None:
                redirs.append(r)
                continue
            if c in ("-", "\u2013") and (self.ch(1).isalpha() or self.ch(1) == "_" or self.ch(1) == "?"):
                pstart = self.i
                j = self.i + 1
                while j < self.n and self.s[j] not in " \t\r\n:;|)},":
                    j += 1
                pname = self.s[self.i + 1:j]
                self.i = j
                if self.ch() == ":":
                    self.i += 1
                    val = self.command_argument()
                    args.append(A.CmdParam(pname, val, self.s[pstart:self.i], start=pstart, end=self.i))
                else:
                    args.append(A.CmdParam(pname, None, self.s[pstart:self.i], start=pstart, end=self.i))
                continue
            if c == "-" and self.ch(1) == "-" and self.ch(2) == "%":
                self.err("The stop-parsing token --% is not supported by this emulator's language subset.",
                         "UnsupportedStopParsing")
            astart = self.i
            if c == "@" and (self.ch(1).isalpha() or self.ch(1) == "_"):
                self.i += 1
                v = self.variable_name_only()
                args.append(A.CmdArg(A.Var(v, None, start=astart, end=self.i), True, start=astart, end=self.i))
                continue
            val = self.command_argument()
            args.append(A.CmdArg(val, False, start=astart, end=self.i))
        return A.Command(name, invoke, args, redirs, start=start, end=self.i)

    def variable_name_only(self) -> str:
        j = self.i
        while j < self.n and (self.s[j] in NAME_CHARS):
            j += 1
        name = self.s[self.i:j]
        self.i = j
        return name

    def command_argument(self):
        start = self.i
        items = [self.arg_atom()]
        while True:
            save = self.i
            self.ws()
            if self.ch() == ",":
                self.i += 1
                self.ws(nl=True)
                items.append(self.arg_atom())
                continue
            self.i = save
            break
        if len(items) == 1:
            return items[0]
        return A.ArrayLit(items, start=start, end=self.i)

    def arg_atom(self):
        start = self.i
        c = self.ch()
        if c in ("$", "(", "{") or (c == "@" and self.ch(1) in "({\"'") or c in "'\"" or \
                c in "\u2018\u2019\u201c\u201d":
            save_comma = self.allow_comma
            self.allow_comma = False
            try:
                node = self.postfix(self.primary(), arg_mode=True)
            finally:
                self.allow_comma = save_comma
            nxt = self.ch()
            if nxt and nxt not in ARG_END and nxt not in ">":
                self.i = start
                return self.bareword()
            return node
        if c.isdigit() or (c in ("-", ".", "\u2013") and (self.ch(1).isdigit() or self.ch(1) == ".")):
            num = self.number_token()
            if num is not None:
                val, end = num
                self.i = end
                return A.Const(val, start=start, end=end)
        if c == "[":
            pass
        return self.bareword()

    def bareword(self):
        """A generic token in argument mode: an expandable string (variables and $() expand)."""
        start = self.i
        parts: list = []
        buf: list[str] = []
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c in " \t\r\n;|)},&" or (c == ">" and not buf and not parts and False):
                break
            if c == ">":
                break
            if c == "`" and self.i + 1 < n:
                nx = s[self.i + 1]
                if nx in "\r\n":
                    break
                buf.append(ESCAPES.get(nx, nx))
                self.i += 2
                continue
            if c in ("'", "\u2018", "\u2019"):
                buf.append(self.single_quoted())
                continue
            if c in ('"', "\u201c", "\u201d"):
                node = self.double_quoted()
                if isinstance(node, A.Const):
                    buf.append(node.value)
                else:
                    for p in node.parts:
                        if isinstance(p, str):
                            buf.append(p)
                        else:
                            if buf:
                                parts.append("".join(buf))
                                buf = []
                            parts.append(p)
                continue
            if c == "$" and self.i + 1 < n and (s[self.i + 1] in NAME_CHARS or s[self.i + 1] in "{(_?$^"):
                if buf:
                    parts.append("".join(buf))
                    buf = []
                if s[self.i + 1] == "(":
                    parts.append(self.subexpression())
                else:
                    parts.append(self.variable())
                continue
            buf.append(c)
            self.i += 1
        if buf:
            parts.append("".join(buf))
        if not parts:
            return A.Const("", start=start, end=self.i)
        if len(parts) == 1 and isinstance(parts[0], str):
            return A.Const(parts[0], start=start, end=self.i)
        return A.StrExpand(parts, start=start, end=self.i)

    # ------------------------------------------------------------------ expressions
    def expression(self):
        return self.logical()

    def logical(self):
        left = self.bitwise()
        while True:
            save = self.i
            self.ws()
            op, j = self.dash_op()
            if op in LOGICAL:
                self.i = j
                self.ws(nl=True)
                right = self.bitwise()
                left = A.Binary(op, left, right, start=left.start, end=self.i)
                continue
            self.i = save
            return left

    def bitwise(self):
        left = self.comparison()
        while True:
            save = self.i
            self.ws()
            op, j = self.dash_op()
            if op in BITWISE:
                self.i = j
                self.ws(nl=True)
                right = self.comparison()
                left = A.Binary(op, left, right, start=left.start, end=self.i)
                continue
            self.i = save
            return left

    def comparison(self):
        left = self.additive()
        while True:
            save = self.i
            self.ws()
            op, j = self.dash_op()
            if op in CMP_ALL:
                self.i = j
                self.ws(nl=True)
                if not self.is_operand_start():
                    self.err(f"You must provide a value expression following the '-{op}' operator.",
                             "ExpectedValueExpression")
                right = self.additive()
                left = A.Binary(op, left, right, start=left.start, end=self.i)
                continue
            if op and op not in LOGICAL and op not in BITWISE and op != "f":
                self.err(f"Unexpected token '-{op}' in expression or statement.", "UnexpectedToken", save)
            self.i = save
            return left

    def is_operand_start(self) -> bool:
        c = self.ch()
        if not c or c in "\r\n;)}|":
            return False
        if c.isalpha() and not self.s.startswith("-", self.i):
            return False
        return True

    def additive(self):
        left = self.multiplicative()
        while True:
            save = self.i
            self.ws()
            c = self.ch()
            if c == "+" and self.ch(1) not in "=+":
                self.i += 1
            elif c in ("-", "\u2013") and self.ch(1) not in "=-" and not self.ch(1).isalpha():
                self.i += 1
            else:
                self.i = save
                return left
            self.ws(nl=True)
            right = self.multiplicative()
            left = A.Binary(c.replace("\u2013", "-"), left, right, start=left.start, end=self.i)

    def multiplicative(self):
        left = self.unary_minus()
        while True:
            save = self.i
            self.ws()
            c = self.ch()
            if c in "*/%" and self.ch(1) != "=" and c:
                self.i += 1
                self.ws(nl=True)
                right = self.unary_minus()
                left = A.Binary(c, left, right, start=left.start, end=self.i)
                continue
            self.i = save
            return left

    def unary_minus(self):
        start = self.i
        c = self.ch()
        if c in ("-", "\u2013") and not self.ch(1).isalpha() and self.ch(1) not in "-=" and \
                not (self.ch(1).isdigit() or (self.ch(1) == "." and self.ch(2).isdigit())):
            self.i += 1
            self.ws()
            operand = self.unary_minus()
            return A.Unary("-", operand, start=start, end=self.i)
        if c == "+" and self.ch(1) not in "+=":
            self.i += 1
            operand = self.unary_minus()
            return A.Unary("+", operand, start=start, end=self.i)
        return self.format_expr()

    def format_expr(self):
        left = self.range_expr()
        while True:
            save = self.i
            self.ws()
            op, j = self.dash_op()
            if op == "f":
                self.i = j
                self.ws(nl=True)
                right = self.range_expr()
                left = A.Binary("f", left, right, start=left.start, end=self.i)
                continue
            self.i = save
            return left

    def range_expr(self):
        left = self.not_expr()
        save = self.i
        self.ws()
        if self.startswith(".."):
            self.i += 2
            self.ws(nl=True)
            right = self.not_expr()
            return A.Binary("..", left, right, start=left.start, end=self.i)
        self.i = save
        return left

    def not_expr(self):
        start = self.i
        if self.ch() == "!":
            self.i += 1
            self.ws()
            return A.Unary("not", self.not_expr(), start=start, end=self.i)
        op, j = self.dash_op()
        if op in ("not", "bnot"):
            self.i = j
            self.ws(nl=True)
            return A.Unary(op, self.not_expr(), start=start, end=self.i)
        return self.incdec()

    def incdec(self):
        start = self.i
        if self.startswith("++") or self.startswith("--"):
            op = self.s[self.i:self.i + 2]
            if self.ch(2) == "$":
                self.i += 2
                target = self.postfix(self.primary())
                return A.IncDec(target, op, True, start=start, end=self.i)
        return self.comma_expr()

    def comma_expr(self):
        start = self.i
        if self.allow_comma and self.ch() == ",":
            self.i += 1
            self.ws(nl=True)
            item = self.join_split()
            return A.ArrayLit([item], start=start, end=self.i)
        first = self.join_split()
        if not self.allow_comma:
            return first
        save = self.i
        self.ws()
        if self.ch() != ",":
            self.i = save
            return first
        items = [first]
        while self.ch() == ",":
            self.i += 1
            self.ws(nl=True)
            items.append(self.join_split())
            save = self.i
            self.ws()
            if self.ch() != ",":
                self.i = save
                break
        return A.ArrayLit(items, start=start, end=self.i)

    def join_split(self):
        start = self.i
        op, j = self.dash_op()
        if op in ("join", "split"):
            self.i = j
            self.ws()
            operand = self.cast_expr()
            return A.Unary(op, operand, start=start, end=self.i)
        return self.cast_expr()

    def cast_expr(self):
        start = self.i
        if self.ch() == "[":
            tn = self.type_name()
            if self.startswith("::"):
                return self.postfix(A.TypeLit(tn, start=start, end=self.i))
            save = self.i
            self.ws()
            c = self.ch()
            if c and (c in "$('\"@[{" or c.isdigit() or c in "-+!" or c == "." and self.ch(1).isdigit()
                      or c in "\u2018\u2019\u201c\u201d"):
                if c in "-" and self.ch(1).isalpha():
                    op, _ = self.dash_op()
                    if op not in ("not", "join", "split", "bnot"):
                        self.i = save
                        return self.postfix(A.TypeLit(tn, start=start, end=save))
                operand = self.unary_minus() if c in "-+!" else self.cast_expr()
                if tn.lower() == "ordered" and isinstance(operand, A.HashLit):
                    operand.ordered = True
                    return operand
                return A.Cast(tn, operand, start=start, end=self.i)
            self.i = save
            return self.postfix(A.TypeLit(tn, start=start, end=save))
        return self.postfix(self.primary())

    def type_name(self) -> str:
        """Reads ``[Type.Name]`` / ``[byte[]]`` / ``[Parameter(Mandatory)]``; returns the inside text."""
        start = self.i
        self.i += 1
        depth = 1
        while self.i < self.n and depth:
            c = self.s[self.i]
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            elif c in "\r\n" and depth:
                self.err("Missing ] at end of type token.", "EndSquareBracketExpectedAtEndOfType", start)
            self.i += 1
        if depth:
            self.err("Missing ] at end of type token.", "EndSquareBracketExpectedAtEndOfType", start)
        return self.s[start + 1: self.i - 1].strip()

    def postfix(self, node, arg_mode: bool = False):
        while True:
            c = self.ch()
            if c == "." and self.ch(1) != "." and (self.ch(1) in NAME_CHARS or self.ch(1) in "$'\"("):
                if isinstance(node, A.Const) and isinstance(node.value, (int, float)) and not arg_mode:
                    return node
                self.i += 1
                node = self.member_rest(node, False)
                continue
            if c == ":" and self.ch(1) == ":":
                self.i += 2
                node = self.member_rest(node, True)
                continue
            if c == "[" and not arg_mode or (c == "[" and arg_mode and isinstance(node, A.Var)):
                start = node.start
                self.i += 1
                self.ws(nl=True)
                save = self.allow_comma
                self.allow_comma = True
                idx = self.expression()
                self.allow_comma = save
                self.ws(nl=True)
                self.expect("]", "Array index expression is missing or not valid.", "MissingArrayIndexExpression")
                node = A.Index(node, idx, start=start, end=self.i)
                continue
            if (c == "+" and self.ch(1) == "+") or (c == "-" and self.ch(1) == "-"):
                if isinstance(node, (A.Var, A.Member, A.Index)) and not arg_mode:
                    op = self.s[self.i:self.i + 2]
                    self.i += 2
                    node = A.IncDec(node, op, False, start=node.start, end=self.i)
                    continue
            return node

    def member_rest(self, obj, static: bool):
        start = obj.start
        c = self.ch()
        if c == "$":
            name = self.variable()
        elif c in "'\"":
            name = self.single_quoted() if c == "'" else self.double_quoted()
            if isinstance(name, A.Const):
                name = name.value
        elif c == "(":
            self.i += 1
            name = self.expression()
            self.expect(")", "Missing closing ')'.", "MissingEndParenthesisInExpression")
        else:
            j = self.i
            while j < self.n and self.s[j] in NAME_CHARS:
                j += 1
            if j == self.i:
                self.err("Missing property name after reference operator.", "MissingPropertyName")
            name = self.s[self.i:j]
            self.i = j
        if self.ch() == "(":
            self.i += 1
            args = []
            save = self.allow_comma
            self.allow_comma = False
            self.ws(nl=True)
            if self.ch() != ")":
                while True:
                    self.ws(nl=True)
                    if not self.ch() or self.ch() in ";}":
                        self.err("Missing ')' in method call.", "MissingEndParenthesisInMethodCall")
                    args.append(self.expression())
                    self.ws(nl=True)
                    if self.ch() == ",":
                        self.i += 1
                        continue
                    break
            self.allow_comma = save
            self.ws(nl=True)
            self.expect(")", "Missing closing ')' in method call.", "MissingEndParenthesisInMethodCall")
            return A.Invoke(obj, name, static, args, start=start, end=self.i)
        return A.Member(obj, name, static, start=start, end=self.i)

    def number_token(self):
        """(value, end) if the characters at i form a complete number literal, else None."""
        s = self.s
        j = self.i
        neg = False
        if j < self.n and s[j] in ("-", "\u2013"):
            neg = True
            j += 1
        m = NUM_RE.match(s, j)
        if not m:
            return None
        end = m.end()
        if end < self.n and (s[end].isalnum() or s[end] == "_"):
            return None
        if end < self.n and s[end] == "." and end + 1 < self.n and s[end + 1].isdigit():
            return None
        text = m.group(1)
        try:
            if text.lower().startswith("0x"):
                val = int(text, 16)
                if val >= 2 ** 31 and val < 2 ** 32 and not m.group(2):
                    val -= 2 ** 32  # 0xFFFFFFFF is Int32 -1 (about_Numeric_Literals)
            elif any(ch in text for ch in ".eE") or (m.group(2) or "").lower() == "d":
                val = float(text)
            else:
                val = int(text)
        except ValueError:
            return None
        if m.group(3):
            val = val * MULT[m.group(3).lower()]
            if isinstance(val, float) and val.is_integer() and "." not in text:
                val = int(val)
        if (m.group(2) or "").lower() == "d":
            val = float(val)
        if neg:
            val = -val
        return val, end

    def primary(self):
        start = self.i
        c = self.ch()
        if c == "$":
            if self.ch(1) == "(":
                return self.subexpression()
            return self.variable()
        if c == "@":
            c1 = self.ch(1)
            if c1 == "(":
                self.i += 2
                stmts = self.statement_list(")")
                self.ws(nl=True)
                self.expect(")", "Missing closing ')' in subexpression.", "MissingEndParenthesisInSubexpression")
                return A.ArraySub(stmts, start=start, end=self.i)
            if c1 == "{":
                return self.hashtable()
            if c1 in "\"'":
                return self.here_string()
        if c == "(":
            self.i += 1
            self.ws(nl=True)
            save = self.allow_comma
            self.allow_comma = True
            if self.ch() == ")":
                self.err("An expression was expected after '('.", "ExpectedExpression")
            w = self.peek_word()
            if w in ("if", "foreach", "while", "switch", "for", "try"):
                inner = self.statement()
            else:
                inner = self.pipeline_statement()
            self.allow_comma = save
            self.ws(nl=True)
            self.expect(")", "Missing closing ')' in expression.", "MissingEndParenthesisInExpression")
            return A.Paren(inner, start=start, end=self.i)
        if c in ("'", "\u2018", "\u2019"):
            v = self.single_quoted()
            return A.Const(v, start=start, end=self.i)
        if c in ('"', "\u201c", "\u201d"):
            return self.double_quoted()
        if c == "{":
            return self.scriptblock_literal()
        if c == "[":
            tn = self.type_name()
            return A.TypeLit(tn, start=start, end=self.i)
        if c.isdigit() or (c == "." and self.ch(1).isdigit()) or (c in "-\u2013" and self.ch(1).isdigit()):
            num = self.number_token()
            if num is not None:
                self.i = num[1]
                return A.Const(num[0], start=start, end=self.i)
        if c == "," and self.allow_comma:
            return self.comma_expr()
        if not c or c in "\r\n;)}":
            self.err("An expression was expected after '('.", "ExpectedExpression")
        tok = self.s[self.i:].split(None, 1)[0][:40]
        self.err(f"Unexpected token '{tok}' in expression or statement.", "UnexpectedToken")

    def subexpression(self):
        start = self.i
        self.i += 2
        stmts = self.statement_list(")")
        self.ws(nl=True)
        self.expect(")", "Missing closing ')' in subexpression.", "MissingEndParenthesisInSubexpression")
        return A.SubExpr(stmts, start=start, end=self.i)

    def scriptblock_literal(self):
        start = self.i
        self.i += 1
        self.ws(nl=True)
        params = self.param_block()
        stmts = self.statement_list("}")
        self.expect("}", "Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace")
        sb = A.ScriptBlockAst(params, stmts, self.s[start + 1:self.i - 1], start=start, end=self.i)
        return A.ScriptBlockLit(sb, start=start, end=self.i)

    def hashtable(self):
        start = self.i
        self.i += 2
        pairs = []
        while True:
            self.ws(nl=True)
            while self.ch() == ";":
                self.i += 1
                self.ws(nl=True)
            if self.ch() == "}":
                self.i += 1
                return A.HashLit(pairs, False, start=start, end=self.i)
            if not self.ch():
                self.err("Missing closing '}' in hash literal.", "MissingEndCurlyBrace", start)
            kstart = self.i
            c = self.ch()
            if c in "'\"":
                key = self.primary()
            elif c == "$" or c == "(":
                key = self.postfix(self.primary())
            elif c.isdigit():
                num = self.number_token()
                if num is None:
                    key = self.hash_key_word()
                else:
                    self.i = num[1]
                    key = A.Const(num[0], start=kstart, end=self.i)
            else:
                key = self.hash_key_word()
            self.ws()
            if self.ch() != "=":
                self.err("Missing '=' operator after key in hash literal.", "MissingEqualsInHashLiteral")
            self.i += 1
            self.ws(nl=True)
            save = self.allow_comma
            self.allow_comma = True
            w = self.peek_word()
            if w in ("if", "foreach", "switch"):
                val = self.statement()
            else:
                val = self.pipeline_statement()
            self.allow_comma = save
            pairs.append((key, val))
            self.ws()
            if self.ch() not in ("\r", "\n", ";", "}"):
                self.err("Missing statement after '=' in hash literal.", "MissingStatementInHashLiteral")

    def hash_key_word(self):
        start = self.i
        j = self.i
        while j < self.n and self.s[j] not in " \t\r\n=;}":
            j += 1
        if j == self.i:
            self.err("Missing key before '=' in hash literal.", "MissingKeyInHashLiteral")
        self.i = j
        return A.Const(self.s[start:j], start=start, end=j)

    # ------------------------------------------------------------------ variables and strings
    def variable(self):
        start = self.i
        self.i += 1
        c = self.ch()
        if c == "{":
            j = self.s.find("}", self.i)
            if j < 0:
                self.err("Missing '}' in variable reference.", "IncompleteDollarVariableReference")
            raw = self.s[self.i + 1:j]
            self.i = j + 1
            scope = None
            if ":" in raw and raw.split(":", 1)[0].lower() in SCOPES:
                scope, raw = raw.split(":", 1)
                scope = scope.lower()
            return A.Var(raw, scope, start=start, end=self.i)
        if c in "?$^_" and not (c == "_" and self.ch(1) in NAME_CHARS):
            self.i += 1
            return A.Var(c, None, start=start, end=self.i)
        j = self.i
        while j < self.n and self.s[j] in NAME_CHARS:
            j += 1
        name = self.s[self.i:j]
        if not name:
            self.err("Invalid variable reference. '$' was not followed by a valid variable name character. "
                     "Consider using ${} to delimit the name.", "InvalidVariableReference", start)
        scope = None
        if j < self.n and self.s[j] == ":" and name.lower() in SCOPES and j + 1 < self.n and \
                (self.s[j + 1] in NAME_CHARS):
            k = j + 1
            while k < self.n and (self.s[k] in NAME_CHARS or (self.s[k] in "()" and name.lower() == "env"
                                                                and False)):
                k += 1
            scope = name.lower()
            name = self.s[j + 1:k]
            j = k
        self.i = j
        return A.Var(name, scope, start=start, end=self.i)

    def single_quoted(self) -> str:
        start = self.i
        self.i += 1
        out = []
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
                if self.i + 1 < n and s[self.i + 1] in ("'", "\u2018", "\u2019"):
                    out.append("'")
                    self.i += 2
                    continue
                self.i += 1
                return "".join(out)
            out.append(c)
            self.i += 1
        self.err("The string is missing the terminator: '.", "TerminatorExpectedAtEndOfString", start)

    def double_quoted(self, here: bool = False):
        start = self.i
        if not here:
            self.i += 1
        parts: list = []
        buf: list[str] = []
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if not here and c in ('"', "\u201c", "\u201d", "\u201e"):
                if self.i + 1 < n and s[self.i + 1] in ('"', "\u201c", "\u201d"):
                    buf.append('"')
                    self.i += 2
                    continue
                self.i += 1
                break
            if here and c in "\r\n":
                # end marker: newline then "@ at line start
                m = re.compile(r"\r?\n\"@").match(s, self.i)
                if m:
                    self.i = m.end()
                    break
            if c == "`" and self.i + 1 < n:
                nx = s[self.i + 1]
                buf.append(ESCAPES.get(nx, nx))
                self.i += 2
                continue
            if c == "$" and self.i + 1 < n:
                nx = s[self.i + 1]
                if nx == "(":
                    if buf:
                        parts.append("".join(buf))
                        buf = []
                    parts.append(self.subexpression())
                    continue
                if nx in NAME_CHARS or nx == "{" or nx in "?$^":
                    if buf:
                        parts.append("".join(buf))
                        buf = []
                    parts.append(self.variable())
                    continue
            buf.append(c)
            self.i += 1
        else:
            if here:
                self.err("The string is missing the terminator: \"@.", "TerminatorExpectedAtEndOfString", start)
            self.err('The string is missing the terminator: ".', "TerminatorExpectedAtEndOfString", start)
        if buf:
            parts.append("".join(buf))
        if not parts:
            return A.Const("", start=start, end=self.i)
        if len(parts) == 1 and isinstance(parts[0], str):
            return A.Const(parts[0], start=start, end=self.i)
        return A.StrExpand(parts, start=start, end=self.i)

    def here_string(self):
        start = self.i
        quote = self.ch(1)
        self.i += 2
        m = re.compile(r"[ \t]*\r?\n").match(self.s, self.i)
        if not m:
            self.err("No characters are allowed after a here-string header but before the end of the line.",
                     "UnexpectedCharactersAfterHereStringHeader")
        self.i = m.end()
        if quote == "'":
            m2 = re.compile(r"\r?\n'@").search(self.s, self.i)
            if self.s.startswith("'@", self.i):
                self.i += 2
                return A.Const("", start=start, end=self.i)
            if not m2:
                self.err("The string is missing the terminator: '@.", "TerminatorExpectedAtEndOfString", start)
            text = self.s[self.i:m2.start()]
            self.i = m2.end()
            return A.Const(text, start=start, end=self.i)
        if self.s.startswith('"@', self.i):
            self.i += 2
            return A.Const("", start=start, end=self.i)
        node = self.double_quoted(here=True)
        node.start = start
        return node
