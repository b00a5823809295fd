"""An integration's JSON Schema: derived from its fields, formats really checked."""

import pytest
from django.core.exceptions import ValidationError

from integrations.inbound.schemas import derived_schema, payload_problems, validator_for
from integrations.models import IntegrationDefinition, IntegrationField

PLAN = "242b7766-ac9e-451f-9fe4-dd54489108c1"


def problems(fields, payload) -> list[tuple[str, str]]:
    validator = validator_for(derived_schema(fields))
    return [(p.pointer, p.detail) for p in payload_problems(validator, payload)]


@pytest.mark.parametrize(
    ("field_type", "good", "bad"),
    [
        ("string", "x", 1),
        ("number", 1.5, "1.5"),
        ("integer", 2, 2.5),
        ("boolean", False, "false"),
        ("date", "2026-02-28", "2026-02-30"),
        ("datetime", "2026-02-28T10:00:00+01:00", "2026-02-28T10:00:00"),
        ("object", {"a": 1}, [1]),
        ("array", [1], {"a": 1}),
    ],
)
def test_each_field_type_accepts_its_values_only(field_type, good, bad):
    fields = [("v", field_type, True)]
    assert problems(fields, {"planId": PLAN, "v": good}) == []
    assert [pointer for pointer, _ in problems(fields, {"planId": PLAN, "v": bad})] == ["#/v"]


def test_routing_fields_are_always_allowed_and_must_be_uuids():
    assert problems([], {"planId": PLAN, "userId": PLAN}) == []
    assert problems([], {"planId": "x"}) == [("#/planId", "Expected a uuid; got 'x'.")]


def test_pointers_escape_slash_and_tilde():
    assert problems([], {"planId": PLAN, "a/b~c": 1}) == [
        ("#/a~1b~0c", "Unknown field: not defined.")
    ]


@pytest.mark.django_db
def test_definition_clean_checks_the_raw_schema_and_reserved_names(template):
    definition = template.integrations.get()
    definition.raw_schema = {"type": "nonsense"}
    with pytest.raises(ValidationError) as excinfo:
        definition.full_clean()
    assert excinfo.value.message_dict["raw_schema"][0].startswith("Not a valid JSON Schema")
    field = IntegrationField(definition=definition, name="userId", field_type="string")
    with pytest.raises(ValidationError) as excinfo:
        field.full_clean()
    assert "reserved" in excinfo.value.message_dict["name"][0]
    with pytest.raises(ValidationError):
        IntegrationDefinition(template=template, subject="has.dot").full_clean()
