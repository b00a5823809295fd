"""Template import and export from the command line and from the admin (templates.admin_transfer).

The admin tests use their own AdminSite (this module is their URLconf), with the project's
PlanTemplateAdmin plus the transfer mixin, so they do not depend on how admin.py is wired.
"""

import io
import json
import zipfile

import pytest
from django.contrib.admin import AdminSite
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import path, reverse

from dev.demo import create_demo_template
from templates.admin import PlanTemplateAdmin
from templates.admin_transfer import TemplateTransferAdminMixin
from templates.models import PlanTemplate
from templates.transfer import dumps_document, export_template
from tests.fixtures.templates_transfer import demo_document, make_organization, make_staff

site = AdminSite(name="admin")
site.register(
    PlanTemplate,
    PlanTemplateAdmin
    if issubclass(PlanTemplateAdmin, TemplateTransferAdminMixin)
    else type("TransferPlanTemplateAdmin", (TemplateTransferAdminMixin, PlanTemplateAdmin), {}),
)
urlpatterns = [path("admin/", site.urls)]

EDITOR_PERMISSIONS = ("view_plantemplate", "add_plantemplate", "change_plantemplate")


@pytest.fixture
def org_a(db):
    return make_organization("org-a")


@pytest.fixture
def org_b(db):
    return make_organization("org-b")


# --- management commands -----------------------------------------------------------------------


def test_command_line_round_trip(org_a, org_b, tmp_path):
    # given the demo template of organization A, exported to a file
    create_demo_template(org_a)
    exported = tmp_path / "sAI-ERComp.json"
    call_command("export_template", "--org", "org-a", "sAI-ERComp", "-o", str(exported))
    # when the file is imported into B and B's copy is exported to standard output
    out = io.StringIO()
    call_command("import_template", "--org", "org-b", str(exported), stdout=out)
    again = io.StringIO()
    call_command("export_template", "--org", "org-b", "sAI-ERComp", stdout=again)
    # then both exports are the same text
    assert "Imported template sAI-ERComp into org-b" in out.getvalue()
    assert again.getvalue() == exported.read_text()


def test_import_command_reads_standard_input_and_replaces(org_a):
    create_demo_template(org_a)
    stdin = io.BytesIO(json.dumps(demo_document(title="v2")).encode())
    call_command("import_template", "--org", "org-a", "-", "--replace", stdin=stdin)
    assert PlanTemplate.objects.get(organization=org_a).title == "v2"


def test_import_command_prints_each_problem_and_fails(org_a, tmp_path):
    # given a document with two mistakes
    document = demo_document()
    document["formatVersion"] = 3
    document["format"] = "nope"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    err = io.StringIO()
    # when it is imported / then the command fails, one "<pointer>: <message>" line per problem
    with pytest.raises(CommandError, match=r"refused: 2 problem\(s\); nothing was written"):
        call_command("import_template", "--org", "org-a", str(bad), stderr=err)
    assert err.getvalue().splitlines() == [
        '/format: Expected "healix.plan-template"; got "nope".',
        "/formatVersion: Unsupported format version 3; this system reads format version 1.",
    ]
    assert not PlanTemplate.objects.exists()


def test_commands_name_unknown_organizations_and_templates(org_a, tmp_path):
    with pytest.raises(CommandError, match="No organization with orgId 'nope'"):
        call_command("export_template", "--org", "nope", "x")
    with pytest.raises(CommandError, match="Organization org-a has no template named 'x'"):
        call_command("export_template", "--org", "org-a", "x")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_template", "--org", "org-a", str(tmp_path / "missing.json"))


# --- admin: export -----------------------------------------------------------------------------

pytestmark_urls = pytest.mark.urls(__name__)


def changelist_url() -> str:
    return reverse("admin:templates_plantemplate_changelist")


@pytestmark_urls
def test_export_action_downloads_one_document(client, org_a):
    # given a staff user of A who may view templates, and A's demo template
    template = create_demo_template(org_a)
    client.force_login(make_staff(org_a, "viewer", "view_plantemplate"))
    # when the export action runs on it
    response = client.post(
        changelist_url(),
        {"action": "export_selected_templates", "_selected_action": [template.pk]},
    )
    # then the response is the template's document, as a .json download
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="sAI-ERComp.json"'
    assert response.content.decode() == dumps_document(export_template(template))


@pytestmark_urls
def test_export_action_zips_several_documents(client, org_a):
    first = create_demo_template(org_a)
    second = create_demo_template(org_a, name="second")
    client.force_login(make_staff(org_a, "viewer", "view_plantemplate"))
    response = client.post(
        changelist_url(),
        {"action": "export_selected_templates", "_selected_action": [first.pk, second.pk]},
    )
    assert response["Content-Disposition"] == 'attachment; filename="plan-templates.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["org-a/sAI-ERComp.json", "org-a/second.json"]
    assert json.loads(archive.read("org-a/second.json"))["template"]["name"] == "second"


@pytestmark_urls
def test_staff_of_one_organization_cannot_export_another_organizations_template(
    client, org_a, org_b
):
    # given B's template and a staff user of A
    theirs = create_demo_template(org_b)
    client.force_login(make_staff(org_a, "viewer", "view_plantemplate"))
    # when A's user asks for B's template by the export button's URL, or by the action
    by_url = client.get(reverse("admin:templates_plantemplate_export", args=[theirs.pk]))
    by_action = client.post(
        changelist_url(),
        {"action": "export_selected_templates", "_selected_action": [theirs.pk]},
    )
    # then neither gives a document: 404, and the action finds nothing selected
    assert by_url.status_code == 404
    assert by_action.status_code == 302
    assert by_action["Content-Type"].startswith("text/html")


@pytestmark_urls
def test_change_form_has_export_button_and_changelist_has_import_button(client, org_a):
    template = create_demo_template(org_a)
    client.force_login(make_staff(org_a, "editor", *EDITOR_PERMISSIONS))
    export_url = reverse("admin:templates_plantemplate_export", args=[template.pk])
    change = client.get(reverse("admin:templates_plantemplate_change", args=[template.pk]))
    assert f'href="{export_url}"' in change.content.decode()
    assert client.get(export_url).json() == export_template(template)
    changelist = client.get(changelist_url()).content.decode()
    assert f'href="{reverse("admin:templates_plantemplate_import")}"' in changelist


# --- admin: import -----------------------------------------------------------------------------


def upload(document, name="template.json") -> SimpleUploadedFile:
    content = document if isinstance(document, bytes) else json.dumps(document).encode()
    return SimpleUploadedFile(name, content, content_type="application/json")


@pytestmark_urls
def test_import_view_creates_the_template_in_the_users_organization(client, org_a):
    # given an editor of A
    client.force_login(make_staff(org_a, "editor", *EDITOR_PERMISSIONS))
    import_url = reverse("admin:templates_plantemplate_import")
    assert client.get(import_url).status_code == 200
    # when they upload the demo document
    response = client.post(import_url, {"file": upload(demo_document())})
    # then the template exists in A and they land on its change page with a message
    template = PlanTemplate.objects.get(organization=org_a, name="sAI-ERComp")
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:templates_plantemplate_change", args=[template.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert "Imported template sAI-ERComp in organization org-a." in page


@pytestmark_urls
def test_import_view_lists_every_problem_and_imports_nothing(client, org_a):
    # given an editor of A and a document with a wrong field type and an unknown form
    client.force_login(make_staff(org_a, "editor", *EDITOR_PERMISSIONS))
    document = demo_document()
    document["template"]["forms"][1]["fields"][0]["type"] = "texty"
    # when it is uploaded
    response = client.post(
        reverse("admin:templates_plantemplate_import"), {"file": upload(document)}
    )
    # then the page lists the problem with its pointer, and no template was made
    page = response.content.decode()
    assert response.status_code == 200
    assert "<code>/template/forms/1/fields/0/type</code>: Expected one of text" in page
    assert not PlanTemplate.objects.exists()


@pytestmark_urls
def test_import_view_shows_malformed_json_at_the_document(client, org_a):
    client.force_login(make_staff(org_a, "editor", *EDITOR_PERMISSIONS))
    response = client.post(reverse("admin:templates_plantemplate_import"), {"file": upload(b"{")})
    assert "<code>(document)</code>: Malformed JSON" in response.content.decode()


@pytestmark_urls
def test_import_needs_add_permission_and_replace_needs_change(client, org_a):
    import_url = reverse("admin:templates_plantemplate_import")
    client.force_login(make_staff(org_a, "viewer", "view_plantemplate"))
    assert client.get(import_url).status_code == 403
    client.force_login(make_staff(org_a, "adder", "view_plantemplate", "add_plantemplate"))
    response = client.post(import_url, {"file": upload(demo_document()), "replace": "on"})
    assert "You may add templates but not change existing ones." in response.content.decode()
    assert not PlanTemplate.objects.exists()


@pytestmark_urls
def test_superuser_picks_the_organization(client, org_a, org_b, django_user_model):
    superuser = django_user_model.objects.create_superuser("root", password="x")
    client.force_login(superuser)
    response = client.post(
        reverse("admin:templates_plantemplate_import"),
        {"file": upload(demo_document()), "organization": org_b.pk},
    )
    assert response.status_code == 302
    assert PlanTemplate.objects.get().organization == org_b
