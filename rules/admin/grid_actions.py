"""A decision-table row's actions, edited in the grid itself.

Django cannot nest inlines, so each row's form carries a formset of its actions
(`RuleCellsForm.actions`), validated with the row and saved after it. Its class is the row
page's inline formset (rules/admin/rule.py `RuleActionInline`), built for the same request: the
same form and checks (rules/action_compiler.py), the same choices limited to the user's
organization and the table's form assignments, the same add / change / delete permissions.
"""

from django.contrib.admin import AdminSite
from django.http import HttpRequest

from rules.admin.forms import RuleActionFormSet
from rules.admin.rule import RuleActionInline, limit_form_assignments
from rules.models import Rule
from templates.models import PlanTemplate

__all__ = ["actions_editable", "grid_actions_formset"]


def actions_editable(request: HttpRequest, admin_site: AdminSite) -> bool:
    """Whether the user may change actions; if not, the grid lists them in words."""
    return RuleActionInline(Rule, admin_site).has_change_permission(request)


def grid_actions_formset(
    request: HttpRequest, admin_site: AdminSite, template: PlanTemplate
) -> type[RuleActionFormSet]:
    """The formset class of one row's actions in `template`'s grid."""
    inline = RuleActionInline(Rule, admin_site)
    formset = inline.get_formset(request, None)
    formset.can_add = inline.has_add_permission(request, None)
    limit_form_assignments(formset, template.pk)
    for name in ("form_assignment", "work_queue"):
        field = formset.form.base_fields.get(name)
        if field is None:
            continue
        # Compact: the bare select, without the admin's add / change / view icons.
        field.widget = getattr(field.widget, "widget", field.widget)
        # The choices once for the page, not once per action of every row; the queryset
        # still decides which posted ids are accepted.
        field.choices = [(str(value), label) for value, label in field.choices]
    return formset
