"""Moving a plan template between systems: one JSON document, exported and imported whole.

The format is documented in docs/template-format.md. Import checks everything before it
writes anything (envelope, JSON Schema, semantic checks, the target organization), then
writes in one transaction in which every row also passes full_clean(): a refused document
leaves nothing behind. The per-section work lives in templates/transfer_sections.py.
"""

import json
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from healix import strict_json
from healix.models import Organization
from templates.models import PlanTemplate
from templates.transfer_base import (
    IDENTIFIER_SCHEMA,
    ImportContext,
    ImportProblem,
    TemplateImportError,
    identifier_problems,
    join_pointer,
)
from templates.transfer_sections import SECTIONS

__all__ = [
    "DOCUMENT_SCHEMA",
    "FORMAT",
    "FORMAT_VERSION",
    "SUPPORTED_FORMAT_VERSIONS",
    "ImportProblem",
    "TemplateImportError",
    "check_document_size",
    "dumps_document",
    "export_template",
    "import_template",
    "parse_document",
    "read_document",
    "validate_document",
]

NUL_MESSAGE = "U+0000 (NUL) cannot be stored in a template."
FORMAT = "healix.plan-template"
FORMAT_VERSION = 1  # what export writes
SUPPORTED_FORMAT_VERSIONS = (1,)  # what import reads

DOCUMENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Healix plan template document",
    "type": "object",
    "additionalProperties": False,
    "required": ["format", "formatVersion", "template"],
    "properties": {
        "format": {"const": FORMAT},
        "formatVersion": {"enum": list(SUPPORTED_FORMAT_VERSIONS)},
        "template": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": IDENTIFIER_SCHEMA,
                "title": {"type": "string", "maxLength": 200},
                "description": {"type": "string"},
                **{section.key: section.schema for section in SECTIONS},
            },
        },
    },
}
Draft202012Validator.check_schema(DOCUMENT_SCHEMA)
_VALIDATOR = Draft202012Validator(DOCUMENT_SCHEMA)

_SCHEMA_TYPES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "boolean": "a boolean",
    "number": "a number",
    "integer": "an integer",
    "null": "null",
}
_PYTHON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    type(None): "null",
}


# --- export ------------------------------------------------------------------------------------


def export_template(template: PlanTemplate) -> dict[str, Any]:
    """The template as a document: names instead of database ids, in a stable order."""
    body: dict[str, Any] = {
        "name": template.name,
        "title": template.title,
        "description": template.description,
    }
    for section in SECTIONS:
        body[section.key] = section.export(template)
    return {"format": FORMAT, "formatVersion": FORMAT_VERSION, "template": body}


def dumps_document(document: dict[str, Any]) -> str:
    """The canonical text of a document: indented, UTF-8, one trailing newline (diffs well)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- parsing and validation (no database writes) -----------------------------------------------


def check_document_size(size: int, *, at_least: bool = False) -> None:
    """Refuse a document over HEALIX_TEMPLATE_IMPORT_MAX_BYTES (`at_least`: the reader stopped
    early, so `size` is only a lower bound)."""
    limit = settings.HEALIX_TEMPLATE_IMPORT_MAX_BYTES
    if size > limit:
        amount = f"more than {limit}" if at_least else str(size)
        message = (
            f"The document is {amount} bytes; the limit is {limit} bytes "
            "(HEALIX_TEMPLATE_IMPORT_MAX_BYTES)."
        )
        raise TemplateImportError([ImportProblem("", message)])


def read_document(stream: IO[bytes]) -> bytes:
    """Read a piped or uploaded document, never more than the limit (plus a byte to notice)."""
    data = stream.read(settings.HEALIX_TEMPLATE_IMPORT_MAX_BYTES + 1)
    check_document_size(len(data), at_least=True)
    return data


def parse_document(document: dict[str, Any] | bytes | str) -> Any:
    """Bytes or text -> the parsed JSON value; refuses oversize and malformed input."""
    if isinstance(document, bytes | str):
        raw = document.encode() if isinstance(document, str) else document
        check_document_size(len(raw))
    else:
        raw = None
        check_document_size(len(json.dumps(document, default=str).encode()))
    if raw is None:
        parsed = document
    else:
        try:
            parsed = strict_json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            raise _unreadable(f"The document is not UTF-8 text: {error}.") from None
        except strict_json.StrictJSONError as error:
            raise _unreadable(f"Malformed JSON: {error}.") from None
    where = strict_json.nul_path(parsed)
    if where is not None:
        # PostgreSQL's text cannot hold it: refused here, not as a database error midway.
        raise TemplateImportError([ImportProblem(join_pointer("", *where), NUL_MESSAGE)])
    return parsed


def _unreadable(message: str) -> TemplateImportError:
    return TemplateImportError([ImportProblem("", message)])


def _envelope_problems(document: Any) -> list[ImportProblem]:
    """format and formatVersion first: if they are wrong, the rest cannot be read reliably."""
    if not isinstance(document, dict):
        kind = _type_name(document)
        return [ImportProblem("", f"The document must be a JSON object, not {kind}.")]
    supported = ", ".join(str(version) for version in SUPPORTED_FORMAT_VERSIONS)
    problems = []
    if document.get("format") != FORMAT:
        got = f"got {json.dumps(document['format'])}" if "format" in document else "it is missing"
        problems.append(ImportProblem("/format", f'Expected "{FORMAT}"; {got}.'))
    version = document.get("formatVersion")
    if "formatVersion" not in document:
        problems.append(
            ImportProblem(
                "/formatVersion",
                f"This key is required; this system reads format version {supported}.",
            )
        )
    elif isinstance(version, bool) or version not in SUPPORTED_FORMAT_VERSIONS:
        problems.append(
            ImportProblem(
                "/formatVersion",
                f"Unsupported format version {json.dumps(version)}; "
                f"this system reads format version {supported}.",
            )
        )
    return problems


def _type_name(value: Any) -> str:
    kind = _PYTHON_TYPES.get(type(value))
    return _SCHEMA_TYPES[kind] if kind else type(value).__name__


def _schema_message(error: SchemaError) -> str:
    """jsonschema's messages repeat the whole offending value; say what was expected instead."""
    expected, instance = error.validator_value, error.instance
    match error.validator:
        case "type":
            return f"Expected {_SCHEMA_TYPES.get(expected, expected)}, got {_type_name(instance)}."
        case "enum":
            got = json.dumps(instance, default=str)[:100]
            return f"Expected one of {', '.join(map(str, expected))}; got {got}."
        case "const":
            return f"Expected {json.dumps(expected)}."
        case "minLength":
            return "Must not be empty." if expected == 1 else f"Shorter than {expected} characters."
        case "maxLength":
            return f"Longer than {expected} characters."
        case "uniqueItems":
            return "Each value may appear only once."
    return error.message[:300]


def _schema_error_problems(error: SchemaError) -> list[ImportProblem]:
    where = join_pointer("", *error.absolute_path)
    instance, expected = error.instance, error.validator_value
    if error.validator == "required":
        return [
            ImportProblem(join_pointer(where, key), "This key is required.")
            for key in expected
            if key not in instance
        ]
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        return [
            ImportProblem(
                join_pointer(where, key),
                f"Unknown key {key!r}; allowed here: {', '.join(known)}."
                if known
                else f"Unknown key {key!r}.",
            )
            for key in instance
            if key not in known
        ]
    return [ImportProblem(where, _schema_message(error))]


def _schema_problems(document: Any) -> list[ImportProblem]:
    return [p for error in _VALIDATOR.iter_errors(document) for p in _schema_error_problems(error)]


def _document_position(document: Any, pointer: str) -> list[int]:
    """Where a pointer lands in the document, as indexes: problems are listed in the order
    of the document itself (a missing key sorts after its object's present keys)."""
    position, node = [], document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            position.append(int(token))
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            position.append(list(node).index(token))
            node = node[token]
        else:
            position.append(len(node) if isinstance(node, dict | list) else 0)
            node = None
    return position


def _sorted(problems: list[ImportProblem], document: Any) -> list[ImportProblem]:
    unique = dict.fromkeys(problems)  # drop repeats, keep first-found order among equals
    return sorted(unique, key=lambda problem: _document_position(document, problem.pointer))


def _semantic_problems(body: dict[str, Any]) -> list[ImportProblem]:
    problems = identifier_problems(body["name"], "/template/name")
    for section in SECTIONS:
        value = body.get(section.key, section.empty())
        problems += section.check(value, body, join_pointer("/template", section.key))
    return problems


def validate_document(document: dict[str, Any] | bytes | str) -> dict[str, Any]:
    """Parse and check a document without touching the database; return it parsed.

    Raises TemplateImportError with every problem of the first stage that failed: envelope,
    then schema, then semantics (later stages need the structure the earlier ones ensure)."""
    parsed = parse_document(document)
    for stage in (
        _envelope_problems,
        _schema_problems,
        lambda doc: _semantic_problems(doc["template"]),
    ):
        problems = stage(parsed)
        if problems:
            raise TemplateImportError(_sorted(problems, parsed))
    return parsed


# --- import ------------------------------------------------------------------------------------


def _existing_template_problems(
    existing: PlanTemplate | None, organization: Organization, replace: bool
) -> list[ImportProblem]:
    if existing is None:
        return []
    if not replace:
        return [
            ImportProblem(
                "/template/name",
                f"Organization {organization.slug} already has a template named {existing.name!r}; "
                "import with replace to overwrite its definition, or rename it in the document.",
            )
        ]
    # Plans hold PROTECT references to the template's roles and form assignments: replacing
    # the definition under them would orphan or rewrite what they were built from.
    plan_count = existing.plans.count()
    if plan_count:
        return [
            ImportProblem(
                "/template/name",
                f"Template {existing.name!r} has {plan_count} plan(s) in organization "
                f"{organization.slug}; replace is refused for a template with plans. "
                "Import it under another name instead.",
            )
        ]
    return []


def _clear_definition(existing: PlanTemplate) -> None:
    """Delete a template's parts (not the row: links to the template itself stay valid)."""
    try:
        for section in reversed(SECTIONS):
            section.clear(existing)
    except (ProtectedError, RestrictedError) as error:
        blocking = getattr(error, "protected_objects", None) or error.restricted_objects
        kinds = ", ".join(sorted({str(obj._meta.verbose_name) for obj in blocking}))
        message = (
            f"Cannot replace template {existing.name!r}: other records still refer to its "
            f"definition ({kinds})."
        )
        raise TemplateImportError([ImportProblem("/template/name", message)]) from error


def import_template(
    *,
    organization: Organization,
    document: dict[str, Any] | bytes | str,
    replace: bool = False,
) -> PlanTemplate:
    """Create (or, with replace, redefine) a template of `organization` from a document.

    All or nothing: raises TemplateImportError and writes nothing if anything is wrong."""
    body = validate_document(document)["template"]
    lookup = PlanTemplate.objects.filter(organization=organization, name=body["name"])
    problems = _existing_template_problems(lookup.first(), organization, replace)
    if problems:
        raise TemplateImportError(problems)
    with transaction.atomic():
        # Again under a row lock, which also makes a concurrent plan insert (it takes a key
        # share lock on the template) wait until this transaction ends.
        existing = lookup.select_for_update().first()
        problems = _existing_template_problems(existing, organization, replace)
        if problems:
            raise TemplateImportError(problems)
        template = existing or PlanTemplate(organization=organization, name=body["name"])
        if existing is not None:
            _clear_definition(existing)
        template.title = body.get("title", "")
        template.description = body.get("description", "")
        context = ImportContext(organization=organization, template=template)
        context.save(template, "/template")
        for section in SECTIONS:
            value = body.get(section.key, section.empty())
            section.create(value, context, join_pointer("/template", section.key))
    return template
