"""The expression language of rules: compile once when the rule is saved, evaluate per plan.

    expression = compile_expression('dateAdd(lastVal("plan.startDate"), {days: 3})')
    expression.references()   # {"plan.startDate"}
    expression.infer_type()   # "date"
    expression.evaluate(EvaluationContext(data=source))

compile_expression raises ExpressionSyntaxError (with line and column) for anything it cannot
compile, including unknown functions and wrong argument counts; evaluate raises only
ExpressionRuntimeError. See docs/rules-languages.md for the language and its semantics.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Lark, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from rules.languages.context import DataSource, EvaluationContext, StaticDataSource
from rules.languages.errors import NUL_MESSAGE, ExpressionRuntimeError, ExpressionSyntaxError
from rules.languages.expression_ast import Node, build, infer_type
from rules.languages.interpreter import evaluate
from rules.languages.jsvalues import to_python

__all__ = [
    "EXPRESSION_TYPES",
    "MAX_DEPTH",
    "MAX_SOURCE_LENGTH",
    "DataSource",
    "EvaluationContext",
    "Expression",
    "ExpressionRuntimeError",
    "ExpressionSyntaxError",
    "StaticDataSource",
    "compile_expression",
]

# A calculation with comments fits in a few hundred characters; 4,000 leaves room to spare and
# keeps parsing and every evaluation cheap enough to run thousands of times a second.
MAX_SOURCE_LENGTH = 4000
# Far deeper than a hand-written calculation nests, and far below Python's recursion limit
# (the interpreter uses about three frames per level). A chain a + b + c ... counts one level
# per operator, so this also caps a chain at 64 operands.
MAX_DEPTH = 64
EXPRESSION_TYPES = ("number", "text", "boolean", "date", "any")

_PARSER = Lark(
    (Path(__file__).parent / "grammars" / "expression.lark").read_text(),
    parser="lalr",
    lexer="contextual",
    propagate_positions=True,
)
_TERMINAL_NAMES = {
    "NUMBER": "a number",
    "STRING": "text in double quotes",
    "NAME": "a name",
    "$END": "the end of the expression",
}


@dataclass(frozen=True)
class Expression:
    """A compiled expression: immutable, reusable, safe to evaluate many times."""

    source: str
    _root: Node = field(repr=False)
    _references: frozenset[str] = field(repr=False)
    _type: str = field(repr=False)

    def evaluate(self, context: EvaluationContext) -> Any:
        """The value: None (null, undefined, NaN, ±Infinity), bool, int (integral numbers up to
        2**53), float, str, an aware datetime, or a list. Raises only ExpressionRuntimeError."""
        return to_python(evaluate(self._root, context))

    def references(self) -> set[str]:
        """The data references the expression reads, e.g. {"submission.form1.field1"}."""
        return set(self._references)

    def infer_type(self) -> str:
        """The type of every value this expression can produce, or "any" when it depends on
        data (lastVal) or on a branch: number, text, boolean, date or any."""
        return self._type


def compile_expression(source: str) -> Expression:
    """Parses and checks `source`; raises ExpressionSyntaxError for anything wrong."""
    if not isinstance(source, str):
        raise ExpressionSyntaxError("an expression must be text", 1, 1)
    if len(source) > MAX_SOURCE_LENGTH:
        message = f"an expression is at most {MAX_SOURCE_LENGTH} characters, this one has "
        raise ExpressionSyntaxError(message + str(len(source)), 1, 1)
    if not source.strip():
        raise ExpressionSyntaxError("the expression is empty", 1, 1)
    if "\x00" in source:  # even in a comment: the expression's own text could not be saved
        raise ExpressionSyntaxError(NUL_MESSAGE, *_line_and_column(source, source.index("\x00")))
    try:
        tree = _PARSER.parse(source)
    except UnexpectedInput as error:
        raise _syntax_error(error, source) from None
    except LarkError as error:  # pragma: no cover - lark raises UnexpectedInput for bad input
        raise ExpressionSyntaxError(f"cannot read the expression: {error}", 1, 1) from None
    _check_depth(tree)
    root, references = build(tree)
    return Expression(source, root, references, infer_type(root))


def _check_depth(tree: Tree) -> None:
    """Refuses trees deeper than MAX_DEPTH, without recursion (the tree may be very deep)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            line, column = getattr(node.meta, "line", 1), getattr(node.meta, "column", 1)
            raise ExpressionSyntaxError(
                f"the expression nests more than {MAX_DEPTH} levels deep (or chains more than "
                f"{MAX_DEPTH} operators); split the calculation",
                line,
                column,
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def _syntax_error(error: UnexpectedInput, source: str) -> ExpressionSyntaxError:
    if isinstance(error, UnexpectedCharacters):
        char = source[error.pos_in_stream]
        if char == '"':
            message = 'text is not closed: add a `"` before the end of the line'
        elif char == "'":
            message = "text is written in double quotes, not single quotes"
        elif source.startswith("/*", error.pos_in_stream):
            message = "the comment is not closed: add `*/`"
        else:
            message = f"unexpected character `{char}`"
        return ExpressionSyntaxError(message, error.line, error.column)
    expected = _describe_expected(getattr(error, "expected", set()))
    token = getattr(error, "token", None)
    if token is not None and token.type in ("SLASH", "STAR"):
        # Outside text, "/*" is always a comment; here it is one that never closes.
        slash = (token.start_pos or 0) - (1 if token.type == "STAR" else 0)
        if source.startswith("/*", slash):
            message = "the comment is not closed: add `*/`"
            return ExpressionSyntaxError(message, *_line_and_column(source, slash))
    if isinstance(error, UnexpectedToken) and token is not None and token.type != "$END":
        message = f"unexpected `{token}`; expected {expected}"
        return ExpressionSyntaxError(message, token.line or 1, token.column or 1)
    message = f"the expression ends too early; expected {expected}"
    return ExpressionSyntaxError(message, *_line_and_column(source, len(source)))


def _line_and_column(source: str, offset: int) -> tuple[int, int]:
    before = source[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _describe_expected(names: set[str]) -> str:
    if "NUMBER" in names:
        return "a value"  # Every place that takes a number takes any expression.
    shown = []
    for name in sorted(names):
        if name in _TERMINAL_NAMES:
            shown.append(_TERMINAL_NAMES[name])
            continue
        pattern = _PARSER.get_terminal(name).pattern
        shown.append(f"`{pattern.value}`" if pattern.type == "str" else name.lower())
    return " or ".join(shown) if shown else "something else"
