"""AST of the PowerShell subset (names follow System.Management.Automation.Language where sensible)."""
from __future__ import annotations


class Node:
    __slots__ = ("start", "end")
    k = "node"


def _mk(name, fields, base=Node):
    def __init__(self, *args, start=0, end=0):
        for f, v in zip(fields, args, strict=False):
            setattr(self, f, v)
        for f in fields[len(args):]:
            setattr(self, f, None)
        self.start = start
        self.end = end

    def __repr__(self):
        return f"{name}(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in fields) + ")"

    cls = type(name, (base,), {"__slots__": tuple(fields), "__init__": __init__, "__repr__": __repr__,
                                "k": name.lower(), "fields": tuple(fields)})
    return cls


# statements
Pipeline = _mk("Pipeline", ["elements"])
ExprElement = _mk("ExprElement", ["expr", "redirs"])
Command = _mk("Command", ["name", "invoke", "args", "redirs"])
CmdParam = _mk("CmdParam", ["name", "value", "text"])
CmdArg = _mk("CmdArg", ["value", "splat"])
Assign = _mk("Assign", ["target", "op", "value"])
If = _mk("If", ["clauses", "else_block"])
While = _mk("While", ["cond", "body", "label"])
DoLoop = _mk("DoLoop", ["body", "cond", "until", "label"])
For = _mk("For", ["init", "cond", "iter", "body", "label"])
ForEach = _mk("ForEach", ["var", "iterable", "body", "label"])
Try = _mk("Try", ["body", "catches", "finally_"])
Throw = _mk("Throw", ["value"])
Return = _mk("Return", ["value"])
Exit = _mk("Exit", ["value"])
Break = _mk("Break", ["label"])
Continue = _mk("Continue", ["label"])
FunctionDef = _mk("FunctionDef", ["name", "body"])
Block = _mk("Block", ["statements"])
Switch = _mk("Switch", ["value", "clauses", "default"])
# expressions
Const = _mk("Const", ["value"])
StrExpand = _mk("StrExpand", ["parts"])
Var = _mk("Var", ["name", "scope"])
ArrayLit = _mk("ArrayLit", ["items"])
SubExpr = _mk("SubExpr", ["statements"])
ArraySub = _mk("ArraySub", ["statements"])
Paren = _mk("Paren", ["pipeline"])
HashLit = _mk("HashLit", ["pairs", "ordered"])
ScriptBlockLit = _mk("ScriptBlockLit", ["block"])
TypeLit = _mk("TypeLit", ["name"])
Cast = _mk("Cast", ["typename", "expr"])
Binary = _mk("Binary", ["op", "left", "right"])
Unary = _mk("Unary", ["op", "operand"])
Member = _mk("Member", ["obj", "name", "static"])
Invoke = _mk("Invoke", ["obj", "name", "static", "args"])
Index = _mk("Index", ["obj", "index"])
IncDec = _mk("IncDec", ["target", "op", "prefix"])
Redirection = _mk("Redirection", ["stream", "append", "target", "merge"])
ScriptBlockAst = _mk("ScriptBlockAst", ["params", "statements", "text"])
Param = _mk("Param", ["name", "default", "typename", "mandatory"])
