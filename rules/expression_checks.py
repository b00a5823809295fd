"""Whether an expression compiles against a template's references, and whether its type fits a
field's: the checks that cells (rules/compiler.py) and actions (rules/action_compiler.py) share."""

from rules.languages.errors import ExpressionSyntaxError
from rules.languages.expressions import Expression, compile_expression
from rules.references import ReferenceCatalog, UnknownReference
from templates.models import FieldType

__all__ = ["DATE_TYPES", "EXPRESSION_TYPES_FOR", "compile_checked", "expression_fits", "type_name"]

# What an expression's inferred type may feed: a column or field of this type.
EXPRESSION_TYPES_FOR = {
    FieldType.TEXT: {"text"},
    FieldType.CHOICE: {"text"},
    FieldType.CHOICES: set(),
    FieldType.NUMBER: {"number"},
    FieldType.BOOLEAN: {"boolean"},
    FieldType.DATE: {"date"},
    FieldType.DATETIME: {"date"},
    "array": set(),
}
DATE_TYPES = (FieldType.DATE, FieldType.DATETIME)


def expression_fits(expression: Expression, field_type: str) -> bool:
    inferred = expression.infer_type()
    return inferred == "any" or inferred in EXPRESSION_TYPES_FOR.get(field_type, set())


def compile_checked(source: str, catalog: ReferenceCatalog) -> Expression:
    """Compile and check references; raises ValueError with the editor's message."""
    try:
        expression = compile_expression(source)
    except ExpressionSyntaxError as error:
        raise ValueError(str(error)) from None
    for reference in sorted(expression.references()):
        try:
            catalog.require(reference)
        except UnknownReference as error:
            raise ValueError(str(error)) from None
    return expression


def type_name(field_type: str) -> str:
    """A field type as people say it."""
    return {"datetime": "date and time"}.get(field_type, field_type)
