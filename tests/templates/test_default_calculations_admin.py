"""A form assignment's default calculations, edited as expressions: one input per field of its
form, each checked on save with the error at the field, as a rule's cells are."""

import pytest
from django.urls import reverse

from templates.models import FormAssignmentDefinition

pytestmark = pytest.mark.django_db

SLOT = 'lastStr("integration.aiEngineTimeSlot.timeSlot")'


@pytest.fixture
def appointment(template) -> FormAssignmentDefinition:
    """The demo template's appointment form (fields slot: text, confirmed: boolean) for the
    patient, assigned by rule."""
    return FormAssignmentDefinition.objects.get(template=template, form__name="appointment")


@pytest.fixture
def editor(client, hrh_content_manager):
    client.force_login(hrh_content_manager)
    return client


def url(definition: FormAssignmentDefinition) -> str:
    return reverse("admin:templates_formassignmentdefinition_change", args=[definition.pk])


def post(editor, definition, **defaults):
    data = {"assign_mode": definition.assign_mode, "default_slot": "", "default_confirmed": ""}
    data.update({f"default_{name}": value for name, value in defaults.items()})
    return editor.post(url(definition), data)


def test_each_field_of_the_form_has_its_own_expression_input(editor, appointment):
    appointment.default_calculations = {"slot": SLOT}
    appointment.save()
    response = editor.get(url(appointment))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form["default_slot"].value() == SLOT
    assert form["default_confirmed"].value() == ""
    assert form.fields["default_slot"].label == "slot (text)"
    # The expression is shown as typed: no JSON quoting around it
    assert "\\&quot;" not in response.content.decode()


def test_an_expression_is_saved_as_typed(editor, appointment):
    response = post(editor, appointment, slot=SLOT, confirmed="true")
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.default_calculations == {"slot": SLOT, "confirmed": "true"}


@pytest.mark.parametrize(
    ("slot", "confirmed", "field", "message"),
    [
        ('lastStr("integration.aiEngineTimeSlot.timeSlot"', "", "default_slot", "expected"),
        ('lastStr("plan.nowhere")', "", "default_slot", "plan.nowhere"),
        ("", "1 + 2", "default_confirmed", "gives number, but confirmed takes boolean"),
    ],
    ids=["syntax", "unknown-reference", "wrong-type"],
)
def test_a_bad_expression_is_refused_at_its_field(
    editor, appointment, slot, confirmed, field, message
):
    # Given a calculation already saved
    appointment.default_calculations = {"slot": SLOT}
    appointment.save()
    # When a bad expression is saved in one field
    response = post(editor, appointment, slot=slot, confirmed=confirmed)
    # Then the page answers with the error at that field, and nothing changed
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    appointment.refresh_from_db()
    assert appointment.default_calculations == {"slot": SLOT}


def test_the_template_page_shows_calculations_in_words_and_links_to_their_page(
    editor, template, appointment
):
    appointment.default_calculations = {"slot": SLOT}
    appointment.save()
    page = editor.get(reverse("admin:templates_plantemplate_change", args=[template.pk]))
    html = page.content.decode()
    assert "<code>slot = lastStr(&quot;integration.aiEngineTimeSlot.timeSlot&quot;)</code>" in html
    assert url(appointment) in html
