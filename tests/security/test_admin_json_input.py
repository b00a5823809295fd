"""A hostile (or careless) staff member of organization B types JSON that Python's json module
chokes on, or that PostgreSQL cannot store, into every JSON input of the admin: template
import, the rules simulator, a plan's custom fields, an HTTP integration's custom headers, an
integration's raw JSON Schema. (A form assignment's default calculations are expressions, one
text input per field, not JSON: tests/security/test_default_calculations_admin.py.) Each is a form
error naming the reason, never a 500; nothing is saved, and organization A's data is
untouched. One parser decides (healix/strict_json.py), as for the REST API."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms import BoundField
from django.test import Client
from django.urls import reverse

from dev.demo import create_demo_rules
from healix.models import User, UserType
from integrations.models import HttpIntegration, IntegrationDefinition
from templates.models import PlanTemplate
from tests.fixtures.api import World
from tests.fixtures.domain import make_user

pytestmark = pytest.mark.django_db

# (text typed into the input, words the error must hold)
HOSTILE_INPUTS = {
    "2,000 levels deep": ("[" * 2000 + "]" * 2000, "nested deeper than 64 levels"),
    "a 5,000-digit number": ('{"a": ' + "9" * 5000 + "}", "beyond ±(2^53 - 1)"),
    "U+0000": ('{"a": "x\\u0000y"}', "U+0000"),
    "NaN": ('{"a": NaN}', "NaN is not JSON"),
}


@pytest.fixture
def other_staff(other_org, editor_groups) -> User:
    """A staff member of organization B in "Administrators": everything of B in the admin."""
    user = make_user(other_org, "other-administrator", UserType.ADMIN, is_staff=True)
    user.groups.add(editor_groups["Administrators"])
    return user


@pytest.fixture
def other_admin(client: Client, other_staff) -> Client:
    client.force_login(other_staff)
    return client


def page_data(response) -> dict[str, Any]:
    """What a browser posts back for an admin page as rendered, unchanged: every field of the
    form and of each inline row, with the inlines' management forms."""
    page_forms = [response.context["adminform"].form]
    data: dict[str, Any] = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        page_forms.extend([formset.management_form, *formset.forms])
    for form in page_forms:
        for field in form:
            data.update(_posted(field))
            if field.field.show_hidden_initial:
                data[field.html_initial_name] = data.get(field.html_name, "")
    return data


def _posted(field: BoundField) -> dict[str, Any]:
    value, widget = field.value(), field.field.widget
    widget = getattr(widget, "widget", widget)  # the admin's related-object wrapper
    if isinstance(widget, forms.MultiWidget):
        parts = value if isinstance(value, list) else widget.decompress(value)
        names = [f"{field.html_name}{suffix}" for suffix in widget.widgets_names]
        return dict(zip(names, ["" if part is None else part for part in parts], strict=True))
    if isinstance(widget, forms.CheckboxInput):
        return {field.html_name: "on"} if value else {}
    return {field.html_name: "" if value is None else value}


def errors_at(response, name: str) -> list[str]:
    """The errors the page shows for input `name` (an html name: `prefix-0-field` in
    inlines): at the field, or at the top of its form (which a tampered hidden copy gets)."""
    assert response.status_code == 200, response.get("Location")
    admin_form = response.context.get("adminform")
    context_forms = [admin_form.form if admin_form else response.context["form"]]
    for inline in response.context.get("inline_admin_formsets") or []:
        context_forms.extend(inline.formset.forms)
    for form in context_forms:
        for field in form:
            if name in (field.html_name, field.html_initial_name):
                return [*form.errors.get(field.name, []), *form.non_field_errors()]
    raise AssertionError(f"no input {name} on the page")


@dataclass(frozen=True)
class JsonInput:
    """One JSON input of the admin: where its page is, and which input takes the text."""

    url: Callable[[World], str]
    name: str
    saved: Callable[[World], Any]  # what a save would change
    page: bool = True  # an admin change/add page (else: the data is built by `fields`)
    fields: Callable[[World], dict] | None = None
    # Also typed into the page's hidden copy of what it showed (a tampered page).
    initial: bool = False


def _decision_table(target: World) -> str:
    create_demo_rules(target.plan.template)
    return reverse("admin:rules_decisiontable_simulate", args=[target.plan.template_id])


def _definitions(target: World):
    return sorted(
        IntegrationDefinition.objects.filter(organization=target.organization).values_list(
            "pk", "raw_schema"
        ),
        key=str,
    )


JSON_INPUTS = {
    "custom headers": JsonInput(
        url=lambda w: reverse("admin:integrations_httpintegration_add"),
        name="custom_headers",
        saved=lambda w: HttpIntegration.objects.filter(organization=w.organization).count(),
        fields=lambda w: {"partner_name": "Hostile", "url": "https://93.184.215.14/h"},
    ),
    "raw schema": JsonInput(
        url=lambda w: reverse(
            "admin:integrations_integrationdefinition_change", args=[w.integration_id]
        ),
        name="raw_schema",
        saved=_definitions,
    ),
    "custom fields": JsonInput(
        url=lambda w: reverse("admin:plans_plan_change", args=[w.plan.pk]),
        name="custom_fields",
        saved=lambda w: w.fingerprint()["plans"],
    ),
    "custom fields, the page's hidden copy": JsonInput(
        url=lambda w: reverse("admin:plans_plan_change", args=[w.plan.pk]),
        name="custom_fields",
        saved=lambda w: w.fingerprint()["plans"],
        initial=True,
    ),
    "simulator payload": JsonInput(
        url=_decision_table,
        name="payload",
        saved=lambda w: w.fingerprint(),
        page=False,
        fields=lambda w: {"trigger": "integration", "subject": "aiEngineTimeSlot"},
    ),
    "simulator values": JsonInput(
        url=_decision_table,
        name="values",
        saved=lambda w: w.fingerprint(),
        page=False,
        fields=lambda w: {"trigger": "integration"},
    ),
}


@pytest.mark.parametrize("text, words", HOSTILE_INPUTS.values(), ids=HOSTILE_INPUTS)
@pytest.mark.parametrize("json_input", JSON_INPUTS.values(), ids=JSON_INPUTS)
def test_hostile_json_in_an_admin_input_is_a_form_error(
    json_input, text, words, other_admin, world, other_world
):
    # Given B's admin page as it shows, and both organizations' data as it is
    url = json_input.url(other_world)
    data = page_data(other_admin.get(url)) if json_input.page else {}
    data |= json_input.fields(other_world) if json_input.fields else {}
    ours, theirs = world.fingerprint(), json_input.saved(other_world)
    # When B's staff member types the text into the input (or the page's hidden copy of it)
    target = f"initial-{json_input.name}" if json_input.initial else json_input.name
    data[target] = text
    response = other_admin.post(url, data)
    # Then the page shows the reason at the input, and nothing was saved anywhere
    errors = errors_at(response, target)
    assert any(words in error for error in errors), errors
    assert (world.fingerprint(), json_input.saved(other_world)) == (ours, theirs)


IMPORTS = {
    "2,000 levels deep": ("[" * 2000 + "]" * 2000, "nested deeper than 64 levels"),
    "a 5,000-digit number": (
        '{"format": "healix.plan-template", "formatVersion": 1, '
        '"template": {"name": "hostile", "title": ' + "9" * 5000 + "}}",
        "beyond ±(2^53 - 1)",
    ),
    "U+0000": (
        '{"format": "healix.plan-template", "formatVersion": 1, '
        '"template": {"name": "hostile", "description": "x\\u0000y"}}',
        "U+0000",
    ),
}


@pytest.mark.parametrize("text, words", IMPORTS.values(), ids=IMPORTS)
def test_a_hostile_template_document_is_refused_on_the_import_page(
    text, words, other_admin, other_org, world
):
    # Given A's data as it is
    ours = world.fingerprint()
    before = PlanTemplate.objects.filter(organization=other_org).count()
    # When B's staff member imports the document
    upload = SimpleUploadedFile("hostile.json", text.encode(), "application/json")
    response = other_admin.post(reverse("admin:templates_plantemplate_import"), {"file": upload})
    # Then the import page lists the reason, and no template was made
    assert response.status_code == 200
    details = [problem.message for problem in response.context["problems"]]
    assert any(words in detail for detail in details), details
    assert PlanTemplate.objects.filter(organization=other_org).count() == before
    assert world.fingerprint() == ours
