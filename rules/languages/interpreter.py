"""Evaluates an expression's AST with JavaScript semantics (rules/languages/jsvalues.py).

No eval, no attribute access: the only things an expression can reach are its literals, the
functions of rules/languages/functions.py and, through them, the context's data source and clock.
The
recursion is bounded because the compiler refuses trees deeper than MAX_DEPTH.
"""

import math
from typing import Any

from rules.languages.context import EvaluationContext
from rules.languages.errors import ExpressionRuntimeError
from rules.languages.expression_ast import (
    Binary,
    Call,
    Conditional,
    Durations,
    Literal,
    Logical,
    Node,
    Unary,
)
from rules.languages.jsvalues import (
    compare,
    loose_equals,
    strict_equals,
    to_number,
    to_primitive,
    to_string,
    truthy,
)

__all__ = ["evaluate"]


def add(left: Any, right: Any) -> Any:
    """JavaScript `+`: text if either side is text (a Date counts as text), else numbers."""
    left, right = to_primitive(left), to_primitive(right)
    if isinstance(left, str) or isinstance(right, str):
        return to_string(left) + to_string(right)
    return to_number(left) + to_number(right)


def divide(left: Any, right: Any) -> float:
    """JavaScript `/`: dividing by zero gives ±Infinity (NaN for 0/0), never an exception."""
    dividend, divisor = to_number(left), to_number(right)
    if divisor == 0:
        if dividend == 0 or math.isnan(dividend):
            return math.nan
        return math.copysign(math.inf, dividend) * math.copysign(1, divisor)
    return dividend / divisor


_BINARY = {
    "+": add,
    "-": lambda left, right: to_number(left) - to_number(right),
    "*": lambda left, right: to_number(left) * to_number(right),
    "/": divide,
    "==": loose_equals,
    "!=": lambda left, right: not loose_equals(left, right),
    "===": strict_equals,
    "!==": lambda left, right: not strict_equals(left, right),
    "<": lambda left, right: compare("<", left, right),
    "<=": lambda left, right: compare("<=", left, right),
    ">": lambda left, right: compare(">", left, right),
    ">=": lambda left, right: compare(">=", left, right),
}


def evaluate(node: Node, context: EvaluationContext) -> Any:
    """The node's value as an interpreter value; raises only ExpressionRuntimeError."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Binary):
        return _BINARY[node.operator](evaluate(node.left, context), evaluate(node.right, context))
    if isinstance(node, Logical):
        left = evaluate(node.left, context)
        # `||` and `&&` return an operand and only evaluate the right one when needed.
        if truthy(left) == (node.operator == "||"):
            return left
        return evaluate(node.right, context)
    if isinstance(node, Conditional):
        branch = node.then if truthy(evaluate(node.test, context)) else node.otherwise
        return evaluate(branch, context)
    if isinstance(node, Unary):
        operand = evaluate(node.operand, context)
        if node.operator == "!":
            return not truthy(operand)
        number = to_number(operand)
        return -number if node.operator == "-" else number
    return _call(node, context)


def _call(node: Call, context: EvaluationContext) -> Any:
    arguments = tuple(
        {unit: evaluate(part, context) for unit, part in argument.parts}
        if isinstance(argument, Durations)
        else evaluate(argument, context)
        for argument in node.arguments
    )
    try:
        return node.spec.implementation(context, arguments)
    except ExpressionRuntimeError as error:
        if error.line:
            raise
        # Point at the call that failed.
        raise ExpressionRuntimeError(error.message, node.line, node.column) from error.__cause__
