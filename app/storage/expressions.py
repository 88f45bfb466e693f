"""The expression language of version-2 mappings: parsed here, compiled to DuckDB SQL.

User text is never evaluated by Python nor passed through as SQL: it is tokenized and parsed
into a small tree, type-checked, and each node emits SQL itself (column names as quoted
identifiers, strings as escaped literals, numbers as decimals). Anything outside the grammar is
an :class:`ExpressionError` naming the position and what was expected.

Grammar (keywords and function names ignore case)::

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := sum (("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") sum)?
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | 'text' | true | false | null | column | function "(" expr ("," expr)* ")" | "(" expr ")"
    column  := NAME | "[" any characters but ] "]"          # [Customer ID] for names with spaces

Values are text, number (exact decimal), date, timestamp or boolean; an empty cell is null.
A text used as a number is read with the strict number grammar of :mod:`app.storage.money`; a
cell that does not match rejects its row with the reason. Functions: see :data:`FUNCTIONS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from app.errors import DataFileError
from app.storage.money import MAX_DECIMALS, MAX_DIGITS, PLAIN_NUMBER

__all__ = [
    "ExpressionError",
    "Node",
    "Check",
    "Compiled",
    "SqlContext",
    "FUNCTIONS",
    "parse",
    "compile_expression",
    "as_number",
    "as_time",
    "sql_text",
]

NUMBER_SQL = f"DECIMAL(38,{MAX_DECIMALS})"
_TYPES = ("text", "number", "date", "timestamp", "boolean", "null")


class ExpressionError(DataFileError):
    """An expression outside the grammar or with mismatched types."""


def sql_text(value: str) -> str:
    """A SQL string literal of ``value`` (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"\s*(?:(?P<number>[0-9]+(?:\.[0-9]+)?)|'(?P<text>(?:[^']|'')*)'|\[(?P<bracket>[^\]]*)\]"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op><=|>=|!=|<>|[-+*/(),=<>]))"
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    value: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            at = len(text) - len(text[pos:].lstrip())
            raise ExpressionError(f"expression {text!r}: unexpected character {text[at]!r} at position {at + 1}")
        group = m.lastgroup or "op"
        value, start = m.group(group), m.start(group)
        if group == "text":
            value = value.replace("''", "'")
        out.append(_Tok("column" if group == "bracket" else group, value, start))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class Node:
    """A parsed expression node."""

    kind: str  # number, text, bool, null, column, call, unary, binary
    value: str = ""
    args: tuple[Node, ...] = ()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.toks, self.i = text, _tokens(text), 0

    def _peek(self) -> _Tok:
        return self.toks[self.i]

    def _word(self, *words: str) -> bool:
        tok = self._peek()
        return tok.kind == "name" and tok.value.lower() in words

    def _op(self, *ops: str) -> bool:
        tok = self._peek()
        return tok.kind == "op" and tok.value in ops

    def _fail(self, expected: str) -> ExpressionError:
        tok = self._peek()
        found = "the end" if tok.kind == "end" else repr(tok.value)
        return ExpressionError(f"expression {self.text!r}: expected {expected} at position {tok.pos + 1}, found {found}")

    def _next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self._or()
        if self._peek().kind != "end":
            raise self._fail("an operator or the end")
        return node

    def _binary(self, sub: Callable[[], Node], match: Callable[[], bool]) -> Node:
        node = sub()
        while match():
            op = self._next().value.lower()
            node = Node("binary", "!=" if op == "<>" else op, (node, sub()))
        return node

    def _or(self) -> Node:
        return self._binary(self._and, lambda: self._word("or"))

    def _and(self) -> Node:
        return self._binary(self._not, lambda: self._word("and"))

    def _not(self) -> Node:
        if self._word("not"):
            self._next()
            return Node("unary", "not", (self._not(),))
        return self._compare()

    def _compare(self) -> Node:
        node = self._sum()
        if self._op("=", "!=", "<>", "<", "<=", ">", ">="):
            op = self._next().value
            node = Node("binary", "!=" if op == "<>" else op, (node, self._sum()))
            if self._op("=", "!=", "<>", "<", "<=", ">", ">="):
                raise self._fail("'and' or 'or' between comparisons")
        return node

    def _sum(self) -> Node:
        return self._binary(self._product, lambda: self._op("+", "-"))

    def _product(self) -> Node:
        return self._binary(self._unary, lambda: self._op("*", "/"))

    def _unary(self) -> Node:
        if self._op("-"):
            self._next()
            return Node("unary", "-", (self._unary(),))
        return self._atom()

    def _atom(self) -> Node:
        tok = self._peek()
        if tok.kind in ("number", "text", "column"):
            self._next()
            return Node(tok.kind, tok.value)
        if self._op("("):
            self._next()
            node = self._or()
            if not self._op(")"):
                raise self._fail("')'")
            self._next()
            return node
        if tok.kind == "name":
            self._next()
            word = tok.value.lower()
            if word in ("true", "false"):
                return Node("bool", word)
            if word == "null":
                return Node("null")
            if word in ("and", "or", "not"):
                raise ExpressionError(f"expression {self.text!r}: expected a value at position {tok.pos + 1}, found {word!r}")
            if self._op("("):
                return self._call(tok)
            return Node("column", tok.value)
        raise self._fail("a value (number, 'text', column or function)")

    def _call(self, name: _Tok) -> Node:
        self._next()  # (
        args = []
        if not self._op(")"):
            args.append(self._or())
            while self._op(","):
                self._next()
                args.append(self._or())
        if not self._op(")"):
            raise self._fail("',' or ')'")
        self._next()
        return Node("call", name.value.lower(), tuple(args))


def parse(text: str) -> Node:
    """Parse an expression into its tree; raises :class:`ExpressionError` outside the grammar."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"expression {text!r} is empty; write a column name or an expression")
    return _Parser(text).parse()


# --------------------------------------------------------------------------- compiling to SQL


@dataclass(frozen=True)
class Check:
    """A per-row rejection rule: rows where ``condition`` holds are rejected with ``reason``."""

    condition: str
    reason: str
    value: str
    """SQL of the offending text, reported next to the reason."""


@dataclass
class SqlContext:
    """What compiling needs and collects: the file's columns, default formats, per-row checks."""

    columns: list[str]
    date_formats: list[str]
    datetime_formats: list[str]
    checks: list[Check] = field(default_factory=list)
    used: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Compiled:
    """SQL of an expression and its type (text, number, date, timestamp, boolean or null)."""

    sql: str
    type: str
    name: str = ""
    """The file's column, when the value is one (names it in row rejections)."""


def _column(ctx: SqlContext, name: str, text: str) -> Compiled:
    if name not in ctx.columns:
        raise ExpressionError(f"expression {text!r}: no column {name!r} in the file (its columns: {', '.join(ctx.columns)})")
    ctx.used.add(name)
    return Compiled(f"nullif(trim({_ident(name)}), '')", "text", name)


def as_number(ctx: SqlContext, value: Compiled, label: str) -> Compiled:
    """``value`` as a number; a text that is not in the number grammar rejects its row."""
    if value.type in ("number", "null"):
        return value
    if value.type != "text":
        raise ExpressionError(f"{label}: expected a number, got a {value.type}")
    pattern = sql_text(PLAIN_NUMBER)
    ctx.checks.append(
        Check(
            f"({value.sql}) IS NOT NULL AND NOT regexp_full_match({value.sql}, {pattern})",
            f"{value.name or label}: not a number (expected up to {MAX_DIGITS} digits, an optional sign and up to "
            f"{MAX_DECIMALS} decimals)",
            value.sql,
        )
    )
    return Compiled(f"CASE WHEN regexp_full_match({value.sql}, {pattern}) THEN CAST({value.sql} AS {NUMBER_SQL}) END", "number")


def as_time(ctx: SqlContext, value: Compiled, formats: list[str], kind: str, label: str) -> Compiled:
    """``value`` as a date or timestamp, parsed with ``formats``; an unparsable text rejects its row."""
    if value.type == kind or value.type == "null":
        return value
    if value.type == "timestamp" and kind == "date":
        return Compiled(f"CAST({value.sql} AS DATE)", "date")
    if value.type == "date" and kind == "timestamp":
        return Compiled(f"CAST({value.sql} AS TIMESTAMP)", "timestamp")
    if value.type != "text":
        raise ExpressionError(f"{label}: expected a {kind} or a text to parse, got a {value.type}")
    for fmt in formats:
        if "%" not in fmt:
            raise ExpressionError(f"{label}: date format {fmt!r} has no % directive (e.g. '%m/%d/%Y %H:%M')")
    tries = ", ".join(f"try_strptime({value.sql}, {sql_text(f)})" for f in formats)
    parsed = f"coalesce({tries}, NULL)"
    ctx.checks.append(
        Check(f"({value.sql}) IS NOT NULL AND {parsed} IS NULL", f"{value.name or label}: does not match the format(s) {', '.join(formats)}", value.sql)
    )
    return Compiled(f"CAST({parsed} AS {'DATE' if kind == 'date' else 'TIMESTAMP'})", kind)


def _literal_text(node: Node, name: str, text: str) -> str:
    if node.kind != "text":
        raise ExpressionError(f"expression {text!r}: {name}() needs a quoted text here, e.g. '%m/%d/%Y'")
    return node.value


def _same(a: Compiled, b: Compiled, what: str, text: str) -> str:
    types = {a.type, b.type} - {"null"}
    if len(types) > 1:
        raise ExpressionError(f"expression {text!r}: {what} mixes a {a.type} and a {b.type}")
    return types.pop() if types else "null"


def _compile(node: Node, ctx: SqlContext, text: str) -> Compiled:
    k = node.kind
    if k == "number":
        return Compiled(f"CAST({sql_text(node.value)} AS {NUMBER_SQL})", "number")
    if k == "text":
        return Compiled(sql_text(node.value), "text")
    if k == "bool":
        return Compiled(node.value.upper(), "boolean")
    if k == "null":
        return Compiled("NULL", "null")
    if k == "column":
        return _column(ctx, node.value, text)
    if k == "call":
        return _call(node, ctx, text)
    args = [_compile(a, ctx, text) for a in node.args]
    op = node.value
    if k == "unary":
        if op == "not":
            return Compiled(f"(NOT {_bool(args[0], text)})", "boolean")
        return Compiled(f"(-{as_number(ctx, args[0], text).sql})", "number")
    a, b = args
    if op in ("and", "or"):
        return Compiled(f"({_bool(a, text)} {op.upper()} {_bool(b, text)})", "boolean")
    if op in "+-*/":
        x, y = as_number(ctx, a, text), as_number(ctx, b, text)
        if op == "/":
            ctx.checks.append(Check(f"({y.sql}) = 0", f"{text}: division by zero", x.sql))
            return Compiled(f"CAST({x.sql} / nullif({y.sql}, 0) AS {NUMBER_SQL})", "number")
        return Compiled(f"({x.sql} {op} {y.sql})", "number")
    if "number" in (a.type, b.type):  # a text compared with a number is read as a number
        a, b = as_number(ctx, a, text), as_number(ctx, b, text)
    _same(a, b, f"comparison {op!r}", text)
    return Compiled(f"({a.sql} {op} {b.sql})", "boolean")


def _bool(value: Compiled, text: str) -> str:
    if value.type not in ("boolean", "null"):
        raise ExpressionError(f"expression {text!r}: 'and', 'or', 'not' and if() conditions need a condition, got a {value.type}")
    return value.sql


def _text(value: Compiled, fn: str, text: str) -> str:
    if value.type not in ("text", "null"):
        raise ExpressionError(f"expression {text!r}: {fn}() needs a text, got a {value.type}")
    return value.sql


def _call(node: Node, ctx: SqlContext, text: str) -> Compiled:
    name, raw = node.value, node.args
    if name not in FUNCTIONS:
        raise ExpressionError(f"expression {text!r}: unknown function {name}(); known: {', '.join(sorted(FUNCTIONS))}")
    low, high, _ = FUNCTIONS[name]
    if not low <= len(raw) <= high:
        count = str(low) if low == high else f"{low} or more" if high > 99 else f"{low} to {high}"
        raise ExpressionError(f"expression {text!r}: {name}() takes {count} argument(s), got {len(raw)}")
    if name in ("date", "timestamp"):
        value = _compile(raw[0], ctx, text)
        formats = [_literal_text(raw[1], name, text)] if len(raw) > 1 else (
            ctx.date_formats + ctx.datetime_formats if name == "date" else ctx.datetime_formats + ctx.date_formats
        )
        return as_time(ctx, value, formats, name, text)
    args = [_compile(a, ctx, text) for a in raw]
    if name == "number":
        return as_number(ctx, args[0], text)
    if name in ("starts_with", "ends_with", "contains"):
        fn = {"starts_with": "starts_with", "ends_with": "suffix", "contains": "contains"}[name]
        return Compiled(f"{fn}({_text(args[0], name, text)}, {_text(args[1], name, text)})", "boolean")
    if name in ("upper", "lower", "trim"):
        return Compiled(f"nullif({name}({_text(args[0], name, text)}), '')", "text")
    if name == "is_empty":
        return Compiled(f"(({args[0].sql}) IS NULL)", "boolean")
    if name == "abs":
        return Compiled(f"abs({as_number(ctx, args[0], text).sql})", "number")
    if name == "concat":
        return Compiled("nullif(concat(" + ", ".join(_text(a, name, text) for a in args) + "), '')", "text")
    if name == "coalesce":
        kind = args[0].type
        for other in args[1:]:
            kind = _same(Compiled("", kind), other, "coalesce()", text)
        return Compiled("coalesce(" + ", ".join(a.sql for a in args) + ")", kind)
    # if(cond, value, [cond, value, ...], else)
    if len(args) % 2 == 0:
        raise ExpressionError(f"expression {text!r}: if() takes condition, value pairs and a final else value")
    kind = args[-1].type
    whens = []
    for cond, value in zip(args[:-1:2], args[1:-1:2], strict=True):
        kind = _same(Compiled("", kind), value, "if()", text)
        whens.append(f"WHEN {_bool(cond, text)} THEN {value.sql}")
    return Compiled(f"(CASE {' '.join(whens)} ELSE {args[-1].sql} END)", kind)


FUNCTIONS: dict[str, tuple[int, int, str]] = {
    "number": (1, 1, "number(x): a text read as a number (strict grammar; also implicit in arithmetic)"),
    "date": (1, 2, "date(x, '%m/%d/%Y'): a text parsed as a date with a strptime format (default: the mapping's)"),
    "timestamp": (1, 2, "timestamp(x, '%m/%d/%Y %H:%M'): a text parsed as a timestamp"),
    "starts_with": (2, 2, "starts_with(x, 'C'): whether a text starts with a prefix"),
    "ends_with": (2, 2, "ends_with(x, 'X'): whether a text ends with a suffix"),
    "contains": (2, 2, "contains(x, 'gift'): whether a text contains another"),
    "upper": (1, 1, "upper(x)"),
    "lower": (1, 1, "lower(x)"),
    "trim": (1, 1, "trim(x)"),
    "is_empty": (1, 1, "is_empty(x): whether a value is empty (null)"),
    "abs": (1, 1, "abs(x): absolute value of a number"),
    "concat": (1, 100, "concat(a, b, ...): texts joined"),
    "coalesce": (1, 100, "coalesce(a, b, ...): the first non-empty value"),
    "if": (3, 101, "if(cond, a, [cond2, b, ...,] else): the value of the first true condition"),
}
"""Function name -> (min args, max args, description)."""


def compile_expression(text: str, ctx: SqlContext) -> Compiled:
    """Parse and compile ``text`` to DuckDB SQL over the file's columns, collecting row checks in ``ctx``."""
    return _compile(parse(text), ctx, text)
