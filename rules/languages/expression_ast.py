"""The expression AST, built from lark's parse tree, with every compile-time check and the static
result type. Nodes are immutable; the interpreter (rules/languages/interpreter.py) walks them.
"""

import re
from dataclasses import dataclass
from typing import Any, Union

from lark import Token, Tree

from rules.languages import dates
from rules.languages.errors import NUL_MESSAGE, ExpressionSyntaxError
from rules.languages.functions import FUNCTIONS, NEW_DATE, FunctionSpec
from rules.languages.jsvalues import UNDEFINED, integer_text_to_number

__all__ = ["Binary", "Call", "Conditional", "Literal", "Logical", "Node", "Unary", "build"]


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Unary:
    operator: str  # "!" | "-" | "+"
    operand: "Node"


@dataclass(frozen=True, slots=True)
class Binary:
    operator: str  # arithmetic, equality and relational operators
    left: "Node"
    right: "Node"


@dataclass(frozen=True, slots=True)
class Logical:
    operator: str  # "||" | "&&": they return one of their operands, evaluated lazily
    left: "Node"
    right: "Node"


@dataclass(frozen=True, slots=True)
class Conditional:
    test: "Node"
    then: "Node"
    otherwise: "Node"


@dataclass(frozen=True, slots=True)
class Durations:
    """An object literal such as {days: 3}, only ever an argument of dateAdd/dateSubtract."""

    parts: tuple[tuple[str, "Node"], ...]


@dataclass(frozen=True, slots=True)
class Call:
    spec: FunctionSpec
    arguments: tuple[Union["Node", Durations], ...]
    line: int
    column: int


Node = Literal | Unary | Binary | Logical | Conditional | Call

_BINARY = {
    "add": "+", "sub": "-", "mul": "*", "div": "/",
    "eq": "==", "ne": "!=", "strict_eq": "===", "strict_ne": "!==",
    "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
}  # fmt: skip
_UNARY = {"not_": "!", "neg": "-", "pos": "+"}
_CONSTANTS = {"true": True, "false": False, "null": None, "undefined": UNDEFINED}
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "0": "\0"}
_ESCAPE = re.compile(
    r"\\(?:u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(\r\n|[\s\S]))"
)
# A data reference: dotted names such as plan.title or submission.form1.field1.
_REFERENCE = re.compile(r"[^.\s](?:[^.]*[^.\s])?(?:\.[^.\s](?:[^.]*[^.\s])?)+")


class _Builder:
    """Turns a parse tree into nodes; collects the data references the expression reads."""

    def __init__(self) -> None:
        self.references: set[str] = set()

    def node(self, tree: Tree) -> Node:
        kind = tree.data
        children = tree.children
        if kind in _BINARY:
            return Binary(_BINARY[kind], self.node(children[0]), self.node(children[1]))
        if kind in _UNARY:
            return Unary(_UNARY[kind], self.node(children[0]))
        if kind in ("or_", "and_"):
            operator = "||" if kind == "or_" else "&&"
            return Logical(operator, self.node(children[0]), self.node(children[1]))
        if kind == "conditional":
            return Conditional(*(self.node(child) for child in children))
        if kind in _CONSTANTS:
            return Literal(_CONSTANTS[kind])
        if kind == "number":
            return Literal(_number(str(children[0])))
        if kind == "string":
            return Literal(decode_string(children[0]))
        if kind == "call":
            return self.call(children[0], children[1], FUNCTIONS.get(str(children[0])))
        if kind == "new":
            spec = NEW_DATE if str(children[0]) == "Date" else None
            return self.call(children[0], children[1], spec, prefix="new ")
        if kind == "name":
            name = children[0]
            raise _error(
                f"unknown name `{name}`: there are no variables; read data with a function such"
                ' as lastVal("plan.title")',
                name,
            )
        message = "an object literal such as {days: 3} is only allowed in dateAdd and dateSubtract"
        raise ExpressionSyntaxError(message, *_position(tree))

    def call(
        self, name: Token, arguments: Tree | None, spec: FunctionSpec | None, prefix: str = ""
    ) -> Call:
        if spec is None:
            known = ", ".join([*FUNCTIONS, "new Date"])
            raise _error(f"unknown function `{prefix}{name}`; use one of {known}", name)
        trees = [] if arguments is None else list(arguments.children)
        count = len(trees)
        if not spec.min_arguments <= count <= spec.max_arguments:
            raise _error(f"`{spec.name}` takes {_arity(spec)}, not {count}", name)
        built: list[Node | Durations] = []
        for index, tree in enumerate(trees):
            if index == spec.duration_argument:
                built.append(self.durations(spec, tree, name))
            else:
                built.append(self.node(tree))
        if spec.reads_reference:
            built[0] = Literal(self.reference(spec, built[0], name))
        if spec.pattern_argument is not None:
            pattern = built[spec.pattern_argument]
            if isinstance(pattern, Literal) and isinstance(pattern.value, str):
                try:
                    dates.check_pattern(pattern.value)
                except ValueError as problem:
                    raise _error(str(problem), name) from None
        return Call(spec, tuple(built), name.line or 1, name.column or 1)

    def reference(self, spec: FunctionSpec, argument: Node, name: Token) -> str:
        if not (isinstance(argument, Literal) and isinstance(argument.value, str)):
            example = f'{spec.name}("plan.title")'
            raise _error(f"`{spec.name}` takes a data reference in quotes, such as {example}", name)
        if not _REFERENCE.fullmatch(argument.value):
            example = '"submission.form1.field1"'
            message = f'"{argument.value}" is not a data reference; write dotted names as {example}'
            raise _error(message, name)
        self.references.add(argument.value)
        return argument.value

    def durations(self, spec: FunctionSpec, tree: Tree, name: Token) -> Durations:
        if tree.data != "object":
            message = f"`{spec.name}` takes a duration such as {{days: 3}} as its second argument"
            raise _error(message, name)
        parts: dict[str, Node] = {}
        for prop in (child for child in tree.children if child is not None):
            key_token, value = prop.children
            key = decode_string(key_token) if key_token.type == "STRING" else str(key_token)
            if key not in dates.DURATION_UNITS:
                units = ", ".join(dates.DURATION_UNITS)
                raise _error(f"unknown duration `{key}`; use {units}", key_token)
            if key in parts:
                raise _error(f"`{key}` appears twice in the duration", key_token)
            parts[key] = self.node(value)
        return Durations(tuple(parts.items()))


def build(tree: Tree) -> tuple[Node, frozenset[str]]:
    builder = _Builder()
    root = builder.node(tree)
    return root, frozenset(builder.references)


def _arity(spec: FunctionSpec) -> str:
    if spec.min_arguments == spec.max_arguments:
        count = spec.min_arguments
        return f"{count} argument{'' if count == 1 else 's'}"
    if spec.max_arguments >= 64:
        return f"at least {spec.min_arguments} argument{'' if spec.min_arguments == 1 else 's'}"
    return f"{spec.min_arguments} to {spec.max_arguments} arguments"


def _error(message: str, token: Token | None) -> ExpressionSyntaxError:
    line = getattr(token, "line", None) or 1
    column = getattr(token, "column", None) or 1
    return ExpressionSyntaxError(message, line, column)


def _position(tree: Tree) -> tuple[int, int]:
    meta = tree.meta
    return (getattr(meta, "line", None) or 1, getattr(meta, "column", None) or 1)


def _number(text: str) -> float:
    if len(text) > 2 and text[0] == "0" and text[1] in "xXoObB":
        return integer_text_to_number(text)
    return float(text)  # Python's float() gives inf past the float range, as JavaScript does.


def decode_string(token: Token) -> str:
    """A double-quoted literal's text, with JavaScript's escapes; refuses lone surrogates."""

    def unescape(match: re.Match[str]) -> str:
        digits = match.group(1) or match.group(2) or match.group(3)
        if digits:
            if int(digits, 16) > 0x10FFFF:
                raise _error(f"bad escape `{match.group(0)}` in text", token)
            return chr(int(digits, 16))
        char = match.group(4)
        if char in ("u", "x"):
            raise _error(f"bad escape `\\{char}` in text: write \\u00e9 or \\xe9", token)
        if char in ("\n", "\r", "\r\n", "\u2028", "\u2029"):
            return ""  # A backslash before a line break continues the line.
        return _ESCAPES.get(char, char)

    text = _ESCAPE.sub(unescape, str(token)[1:-1])
    if "\x00" in text:  # \0, \x00, \u0000, \u{0}: a value that could never be stored
        raise _error(NUL_MESSAGE, token)
    # Join UTF-16 surrogate pairs written as two \\u escapes; a lone one is not text.
    try:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        raise _error("text holds a lone surrogate (\\uD800-\\uDFFF)", token) from None


def infer_type(node: Node) -> str:
    """The static type of an expression's value: number, text, boolean, date or any."""
    if isinstance(node, Literal):
        value = node.value
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, float):
            return "number"
        return "text" if isinstance(value, str) else "any"
    if isinstance(node, Unary):
        return "boolean" if node.operator == "!" else "number"
    if isinstance(node, Binary):
        if node.operator != "+":
            return "number" if node.operator in ("-", "*", "/") else "boolean"
        left, right = infer_type(node.left), infer_type(node.right)
        # `+` concatenates when either side is text, and a Date turns into text first.
        if "text" in (left, right) or "date" in (left, right):
            return "text"
        if "any" in (left, right):
            return "any"
        return "number"
    if isinstance(node, Logical):
        return _same(infer_type(node.left), infer_type(node.right))
    if isinstance(node, Conditional):
        return _same(infer_type(node.then), infer_type(node.otherwise))
    return node.spec.result_type


def _same(first: str, second: str) -> str:
    return first if first == second else "any"
