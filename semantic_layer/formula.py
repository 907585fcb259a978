"""A small, safe expression language for views, parsed by hand (never eval, never ast/compile).

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | primary
    primary := NUMBER | REF | FUNC "(" expr ("," expr)* ")" | "(" expr ")"
    REF     := source "." stock_type ["@" (location | "*")]      e.g. wms.on_hand, hub.free@WH-SH
    FUNC    := min | max | floor | ceil | sum                   sum takes one reference: sum(hub.free@*)

A reference without a location (or with ``@*``) is the sum over every location. ``hub.<bucket>``
reads the ledger; any other source reads the cube. Arithmetic is Decimal; every error is a
ParseError (with position and token) or an EvalError.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal, Union

from semantic_layer.stock_types import BUCKETS, is_bucket

MAX_LENGTH = 4096
MAX_DEPTH = 64
MAX_TOKENS = 512  # keeps the tree shallow enough to evaluate without deep recursion
LEDGER_SOURCE = "hub"
FUNCTIONS = {"min": (1, None), "max": (1, None), "floor": (1, 1), "ceil": (1, 1), "sum": (1, 1)}

Number = Union[int, Decimal]


class ParseError(ValueError):
    def __init__(self, message: str, position: int, token: str) -> None:
        super().__init__(f"{message} at position {position} (token {token!r})")
        self.position = position
        self.token = token


class EvalError(ValueError):
    pass


@dataclass(frozen=True)
class Ref:
    source: str
    stock_type: str
    location: str | None = None  # None = summed over every location

    @property
    def is_ledger(self) -> bool:
        return self.source == LEDGER_SOURCE

    def __str__(self) -> str:
        base = f"{self.source}.{self.stock_type}"
        return base if self.location is None else f"{base}@{self.location}"

    def reads(self, source: str, stock_type: str, location: str) -> bool:
        """True if a change to that cell or balance can change this reference's value."""
        return (self.source, self.stock_type) == (source, stock_type) and self.location in (None, location)


_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_LOC = r"\*|[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?"
_TOKEN = re.compile(
    rf"(?P<ws>\s+)|(?P<num>\d+(?:\.\d+)?)|(?P<ref>(?P<src>{_IDENT})\.(?P<typ>{_IDENT})(?:@(?P<loc>{_LOC}))?)|(?P<name>{_IDENT})|(?P<op>[-+*/(),])"
)


@dataclass(frozen=True)
class Token:
    kind: Literal["num", "ref", "name", "op", "end"]
    text: str
    pos: int
    ref: Ref | None = None


def tokenize(text: str) -> list[Token]:
    if not isinstance(text, str):
        raise ParseError("formula must be a string", 0, repr(type(text).__name__))
    if len(text) > MAX_LENGTH:
        raise ParseError(f"formula longer than {MAX_LENGTH} characters", MAX_LENGTH, text[MAX_LENGTH : MAX_LENGTH + 10])
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ParseError("unexpected character", pos, text[pos])
        kind = m.lastgroup
        assert kind is not None
        if kind == "ref":
            source, stock_type, loc = m.group("src"), m.group("typ"), m.group("loc")
            if source == LEDGER_SOURCE and not is_bucket(stock_type):
                raise ParseError(f"hub.{stock_type} is not a ledger bucket (buckets: {', '.join(BUCKETS)})", pos, m.group())
            ref = Ref(source, stock_type, None if loc in (None, "*") else loc)
            tokens.append(Token("ref", m.group(), pos, ref))
        elif kind != "ws":
            tokens.append(Token(kind, m.group(), pos))  # type: ignore[arg-type]
        pos = m.end()
        if len(tokens) > MAX_TOKENS:
            raise ParseError(f"formula has more than {MAX_TOKENS} tokens", tokens[-1].pos, tokens[-1].text)
    tokens.append(Token("end", "", len(text)))
    return tokens


# --- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: Decimal


@dataclass(frozen=True)
class RefNode:
    ref: Ref
    explicit_sum: bool = False


@dataclass(frozen=True)
class Unary:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Union[Num, RefNode, Unary, Binary, Call]


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def expect(self, text: str) -> Token:
        if self.tok.text != text or self.tok.kind != "op":
            raise ParseError(f"expected {text!r}", self.tok.pos, self.tok.text or "end of formula")
        return self.take()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"formula nested deeper than {MAX_DEPTH}", self.tok.pos, self.tok.text)

    def expr(self) -> Node:
        self.enter()
        node = self.term()
        while self.tok.kind == "op" and self.tok.text in "+-":
            op = self.take().text
            node = Binary(op, node, self.term())
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.tok.kind == "op" and self.tok.text in "*/":
            op = self.take().text
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.tok.kind == "op" and self.tok.text == "-":
            self.take()
            self.enter()
            node = Unary(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.take()
            return Num(Decimal(t.text))
        if t.kind == "ref":
            self.take()
            assert t.ref is not None
            return RefNode(t.ref)
        if t.kind == "name":
            return self.call()
        if t.kind == "op" and t.text == "(":
            self.take()
            node = self.expr()
            self.expect(")")
            return node
        what = "end of formula" if t.kind == "end" else t.text
        raise ParseError("expected a number, reference, function or '('", t.pos, what)

    def call(self) -> Node:
        t = self.take()
        if t.text not in FUNCTIONS:
            hint = "; references look like source.stock_type" if self.tok.text != "(" else ""
            raise ParseError(f"unknown name (functions: {', '.join(FUNCTIONS)}){hint}", t.pos, t.text)
        self.expect("(")
        if t.text == "sum":
            arg = self.tok
            if arg.kind != "ref":
                raise ParseError("sum() takes one reference such as hub.free@*", arg.pos, arg.text or "end of formula")
            self.take()
            self.expect(")")
            assert arg.ref is not None
            return RefNode(arg.ref, explicit_sum=True)
        args = [self.expr()]
        while self.tok.kind == "op" and self.tok.text == ",":
            self.take()
            args.append(self.expr())
        lo, hi = FUNCTIONS[t.text]
        if len(args) < lo or (hi is not None and len(args) > hi):
            raise ParseError(f"{t.text}() takes {lo if hi == lo else f'at least {lo}'} argument(s), got {len(args)}", t.pos, t.text)
        self.expect(")")
        return Call(t.text, tuple(args))


# --- formula ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalResult:
    value: Number
    inputs: dict[str, Number | None]  # every reference read, by its text, with the value it had
    missing: tuple[str, ...] = ()  # references that had no value (counted as 0 when missing="zero")


@dataclass(frozen=True)
class Formula:
    text: str
    root: Node = field(repr=False, compare=False)

    def dependencies(self) -> set[Ref]:
        out: set[Ref] = set()
        stack: list[Node] = [self.root]
        while stack:
            n = stack.pop()
            if isinstance(n, RefNode):
                out.add(n.ref)
            elif isinstance(n, Unary):
                stack.append(n.operand)
            elif isinstance(n, Binary):
                stack.extend((n.left, n.right))
            elif isinstance(n, Call):
                stack.extend(n.args)
        return out

    def canonical(self) -> str:
        return _show(self.root)

    def evaluate(
        self, resolver: Callable[[Ref], Number | None], *, missing: Literal["zero", "error"] = "zero"
    ) -> EvalResult:
        """Evaluate with ``resolver`` supplying each reference (None = no value yet)."""
        inputs: dict[str, Number | None] = {}
        for ref in sorted(self.dependencies(), key=str):
            v = resolver(ref)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, Decimal))):
                raise EvalError(f"resolver returned {v!r} for {ref}; expected int or Decimal")
            inputs[str(ref)] = v
        absent = tuple(k for k, v in inputs.items() if v is None)
        if absent and missing == "error":
            raise EvalError(f"no value for {', '.join(absent)}")
        values = {k: Decimal(0 if v is None else v) for k, v in inputs.items()}
        return EvalResult(_normal(_eval(self.root, values)), inputs, absent)


def parse(text: str) -> Formula:
    """Parse ``text``; anything outside the language raises ParseError naming position and token."""
    parser = _Parser(tokenize(text))
    if parser.tok.kind == "end":
        raise ParseError("empty formula", 0, "")
    root = parser.expr()
    if parser.tok.kind != "end":
        raise ParseError("unexpected token after a complete expression", parser.tok.pos, parser.tok.text)
    return Formula(text, root)


def _normal(v: Decimal) -> Number:
    return int(v) if v == v.to_integral_value() else v.normalize()


def _eval(n: Node, values: dict[str, Decimal]) -> Decimal:
    if isinstance(n, Num):
        return n.value
    if isinstance(n, RefNode):
        return values[str(n.ref)]
    if isinstance(n, Unary):
        return -_eval(n.operand, values)
    if isinstance(n, Binary):
        a, b = _eval(n.left, values), _eval(n.right, values)
        if n.op == "+":
            return a + b
        if n.op == "-":
            return a - b
        if n.op == "*":
            return a * b
        if b == 0:
            raise EvalError(f"division by zero in {_show(n)}")
        return a / b
    args = [_eval(a, values) for a in n.args]
    if n.name == "min":
        return min(args)
    if n.name == "max":
        return max(args)
    return args[0].to_integral_value(ROUND_FLOOR if n.name == "floor" else ROUND_CEILING)


def _show(n: Node) -> str:
    if isinstance(n, Num):
        return str(n.value)
    if isinstance(n, RefNode):
        return f"sum({n.ref}@*)" if n.explicit_sum and n.ref.location is None else str(n.ref)
    if isinstance(n, Unary):
        return f"-({_show(n.operand)})"
    if isinstance(n, Binary):
        return f"({_show(n.left)} {n.op} {_show(n.right)})"
    return f"{n.name}({', '.join(_show(a) for a in n.args)})"
