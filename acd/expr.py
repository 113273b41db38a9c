"""A small, safe expression language for queue targets and workflow filters.

    skills.billing >= 3 and ('zh' in languages or tier <= 2)
    not (channel == 'chat') and customer.segment in ['gold', 'platinum']

Why our own: target expressions come from fscc.yaml and, at run time, from the console, so
they must never reach `eval`. The language has names (dotted paths into the attribute
mapping), numbers, strings, true/false/null, lists, comparisons (== != < <= > >=), `in`,
`not in`, `and`, `or`, `not` and parentheses; nothing else: no calls, no attribute access
on Python objects, no loops. Errors carry the 1-based column. Pure, standard library only.

Evaluation is total: a missing name is null, and an ordering comparison between values of
different kinds (or with null) is false rather than an error, because a worker without a
`billing` skill simply does not match `skills.billing >= 3`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acd.errors import ExprError

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)*)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">=", "in", "not in"}
MAX_LENGTH = 2000
MAX_DEPTH = 50


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, op, keyword, end
    text: str
    column: int  # 1-based


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Name:
    path: tuple[str, ...]


@dataclass(frozen=True)
class ListOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node
    column: int


Node = Literal | Name | ListOf | Not | BoolOp | Compare


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters", source[:60] + "...", 1)
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match:
            raise ExprError(f"unexpected character {source[pos]!r}", source, pos + 1)
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "ws":
            if kind == "name" and text in _KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, text, pos + 1))
        pos = match.end()
    tokens.append(Token("end", "", len(source) + 1))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, message: str, token: Token | None = None) -> ExprError:
        token = token or self.peek()
        return ExprError(message, self.source, token.column)

    def expect(self, text: str) -> Token:
        token = self.peek()
        if token.text != text or token.kind not in ("op", "keyword"):
            found = "the end" if token.kind == "end" else repr(token.text)
            raise self.fail(f"expected {text!r}, found {found}")
        return self.take()

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.fail("empty expression")
        node = self.parse_or()
        if self.peek().kind != "end":
            raise self.fail(f"unexpected {self.peek().text!r} after a complete expression")
        return node

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"expression nested deeper than {MAX_DEPTH}")

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.peek().kind == "keyword" and self.peek().text == "or":
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_not()]
        while self.peek().kind == "keyword" and self.peek().text == "and":
            self.take()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def parse_not(self) -> Node:
        if self.peek().kind == "keyword" and self.peek().text == "not":
            self.take()
            self.nest()
            node = Not(self.parse_not())
            self.depth -= 1
            return node
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        left = self.parse_primary()
        token = self.peek()
        op = None
        if token.kind == "op" and token.text in _COMPARISONS:
            op = token.text
            self.take()
        elif token.kind == "keyword" and token.text == "in":
            op = "in"
            self.take()
        elif token.kind == "keyword" and token.text == "not" and self.tokens[self.pos + 1].text == "in":
            op = "not in"
            self.take()
            self.take()
        if op is None:
            return left
        right = self.parse_primary()
        nxt = self.peek()
        if (nxt.kind == "op" and nxt.text in _COMPARISONS) or (nxt.kind == "keyword" and nxt.text == "in"):
            raise self.fail("chained comparisons are not allowed: use 'and'", nxt)
        return Compare(op, left, right, token.column)

    def parse_primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Literal(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "string":
            return Literal(_unquote(token.text))
        if token.kind == "name":
            return Name(tuple(token.text.split(".")))
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            return Literal({"true": True, "false": False, "null": None}[token.text])
        if token.kind == "op" and token.text == "(":
            self.nest()
            node = self.parse_or()
            self.depth -= 1
            self.expect(")")
            return node
        if token.kind == "op" and token.text == "[":
            items: list[Node] = []
            if self.peek().text != "]":
                while True:
                    item = self.parse_primary()
                    if isinstance(item, (Literal,)):
                        items.append(item)
                    else:
                        raise self.fail("list items must be literals (numbers, strings, true/false)", token)
                    if self.peek().text == ",":
                        self.take()
                        continue
                    break
            self.expect("]")
            return ListOf(tuple(items))
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        raise ExprError(f"expected a value, found {found}", self.source, token.column)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


@dataclass(frozen=True)
class Expression:
    """A parsed expression: `matches(attrs)` is the only way to run it."""

    source: str
    tree: Node

    def matches(self, attributes: Mapping[str, Any]) -> bool:
        return _truthy(_eval(self.tree, attributes))

    def names(self) -> frozenset[tuple[str, ...]]:
        """The attribute paths it reads: a change elsewhere cannot change its result."""
        found: set[tuple[str, ...]] = set()
        _collect(self.tree, found)
        return frozenset(found)


def compile_expr(source: str) -> Expression:
    """Parse `source`; raise ExprError with the column of the first problem."""
    if not isinstance(source, str):
        raise ExprError(f"an expression must be text, got {type(source).__name__}", repr(source), 1)
    return Expression(source, _Parser(source).parse())


def _collect(node: Node, found: set[tuple[str, ...]]) -> None:
    if isinstance(node, Name):
        found.add(node.path)
    elif isinstance(node, Not):
        _collect(node.operand, found)
    elif isinstance(node, BoolOp):
        for operand in node.operands:
            _collect(operand, found)
    elif isinstance(node, Compare):
        _collect(node.left, found)
        _collect(node.right, found)


def _lookup(path: tuple[str, ...], attributes: Mapping[str, Any]) -> Any:
    value: Any = attributes
    for part in path:
        if isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
        if value is None:
            return None
    return value


def _truthy(value: Any) -> bool:
    return bool(value) if value is not None else False


def _eval(node: Node, attributes: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return _lookup(node.path, attributes)
    if isinstance(node, ListOf):
        return [item.value for item in node.items]  # type: ignore[union-attr]
    if isinstance(node, Not):
        return not _truthy(_eval(node.operand, attributes))
    if isinstance(node, BoolOp):
        if node.op == "and":
            return all(_truthy(_eval(o, attributes)) for o in node.operands)
        return any(_truthy(_eval(o, attributes)) for o in node.operands)
    assert isinstance(node, Compare)
    return _compare(node.op, _eval(node.left, attributes), _eval(node.right, attributes))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    """Python equality, except that a boolean never equals a number (`true == 1` is false)."""
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, Mapping):
        try:
            return item in container
        except TypeError:  # an unhashable left side (a list) is never a key
            return False
    if isinstance(container, (list, tuple, set, frozenset)):
        return any(_equal(item, member) for member in container)
    if isinstance(container, str) and isinstance(item, str):
        return item in container
    return False


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("in", "not in"):
        found = _contains(right, left)
        return found if op == "in" else not found
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if not ((_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str))):
        return False  # null or mixed kinds never order
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right
