"""The errors of both rule languages, in one module so every part can raise them."""

__all__ = ["NUL_MESSAGE", "CellSyntaxError", "ExpressionRuntimeError", "ExpressionSyntaxError"]

# U+0000 in a cell or an expression's text: PostgreSQL stores it in no text or JSON column, so
# a value holding it can never be saved nor match a saved one. Refused where it is written.
NUL_MESSAGE = "text cannot hold U+0000 (the NUL character): no value with it can be stored"


class CellSyntaxError(Exception):
    """A decision-table cell does not parse for its column's type.

    `position` is the 1-based character of the cell where the problem starts, so the admin can
    point at it; `field_type` is the column's type, named in the message shown next to the cell.
    """

    def __init__(self, message: str, position: int, field_type: str) -> None:
        self.message = message
        self.position = position
        self.field_type = field_type
        super().__init__(f"{message} ({field_type} column, character {position})")


class ExpressionSyntaxError(Exception):
    """An expression cannot be compiled: bad syntax, unknown function, wrong arguments, limits.

    `line` and `column` are 1-based and point into the expression's source.
    """

    def __init__(self, message: str, line: int, column: int) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(f"{message} (line {line}, column {column})")


class ExpressionRuntimeError(Exception):
    """A compiled expression could not produce a value, e.g. a date function given text.

    The only exception `Expression.evaluate` raises; `line`/`column` point at the call that
    failed (0 when the failure is not tied to one place, such as a data source error).
    """

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        self.message = message
        self.line = line
        self.column = column
        where = f" (line {line}, column {column})" if line else ""
        super().__init__(f"{message}{where}")
