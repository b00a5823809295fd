"""A form assignment's page (its default calculations) as a hostile tenant would try it: the
other organization's is not found, neither to read nor to change, and its list never shows it."""

import pytest
from django.urls import reverse

from templates.models import FormAssignmentDefinition

pytestmark = pytest.mark.django_db


def test_another_organizations_form_assignment_is_not_found(
    client, hrh_content_manager, template, other_template
):
    # Given the other organization's appointment form assignment, with a calculation
    theirs = FormAssignmentDefinition.objects.get(template=other_template, form__name="appointment")
    theirs.default_calculations = {"slot": '"theirs"'}
    theirs.save()
    client.force_login(hrh_content_manager)
    url = reverse("admin:templates_formassignmentdefinition_change", args=[theirs.pk])
    # When hrh's content manager opens it, or posts a new calculation to it
    read = client.get(url)
    written = client.post(url, {"assign_mode": theirs.assign_mode, "default_slot": '"mine"'})
    listed = client.get(reverse("admin:templates_formassignmentdefinition_changelist"))
    # Then it is not found, unchanged, and not listed
    assert (read.status_code, written.status_code) == (404, 404)
    theirs.refresh_from_db()
    assert theirs.default_calculations == {"slot": '"theirs"'}
    assert theirs not in list(listed.context["cl"].result_list)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('"a\x00b"', "Null characters are not allowed"),
        ('"a\\u0000b"', "U+0000"),
        ("(" * 2000 + "1" + ")" * 2000, ""),
        ("9" * 5000, ""),
    ],
    ids=["NUL", "NUL escaped", "2,000 levels deep", "a 5,000-digit number"],
)
def test_hostile_text_in_a_default_calculation_is_a_form_error(
    client, hrh_content_manager, template, text, reason
):
    # Given hrh's appointment form assignment
    mine = FormAssignmentDefinition.objects.get(template=template, form__name="appointment")
    client.force_login(hrh_content_manager)
    url = reverse("admin:templates_formassignmentdefinition_change", args=[mine.pk])
    # When text no expression can be (or no database can store) is typed for a field
    response = client.post(url, {"assign_mode": mine.assign_mode, "default_slot": text})
    # Then the page answers with an error at that field, never a 500, and nothing is saved
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["default_slot"] and reason in errors["default_slot"][0]
    mine.refresh_from_db()
    assert mine.default_calculations == {}
