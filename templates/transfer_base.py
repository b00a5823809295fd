"""The building blocks of template transfer: problems located by JSON pointer (RFC 6901),
the Section interface every part of a template document implements, and the shared checks."""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models

from healix.api.problems import join_pointer
from healix.models import Organization
from templates.models import IDENTIFIER_PATTERN, PlanTemplate, identifier_validator

__all__ = [
    "IDENTIFIER_SCHEMA",
    "ImportContext",
    "ImportProblem",
    "Section",
    "TemplateImportError",
    "duplicate_problems",
    "identifier_problems",
    "join_pointer",
    "problems_from_validation_error",
]


@dataclass(frozen=True, order=True)
class ImportProblem:
    """One reason to refuse a document: where (a JSON pointer, "" = the whole document) and why."""

    pointer: str
    message: str

    def __str__(self) -> str:
        # "" is a valid pointer but reads as nothing on a terminal.
        return f"{self.pointer or '(document)'}: {self.message}"


class TemplateImportError(Exception):
    """The document was refused; nothing was written. `problems` says every reason found."""

    def __init__(self, problems: Iterable[ImportProblem]) -> None:
        self.problems: list[ImportProblem] = list(problems)
        super().__init__(
            f"Template import refused ({len(self.problems)} problem(s)): "
            + "; ".join(str(problem) for problem in self.problems)
        )


def problems_from_validation_error(
    error: ValidationError, pointer: str, keys: Mapping[str, str]
) -> list[ImportProblem]:
    """Map a model's ValidationError to problems: a known model field goes to its document key,
    anything else (non-field errors, fields the document does not carry) to the object itself."""
    if not hasattr(error, "error_dict"):
        return [ImportProblem(pointer, message) for message in error.messages]
    problems = []
    for name, errors in error.message_dict.items():
        key = keys.get(name) if name != NON_FIELD_ERRORS else None
        where = join_pointer(pointer, key) if key else pointer
        prefix = "" if key or name == NON_FIELD_ERRORS else f"{name}: "
        problems.extend(ImportProblem(where, f"{prefix}{message}") for message in errors)
    return problems


# The models' regex, matched against the whole string: Python's `$` also matches before a
# trailing newline, which PostgreSQL's check constraint would then refuse.
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)

IDENTIFIER_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 100}
# Model field name -> document key, to place a model's ValidationError at the right pointer.
MODEL_KEYS = {
    "name": "name",
    "title": "title",
    "description": "description",
    "role_id": "roleId",
    "assignable_user_types": "assignableUserTypes",
    "is_primary": "isPrimary",
    "label": "label",
    "field_type": "type",
    "required": "required",
    "choices": "choices",
    "form": "form",
    "role": "role",
    "assign_mode": "assign",
    "default_calculations": "defaultCalculations",
}


@dataclass
class ImportContext:
    """What one import is writing: the template, and the objects created so far by reference
    name (refs["roles"]["Patient"]), so later sections resolve names to rows."""

    organization: Organization
    template: PlanTemplate
    refs: dict[str, dict[str, models.Model]] = field(default_factory=dict)

    def save(self, obj: models.Model, pointer: str) -> None:
        """full_clean() then save(); any refusal becomes a TemplateImportError at `pointer`,
        which aborts the surrounding transaction."""
        try:
            obj.full_clean()
        except ValidationError as error:
            raise TemplateImportError(
                problems_from_validation_error(error, pointer, MODEL_KEYS)
            ) from error
        try:
            obj.save()
        except IntegrityError as error:
            # Only reachable if the database is stricter than full_clean(); say what it said.
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise TemplateImportError(
                [ImportProblem(pointer, f"The database refused this entry: {first_line}")]
            ) from error


@dataclass(frozen=True)
class Section:
    key: str  # camelCase key under "template"
    schema: dict[str, Any]  # JSON Schema (draft 2020-12) of the value
    export: Callable[[PlanTemplate], Any]
    # (value, the whole "template" object, pointer of value) -> problems; runs after the schema.
    check: Callable[[Any, dict[str, Any], str], list[ImportProblem]]
    create: Callable[[Any, ImportContext, str], None]
    clear: Callable[[PlanTemplate], None]  # delete this part before a replace rewrites it
    empty: Callable[[], Any] = list  # the value when the document leaves the key out


def identifier_problems(value: str, pointer: str) -> list[ImportProblem]:
    if _IDENTIFIER.fullmatch(value):
        return []
    message = f"{value!r} is not an identifier. {identifier_validator.message}"
    return [ImportProblem(pointer, message)]


def duplicate_problems(
    values: Iterable[Any], pointer: str, key: str | None, label: str
) -> list[ImportProblem]:
    """One problem per repeated value, at its later occurrence, naming the first one."""
    first_seen: dict[Any, str] = {}
    problems = []
    for index, value in enumerate(values):
        here = join_pointer(pointer, index)
        if value in first_seen:
            where = join_pointer(here, key) if key else here
            message = f"Duplicate {label} {value!r}; already used at {first_seen[value]}."
            problems.append(ImportProblem(where, message))
        else:
            first_seen[value] = here
    return problems
