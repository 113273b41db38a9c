"""The small, safe expression language of `branch` conditions and computed `set` values.

Why not Python's eval (even with empty builtins): attribute walking (`().__class__...`) escapes
any such sandbox, and a flow template is data a dialplan author edits, sometimes with values a
tenant typed into a portal. This language has no calls, no attribute access on Python objects
(dotted names only walk mappings), no assignment and no loops, so evaluating it can only read
the variables it is handed.

Grammar (lowest precedence first):

    expr     := or
    or       := and ('or' and)*
    and      := not ('and' not)*
    not      := 'not' not | compare
    compare  := sum (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not' 'in') sum)?
    sum      := product (('+'|'-') product)*
    product  := unary (('*'|'/'|'%') unary)*
    unary    := '-' unary | atom
    atom     := NUMBER | STRING | 'true' | 'false' | 'null' | NAME ('.' NAME)* | '[' list ']' | '(' expr ')'

`skills.billing >= 3`, `'zh' in languages`, `customer.tier == tiers.global_vip`,
`now.hour >= 21 or now.weekday in [5, 6]`. A dotted name missing from the variables is null;
comparing null with `<`/`>` is false rather than an error, because a caller with no CRM record
must fall through to the `else` branch, not crash the call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ivr_flows.errors import ExpressionError

__all__ = ["Expression", "parse", "evaluate"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|%|\(|\)|\[|\]|,|\.)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_MAX_LENGTH = 2000
_MAX_DEPTH = 50


@dataclass(frozen=True)
class _Tok:
    kind: str  # number, string, name, op, kw, end
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"expression longer than {_MAX_LENGTH} characters", text[:40] + "...", 0)
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].lstrip()
            col = len(text) - len(bad)
            raise ExpressionError(f"unexpected character {bad[0]!r}", text, col)
        kind = m.lastgroup or "op"
        value = m.group(kind)
        start = m.start(kind)
        if kind == "name" and value in _KEYWORDS:
            kind = "kw"
        tokens.append(_Tok(kind, value, start))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


# AST nodes are tuples: ("lit", value) ("name", (parts...)) ("list", [nodes]) ("not", node)
# ("neg", node) ("and"|"or", a, b) ("cmp", op, a, b) ("arith", op, a, b)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text or tok.kind not in ("op", "kw"):
            self.fail(f"expected {text!r}, got {tok.text or 'the end'!r}", tok)

    def fail(self, message: str, tok: _Tok) -> None:
        raise ExpressionError(message, self.text, tok.pos)

    def parse(self) -> tuple:
        if self.peek().kind == "end":
            self.fail("empty expression", self.peek())
        node = self.or_()
        if self.peek().kind != "end":
            self.fail(f"unexpected {self.peek().text!r}", self.peek())
        return node

    def or_(self) -> tuple:
        node = self.and_()
        while self.peek().kind == "kw" and self.peek().text == "or":
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> tuple:
        node = self.not_()
        while self.peek().kind == "kw" and self.peek().text == "and":
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> tuple:
        if self.peek().kind == "kw" and self.peek().text == "not":
            self.take()
            self._enter()
            node = ("not", self.not_())
            self.depth -= 1
            return node
        return self.compare()

    def compare(self) -> tuple:
        left = self.sum_()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", tok.text, left, self.sum_())
        if tok.kind == "kw" and tok.text == "in":
            self.take()
            return ("cmp", "in", left, self.sum_())
        if tok.kind == "kw" and tok.text == "not" and self.tokens[self.i + 1].text == "in":
            self.take()
            self.take()
            return ("cmp", "not in", left, self.sum_())
        return left

    def sum_(self) -> tuple:
        node = self.product()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            op = self.take().text
            node = ("arith", op, node, self.product())
        return node

    def product(self) -> tuple:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/", "%"):
            op = self.take().text
            node = ("arith", op, node, self.unary())
        return node

    def unary(self) -> tuple:
        if self.peek().kind == "op" and self.peek().text == "-":
            self.take()
            self._enter()
            node = ("neg", self.unary())
            self.depth -= 1
            return node
        return self.atom()

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            self.fail(f"expression nested deeper than {_MAX_DEPTH}", self.peek())

    def atom(self) -> tuple:
        tok = self.take()
        if tok.kind == "number":
            return ("lit", float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "string":
            return ("lit", _unquote(tok.text))
        if tok.kind == "kw" and tok.text in ("true", "false", "null"):
            return ("lit", {"true": True, "false": False, "null": None}[tok.text])
        if tok.kind == "name":
            parts = [tok.text]
            while self.peek().kind == "op" and self.peek().text == ".":
                self.take()
                nxt = self.take()
                if nxt.kind not in ("name", "number", "kw"):
                    self.fail("expected a name after '.'", nxt)
                parts.append(nxt.text)
            return ("name", tuple(parts))
        if tok.kind == "op" and tok.text == "(":
            self._enter()
            node = self.or_()
            self.depth -= 1
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "[":
            items: list[tuple] = []
            if not (self.peek().kind == "op" and self.peek().text == "]"):
                self._enter()
                items.append(self.or_())
                while self.peek().kind == "op" and self.peek().text == ",":
                    self.take()
                    items.append(self.or_())
                self.depth -= 1
            self.expect("]")
            return ("list", items)
        self.fail(f"unexpected {tok.text or 'end of expression'!r}", tok)
        raise AssertionError("unreachable")


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


@dataclass(frozen=True)
class Expression:
    """A parsed expression: parse once when the flow loads, evaluate on every call."""

    source: str
    tree: tuple

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        return _eval(self.tree, variables, self.source)

    def names(self) -> set[tuple[str, ...]]:
        """Every dotted name the expression reads (for lint: unknown roots, secrets)."""
        found: set[tuple[str, ...]] = set()
        _collect(self.tree, found)
        return found


def parse(text: str) -> Expression:
    """Parse `text`; ExpressionError names the column of the first problem."""
    if not isinstance(text, str):
        text = str(text)
    return Expression(text, _Parser(text).parse())


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    return parse(text).evaluate(variables)


def _collect(node: tuple, found: set[tuple[str, ...]]) -> None:
    kind = node[0]
    if kind == "name":
        found.add(node[1])
    elif kind == "list":
        for item in node[1]:
            _collect(item, found)
    elif kind in ("not", "neg"):
        _collect(node[1], found)
    elif kind in ("and", "or"):
        _collect(node[1], found)
        _collect(node[2], found)
    elif kind in ("cmp", "arith"):
        _collect(node[2], found)
        _collect(node[3], found)


def _lookup(parts: tuple[str, ...], variables: Mapping[str, Any]) -> Any:
    value: Any = variables
    for part in parts:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


def _numeric(value: Any) -> Any:
    """Channel variables are text: '3' compares as 3 against a number."""
    if isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    return value


def _eval(node: tuple, variables: Mapping[str, Any], source: str) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "name":
        return _lookup(node[1], variables)
    if kind == "list":
        return [_eval(item, variables, source) for item in node[1]]
    if kind == "not":
        return not _eval(node[1], variables, source)
    if kind == "and":
        return bool(_eval(node[1], variables, source)) and bool(_eval(node[2], variables, source))
    if kind == "or":
        return bool(_eval(node[1], variables, source)) or bool(_eval(node[2], variables, source))
    if kind == "neg":
        value = _numeric(_eval(node[1], variables, source))
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ExpressionError(f"cannot negate {value!r}", source)
        return -value
    if kind == "cmp":
        return _compare(node[1], _eval(node[2], variables, source), _eval(node[3], variables, source), source)
    if kind == "arith":
        return _arith(node[1], _eval(node[2], variables, source), _eval(node[3], variables, source), source)
    raise ExpressionError(f"unknown node {kind}", source)


def _compare(op: str, left: Any, right: Any, source: str) -> bool:
    if op in ("in", "not in"):
        if right is None:
            result = False
        elif isinstance(right, str):
            result = left is not None and str(left) in right
        elif isinstance(right, Mapping):
            result = left in right
        elif isinstance(right, (list, tuple, set)):
            result = left in right or _numeric(left) in [_numeric(r) for r in right]
        else:
            raise ExpressionError(f"'in' needs a list, text or mapping on its right, got {right!r}", source)
        return result if op == "in" else not result
    a, b = _numeric(left), _numeric(right)
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if a is None or b is None:
        return False
    try:
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b
    except TypeError:
        raise ExpressionError(f"cannot compare {left!r} {op} {right!r}", source) from None


def _arith(op: str, left: Any, right: Any, source: str) -> Any:
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    a, b = _numeric(left), _numeric(right)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
        raise ExpressionError(f"cannot compute {left!r} {op} {right!r}", source)
    if op in ("/", "%") and b == 0:
        raise ExpressionError("division by zero", source)
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if op == "/" else 0, "%": a % b if op == "%" else 0}[op]
