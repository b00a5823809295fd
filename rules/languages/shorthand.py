"""Parse a decision-table cell in the shorthand syntax into a condition
(rules.languages.conditions).

    condition = parse_cell("range(22,33]", "number")
    condition.holds(30)     # True
    condition.describe()    # "is above 22 and at most 33"

Which operators each column type allows is one table, OPERATORS_BY_TYPE. The grammar
(grammars/shorthand.lark) is the same for every type; the type is checked afterwards, so a
refusal names it. Every problem with a cell raises CellSyntaxError, never another exception.
Dates and datetimes compare like numbers, on their ISO 8601 values (naive datetimes are UTC).
"""

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, DecimalException
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from rules.languages.conditions import (
    BOOLEAN_WORDS,
    DATE_PATTERN,
    DATETIME_PATTERN,
    NUMBER_PATTERN,
    AnyValue,
    Comparison,
    Condition,
    Contains,
    Membership,
    NoValue,
    Range,
    Selected,
)
from rules.languages.errors import NUL_MESSAGE, CellSyntaxError

__all__ = [
    "FIELD_TYPES",
    "MAX_CELL_LENGTH",
    "OPERATORS_BY_TYPE",
    "CellSyntaxError",
    "Condition",
    "parse_cell",
]

# A cell is one short comparison; the cap keeps a pasted document out of the table.
MAX_CELL_LENGTH = 1000

_ORDERED = ("<=", "<", ">=", ">", "=", "!=", "in", "notIn", "range", "!range", "null")
# DOMAIN.md's table, as data: the operators each column type allows, in the order the refusal
# message lists them. `in=`/`notIn=` (array contains) are distinct from `in[...]`/`notIn[...]`.
OPERATORS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "boolean": ("=", "null"),
    "text": ("=", "!=", "in", "notIn", "null"),
    "choice": ("=", "null"),
    "choices": ("=", "null"),
    "number": _ORDERED,
    "date": _ORDERED,
    "datetime": _ORDERED,
    "array": ("in=", "notIn=", "null"),
}
FIELD_TYPES = tuple(OPERATORS_BY_TYPE)

_PARSER = Lark(
    (Path(__file__).parent / "grammars" / "shorthand.lark").read_text(),
    parser="lalr",
    lexer="contextual",
)
# How the parser's expectations read in a message.
_EXPECTED_NAMES = {
    "VALUE": "a value",
    "ITEM": "a list item",
    "BOUND": "a bound",
    "OPEN": "`[` or `(`",
    "CLOSE": "`]` or `)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "$END": "the end of the cell",
}


class _Refusal(Exception):
    """Raised inside the parser with a 0-based offset in the stripped cell."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def parse_cell(cell: str, field_type: str, choices: Sequence[str] | None = None) -> Condition:
    """The condition a cell states for a column of `field_type`.

    An empty (or blank) cell is "don't care" and gives AnyValue, which always holds, so callers
    can evaluate every cell the same way. `choices` are the allowed values of a choice/choices
    column; other values are refused. Raises CellSyntaxError for anything that does not parse.
    """
    if field_type not in OPERATORS_BY_TYPE:
        known = ", ".join(FIELD_TYPES)
        raise CellSyntaxError(f"unknown column type `{field_type}`; use {known}", 1, field_type)
    if not isinstance(cell, str):
        raise CellSyntaxError("a cell must be text", 1, field_type)
    if len(cell) > MAX_CELL_LENGTH:
        message = f"a cell is at most {MAX_CELL_LENGTH} characters, this one has {len(cell)}"
        raise CellSyntaxError(message, MAX_CELL_LENGTH + 1, field_type)
    if "\x00" in cell:  # no stored cell (jsonb) can hold it, so none could ever match it
        raise CellSyntaxError(NUL_MESSAGE, cell.index("\x00") + 1, field_type)
    text = cell.strip()
    if not text:
        return AnyValue()
    # Positions count from the start of the cell as the user typed it.
    lead = len(cell) - len(cell.lstrip())
    try:
        tree = _PARSER.parse(text)
        return _build(tree, field_type, tuple(choices or ()))
    except _Refusal as refusal:
        raise CellSyntaxError(refusal.message, lead + refusal.offset + 1, field_type) from None
    except UnexpectedInput as error:
        message, offset = _describe_syntax_error(error, text)
        raise CellSyntaxError(message, lead + offset + 1, field_type) from None
    except (LarkError, DecimalException, ValueError, OverflowError) as error:
        # Anything else construction may raise still becomes a cell error, never a crash.
        raise CellSyntaxError(f"cannot read this cell: {error}", lead + 1, field_type) from None


def _describe_syntax_error(error: UnexpectedInput, text: str) -> tuple[str, int]:
    if isinstance(error, UnexpectedCharacters):
        return f"unexpected `{text[error.pos_in_stream]}`", error.pos_in_stream
    expected = sorted(_EXPECTED_NAMES.get(name, name) for name in getattr(error, "expected", ()))
    wanted = f"; expected {' or '.join(expected)}" if expected else ""
    token = getattr(error, "token", None)
    if isinstance(error, UnexpectedToken) and token is not None and token.type != "$END":
        shown = str(token)[:20]
        return f"unexpected `{shown}`{wanted}", token.start_pos or 0
    return f"the cell ends too early{wanted}", len(text)


def _operator_allowed(field_type: str, operator: str, offset: int, bare: bool = False) -> None:
    allowed = OPERATORS_BY_TYPE[field_type]
    if operator in allowed:
        return
    article = "an" if field_type[0] in "aeiou" else "a"
    what = "a value without an operator" if bare else f"`{operator}`"
    raise _Refusal(
        f"{what} is not allowed for {article} {field_type} column; use one of {', '.join(allowed)}",
        offset,
    )


def _operand(token: Token) -> tuple[str, int]:
    """The token's text without surrounding whitespace, and where that text starts."""
    raw = str(token)
    stripped = raw.strip()
    return stripped, (token.start_pos or 0) + len(raw) - len(raw.lstrip())


def _build(tree: Tree, field_type: str, choices: tuple[str, ...]) -> Condition:
    kind, children = tree.data, tree.children
    if kind == "null":
        return NoValue()
    if kind in ("comparison", "bare"):
        operator_token = children[0] if kind == "comparison" else None
        operator = str(operator_token) if operator_token is not None else "="
        offset = operator_token.start_pos if operator_token is not None else 0
        _operator_allowed(field_type, operator, offset or 0, bare=operator_token is None)
        text, offset = _operand(children[-1])
        operand = _read(field_type, text, offset, choices)
        if field_type == "choices":
            return Selected(operand)
        return Comparison(field_type, operator, operand)
    if kind == "membership":
        operator_token, items = children
        _operator_allowed(field_type, str(operator_token), operator_token.start_pos)
        if items is None:
            raise _Refusal("the list is empty; write at least one value", operator_token.end_pos)
        operands = tuple(_read(field_type, *_operand(item), choices) for item in items.children)
        return Membership(field_type, operands, negated=str(operator_token) == "notIn")
    if kind == "range":
        operator_token, opening, low_token, high_token, closing = children
        _operator_allowed(field_type, str(operator_token), operator_token.start_pos)
        low = _read(field_type, *_operand(low_token), choices)
        high = _read(field_type, *_operand(high_token), choices)
        if low > high:
            message = f"the lower bound {low_token.strip()} is above the upper bound "
            raise _Refusal(message + high_token.strip(), low_token.start_pos)
        return Range(
            field_type,
            low,
            high,
            low_inclusive=opening == "[",
            high_inclusive=closing == "]",
            negated=str(operator_token) == "!range",
        )
    # kind == "contains": `in=aaa` / `notIn=aaa`
    operator_token, value_token = children
    operator = str(operator_token)
    _operator_allowed(field_type, operator, operator_token.start_pos)
    text, offset = _operand(value_token)
    return Contains(text, negated=operator == "notIn=")


def _read(field_type: str, text: str, offset: int, choices: tuple[str, ...]) -> Any:
    """One operand as a value of the column's type; refuses text that is not one."""
    if not text:
        raise _Refusal("a value is missing", offset)
    try:
        return _OPERAND_READERS[field_type](text, choices)
    except ValueError as error:
        raise _Refusal(str(error), offset) from None


def _read_text(text: str, choices: tuple[str, ...]) -> str:
    return text


def _read_number(text: str, choices: tuple[str, ...]) -> Decimal:
    if not NUMBER_PATTERN.fullmatch(text):
        raise ValueError(f"`{text}` is not a number")
    try:
        return Decimal(text)
    except DecimalException:  # an exponent beyond what Decimal can hold
        raise ValueError(f"`{text}` is out of range for a number") from None


def _read_boolean(text: str, choices: tuple[str, ...]) -> bool:
    try:
        return BOOLEAN_WORDS[text.lower()]
    except KeyError:
        raise ValueError(f"`{text}` is not a boolean; use true, false, yes or no") from None


def _read_choice(text: str, choices: tuple[str, ...]) -> str:
    if text in choices:
        return text
    if not choices:
        raise ValueError(f"`{text}` is not a choice: this column defines no choices")
    raise ValueError(f"`{text}` is not a choice of this column; use one of {', '.join(choices)}")


def _read_date(text: str, choices: tuple[str, ...]) -> date:
    if not DATE_PATTERN.fullmatch(text):
        raise ValueError(f"`{text}` is not a date; write YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"`{text}` is not a valid date") from None


def _read_datetime(text: str, choices: tuple[str, ...]) -> datetime:
    if not DATETIME_PATTERN.fullmatch(text):
        raise ValueError(f"`{text}` is not a date and time; write e.g. 2026-01-31T09:30:00Z")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"`{text}` is not a valid date and time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


_OPERAND_READERS: dict[str, Callable[[str, tuple[str, ...]], Any]] = {
    "text": _read_text,
    "number": _read_number,
    "boolean": _read_boolean,
    "choice": _read_choice,
    "choices": _read_choice,
    "array": _read_text,
    "date": _read_date,
    "datetime": _read_datetime,
}
