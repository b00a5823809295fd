"""Template import and export (templates.transfer): round trip, every refusal, all or nothing."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from dev.demo import create_demo_template
from healix.models import User, UserType
from plans.models import Plan
from templates import transfer
from templates.models import (
    CustomField,
    Form,
    FormAssignmentDefinition,
    FormField,
    PlanTemplate,
    Role,
)
from templates.transfer import (
    ImportProblem,
    TemplateImportError,
    dumps_document,
    export_template,
    import_template,
)
from tests.fixtures.templates_transfer import demo_document, make_organization

TEMPLATE_MODELS = (PlanTemplate, Role, Form, FormField, FormAssignmentDefinition, CustomField)


@pytest.fixture
def org_a(db):
    return make_organization("org-a")


@pytest.fixture
def org_b(db):
    return make_organization("org-b")


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TEMPLATE_MODELS}


def refusal(organization, document, **kwargs) -> list[ImportProblem]:
    with pytest.raises(TemplateImportError) as caught:
        import_template(organization=organization, document=document, **kwargs)
    return caught.value.problems


# --- export and round trip ---------------------------------------------------------------------


def test_export_writes_the_documented_format(org_a):
    # given the demo template, built through the models
    template = create_demo_template(org_a)
    # when it is exported
    document = export_template(template)
    # then it is exactly the documented demo document (names, stable order, no database ids)
    assert document == demo_document()


def test_the_documented_example_is_what_export_writes():
    # given the example of docs/template-format.md (its second json block)
    text = (Path(settings.BASE_DIR) / "docs" / "template-format.md").read_text()
    example = text.split("```json\n")[2].split("```")[0]
    # then it is the demo template's export, byte for byte
    assert example == dumps_document(demo_document())


def test_round_trip_into_another_organization_gives_the_same_document(org_a, org_b):
    # given the demo template exported from organization A as text
    text = dumps_document(export_template(create_demo_template(org_a)))
    # when it is imported into organization B and exported again
    imported = import_template(organization=org_b, document=text)
    # then B has its own copy, and its export is byte for byte the same text
    assert imported.organization == org_b
    assert imported.roles.filter(organization=org_b).count() == 2
    assert dumps_document(export_template(imported)) == text


def test_export_is_deterministic_whatever_the_creation_order(org_a, org_b):
    # given the same template written in two different orders
    document = demo_document()
    reordered = demo_document(
        roles=list(reversed(document["template"]["roles"])),
        forms=list(reversed(document["template"]["forms"])),
        formAssignments=list(reversed(document["template"]["formAssignments"])),
    )
    first = import_template(organization=org_a, document=document)
    second = import_template(organization=org_b, document=reordered)
    # when both are exported / then the documents are equal
    assert export_template(first) == export_template(second)


def test_optional_keys_may_be_left_out(org_a):
    # given a minimal document: only the template's name
    document = {"format": "healix.plan-template", "formatVersion": 1, "template": {"name": "t"}}
    # when it is imported / then an empty template exists, exported with every key
    template = import_template(organization=org_a, document=document)
    assert export_template(template)["template"] == {
        "name": "t",
        "title": "",
        "description": "",
        "roles": [],
        "forms": [],
        "formAssignments": [],
        "customFields": [],
        "integrations": [],
        "decisionTable": {"columns": [], "rules": []},
    }


# --- refusals, each at its pointer -------------------------------------------------------------

IDENTIFIER_MESSAGE = (
    "is not an identifier. Use letters, digits, '_' or '-', starting with a letter or '_' "
    "(no spaces or dots)."
)


def _set(path: str, value) -> Callable[[dict], None]:
    """A change to a document: set the value at a JSON pointer (creating the last key)."""

    def change(document: dict) -> None:
        *parents, last = path.strip("/").split("/")
        node = document
        for token in parents:
            node = node[int(token)] if isinstance(node, list) else node[token]
        node[int(last) if isinstance(node, list) else last] = value

    return change


def _append(path: str, value) -> Callable[[dict], None]:
    """A change to a document: append a value to the array at a JSON pointer (a new entry,
    so no existing reference is broken)."""

    def change(document: dict) -> None:
        node = document
        for token in path.strip("/").split("/"):
            node = node[int(token)] if isinstance(node, list) else node[token]
        node.append(value)

    return change


def _delete(path: str) -> Callable[[dict], None]:
    def change(document: dict) -> None:
        *parents, last = path.strip("/").split("/")
        node = document
        for token in parents:
            node = node[int(token)] if isinstance(node, list) else node[token]
        del node[last]

    return change


REFUSALS = {
    "unknown format": (
        _set("/format", "something-else"),
        "/format",
        'Expected "healix.plan-template"; got "something-else".',
    ),
    "unsupported version": (
        _set("/formatVersion", 2),
        "/formatVersion",
        "Unsupported format version 2; this system reads format version 1.",
    ),
    "unknown field type": (
        _set("/template/forms/1/fields/0/type", "texty"),
        "/template/forms/1/fields/0/type",
        'Expected one of text, number, boolean, choice, choices, date, datetime; got "texty".',
    ),
    "wrong JSON type": (
        _set("/template/roles", {}),
        "/template/roles",
        "Expected an array, got an object.",
    ),
    "missing key": (
        _delete("/template/roles/0/name"),
        "/template/roles/0/name",
        "This key is required.",
    ),
    "unknown key": (
        _set("/template/rules", []),
        "/template/rules",
        "Unknown key 'rules'; allowed here: name, title, description, roles, forms, "
        "formAssignments, customFields, integrations, decisionTable.",
    ),
    "duplicate roleId": (
        _append("/template/roles", {"roleId": "Nurse", "name": "Night nurse"}),
        "/template/roles/2/roleId",
        "Duplicate roleId 'Nurse'; already used at /template/roles/0.",
    ),
    "duplicate form name": (
        _append("/template/forms", {"name": "appointment"}),
        "/template/forms/2/name",
        "Duplicate form name 'appointment'; already used at /template/forms/0.",
    ),
    "duplicate field name in a form": (
        _set("/template/forms/1/fields/2/name", "age"),
        "/template/forms/1/fields/2/name",
        "Duplicate field name 'age'; already used at /template/forms/1/fields/0.",
    ),
    "duplicate custom field name": (
        _set("/template/customFields/1/name", "score"),
        "/template/customFields/1/name",
        "Duplicate field name 'score'; already used at /template/customFields/0.",
    ),
    "roleId with a space": (
        _append("/template/roles", {"roleId": "Night nurse", "name": "Night nurse"}),
        "/template/roles/2/roleId",
        f"'Night nurse' {IDENTIFIER_MESSAGE}",
    ),
    "field name with a trailing newline": (
        _set("/template/forms/0/fields/0/name", "slot\n"),
        "/template/forms/0/fields/0/name",
        f"'slot\\n' {IDENTIFIER_MESSAGE}",
    ),
    "choice field without choices": (
        _set("/template/customFields/1/choices", []),
        "/template/customFields/1/choices",
        "A 'choice' field needs at least one value in choices.",
    ),
    "choices on a text field": (
        _set("/template/forms/1/fields/2/choices", ["a"]),
        "/template/forms/1/fields/2/choices",
        "Only choice fields have values to choose from; this field is 'text'.",
    ),
    "assignment of an unknown form": (
        _set("/template/formAssignments/0/form", "discharge"),
        "/template/formAssignments/0/form",
        "No form named 'discharge' in this template (forms: appointment, intake).",
    ),
    "assignment to an unknown role": (
        _set("/template/formAssignments/2/role", "Doctor"),
        "/template/formAssignments/2/role",
        "No role with roleId 'Doctor' in this template (roles: Nurse, Patient).",
    ),
    "duplicate assignment": (
        _set("/template/formAssignments/1/role", "Patient"),
        "/template/formAssignments/2",
        "Duplicate (form, role) pair ('intake', 'Patient'); already used at "
        "/template/formAssignments/1.",
    ),
    "default calculation of an unknown field": (
        _set("/template/formAssignments/0/defaultCalculations", {"time": '"9:00"'}),
        "/template/formAssignments/0/defaultCalculations/time",
        "'time' is not a field of form 'appointment' (fields: slot, confirmed).",
    ),
    "two primary roles": (
        _set("/template/roles/0/isPrimary", True),
        "/template/roles/1/isPrimary",
        "A template has at most one primary role; /template/roles/0 is primary already.",
    ),
}


@pytest.mark.parametrize("change, pointer, message", REFUSALS.values(), ids=REFUSALS.keys())
def test_each_refusal_names_its_pointer_and_writes_nothing(org_a, change, pointer, message):
    # given the demo document with one mistake
    document = demo_document()
    change(document)
    before = row_counts()
    # when it is imported
    problems = refusal(org_a, json.dumps(document))
    # then exactly that problem is reported, and nothing was written
    assert problems == [ImportProblem(pointer, message)]
    assert row_counts() == before


def test_all_problems_of_a_stage_are_reported_in_document_order(org_a):
    # given a document with two semantic mistakes, the later one in an earlier section
    document = demo_document()
    document["template"]["customFields"][0]["name"] = "bad name"
    document["template"]["roles"][0]["roleId"] = "bad role"
    # when it is imported / then both are reported, in the order of the document
    assert [problem.pointer for problem in refusal(org_a, document)] == [
        "/template/roles/0/roleId",
        "/template/formAssignments/1/role",  # it referred to the renamed role
        "/template/customFields/0/name",
    ]


def test_malformed_json_is_refused_at_the_root_with_the_parser_message(org_a):
    # given text that is not JSON / when imported / then one problem at the root pointer ""
    assert refusal(org_a, b'{"format": "healix.plan-template",}') == [
        ImportProblem(
            "",
            "Malformed JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 35 (char 34).",
        )
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            b"\xff{}",
            "The document is not UTF-8 text: 'utf-8' codec can't decode byte 0xff "
            "in position 0: invalid start byte.",
        ),
        ('{"a": 1, "a": 2}', "Malformed JSON: the key 'a' appears more than once in an object."),
        ('{"a": NaN}', "Malformed JSON: NaN is not JSON."),
        ("[]", "The document must be a JSON object, not an array."),
    ],
)
def test_other_unreadable_documents_are_refused_at_the_root(org_a, text, message):
    assert refusal(org_a, text) == [ImportProblem("", message)]


def test_an_oversize_document_is_refused_before_parsing(org_a, settings):
    # given a limit smaller than the demo document
    text = dumps_document(demo_document())
    settings.HEALIX_TEMPLATE_IMPORT_MAX_BYTES = 100
    # when it is imported / then it is refused for its size alone
    assert refusal(org_a, text) == [
        ImportProblem(
            "",
            f"The document is {len(text.encode())} bytes; the limit is 100 bytes "
            "(HEALIX_TEMPLATE_IMPORT_MAX_BYTES).",
        )
    ]


def test_a_template_of_the_same_name_is_refused_without_replace(org_a):
    # given the demo template in the organization
    create_demo_template(org_a)
    # when the same document is imported again / then it is refused at the name
    assert refusal(org_a, demo_document()) == [
        ImportProblem(
            "/template/name",
            "Organization org-a already has a template named 'sAI-ERComp'; import with replace "
            "to overwrite its definition, or rename it in the document.",
        )
    ]


def test_the_same_name_in_another_organization_is_no_conflict(org_a, org_b):
    create_demo_template(org_b)
    assert import_template(organization=org_a, document=demo_document()).organization == org_a


# --- replace -----------------------------------------------------------------------------------


def test_replace_redefines_the_existing_template_in_place(org_a):
    # given the demo template, and a document that renames its title and drops the Nurse role
    existing = create_demo_template(org_a)
    document = demo_document(title="ER companion v2")
    document["template"]["roles"] = document["template"]["roles"][1:]
    document["template"]["formAssignments"] = [
        item for item in document["template"]["formAssignments"] if item["role"] != "Nurse"
    ]
    # when it is imported with replace
    replaced = import_template(organization=org_a, document=document, replace=True)
    # then the same row (same id) now has exactly the document's definition
    assert replaced.pk == existing.pk
    assert export_template(replaced) == document
    assert not Role.objects.filter(organization=org_a, role_id="Nurse").exists()


def test_replace_without_an_existing_template_creates_it(org_a):
    template = import_template(organization=org_a, document=demo_document(), replace=True)
    assert export_template(template) == demo_document()


def test_replace_is_refused_when_the_template_has_plans(org_a):
    # given the demo template with one plan
    existing = create_demo_template(org_a)
    patient = User.objects.create_user(
        username="patient", organization=org_a, user_type=UserType.USER
    )
    Plan.objects.create(
        organization=org_a, template=existing, user=patient, start_date=timezone.now()
    )
    before = row_counts()
    # when a new definition is imported with replace
    problems = refusal(org_a, demo_document(title="new"), replace=True)
    # then it is refused, and the template keeps its definition
    assert problems == [
        ImportProblem(
            "/template/name",
            "Template 'sAI-ERComp' has 1 plan(s) in organization org-a; replace is refused for "
            "a template with plans. Import it under another name instead.",
        )
    ]
    assert row_counts() == before
    existing.refresh_from_db()
    assert existing.title == "ER companion"


# --- all or nothing at the model level ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_model_level_failure_midway_leaves_no_row_behind(monkeypatch):
    # given semantic checks switched off, so that the models are the last line of defence,
    # and a document whose last form assignment prefills a field its form does not have
    org = make_organization("org-t")
    monkeypatch.setattr(transfer, "_semantic_problems", lambda body: [])
    document = demo_document()
    document["template"]["formAssignments"][2]["defaultCalculations"] = {"nope": "1"}
    before = row_counts()
    # when it is imported (its own transaction: this test runs outside any other)
    problems = refusal(org, document)
    # then the model's error comes back at the assignment's key, and the template, its roles,
    # forms and fields written before it are all gone
    assert problems == [
        ImportProblem(
            "/template/formAssignments/2/defaultCalculations",
            "Not fields of form intake: nope.",
        )
    ]
    assert row_counts() == before


def test_a_model_level_unique_violation_maps_to_the_object(org_a, monkeypatch):
    # given semantic checks switched off and a duplicate roleId
    monkeypatch.setattr(transfer, "_semantic_problems", lambda body: [])
    document = demo_document()
    document["template"]["roles"][1]["roleId"] = "Nurse"
    document["template"]["roles"][1]["isPrimary"] = False
    document["template"]["formAssignments"] = []
    before = row_counts()
    # when it is imported / then full_clean's refusal points at the second role
    problems = refusal(org_a, document)
    assert [problem.pointer for problem in problems] == ["/template/roles/1"]
    assert "already exists" in problems[0].message
    assert row_counts() == before
