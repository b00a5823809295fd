"""Checking and compiling a decision-table row's actions: each kind with the inputs it needs,
every expression checked against the template's references (rules/expression_checks.py)."""

from dataclasses import dataclass

from rules.expression_checks import compile_checked, expression_fits, type_name
from rules.languages.expressions import Expression
from rules.models import ActionKind, RuleAction
from rules.references import ReferenceCatalog, ReferenceInfo, UnknownReference
from templates.models import AssignMode, FieldType

__all__ = ["CompiledAction", "check_action"]


@dataclass(frozen=True)
class CompiledAction:
    kind: str
    position: int
    label: str
    definition_id: int | None = None
    prefill: tuple[tuple[str, Expression], ...] = ()
    target: ReferenceInfo | None = None
    value: Expression | None = None
    queue_id: int | None = None
    status: str = ""


def check_action(catalog: ReferenceCatalog, action: RuleAction) -> CompiledAction:
    """The compiled action, or ValueError({"field": message})."""
    kind = action.kind
    label = ActionKind(kind).label if kind in ActionKind.values else kind
    if kind == ActionKind.ASSIGN_FORM:
        definition = action.form_assignment
        if definition is None:
            raise ValueError({"form_assignment": "Choose the form assignment to give."})
        if definition.template_id != catalog.template.pk:
            raise ValueError({"form_assignment": "This form assignment is of another template."})
        if definition.assign_mode != AssignMode.BY_RULE:
            raise ValueError(
                {"form_assignment": "Choose a form assignment marked “assigned by rule”."}
            )
        prefill = []
        form_fields = {f.name: f for f in definition.form.fields.all()}
        for field_name, source in sorted((definition.default_calculations or {}).items()):
            form_field = form_fields.get(field_name)
            try:
                if form_field is None:
                    raise ValueError(f"{field_name} is not a field of form {definition.form}")
                expression = compile_checked(source, catalog)
                if not expression_fits(expression, form_field.field_type):
                    raise ValueError(
                        f"the expression gives {expression.infer_type()}, not "
                        f"{type_name(form_field.field_type)}"
                    )
            except ValueError as error:
                raise ValueError(
                    {"form_assignment": f"Default calculation of {field_name}: {error}."}
                ) from None
            prefill.append((field_name, expression))
        return CompiledAction(
            kind,
            action.position,
            f"{label}: {definition}",
            definition_id=definition.pk,
            prefill=tuple(prefill),
        )
    if kind == ActionKind.SET_DATA_POINT:
        try:
            target = catalog.require(action.target, writable=True)
        except UnknownReference as error:
            raise ValueError({"target": str(error)}) from None
        if not action.expression:
            raise ValueError({"expression": "Give the expression of the new value."})
        try:
            value = compile_checked(action.expression, catalog)
        except ValueError as error:
            raise ValueError({"expression": str(error)}) from None
        if not expression_fits(value, target.field_type):
            raise ValueError(
                {
                    "expression": f"The expression gives {value.infer_type()}, but "
                    f"{target.reference} takes {type_name(target.field_type)}."
                }
            )
        return CompiledAction(
            kind, action.position, f"{label}: {target.reference}", target=target, value=value
        )
    if kind in (ActionKind.CREATE_WORK_QUEUE_ITEM, ActionKind.CHANGE_WORK_QUEUE_ITEM_STATUS):
        queue = action.work_queue
        if queue is None:
            raise ValueError({"work_queue": "Choose the work queue."})
        if queue.organization_id != catalog.template.organization_id:
            raise ValueError({"work_queue": f"{queue} belongs to another organization."})
        statuses = [status.status_id for status in queue.statuses.all()]
        if action.status and action.status not in statuses:
            raise ValueError(
                {"status": f"{action.status} is not a status of {queue}: {', '.join(statuses)}."}
            )
        if kind == ActionKind.CHANGE_WORK_QUEUE_ITEM_STATUS and not action.status:
            raise ValueError({"status": "Give the status to change to."})
        title = None
        if kind == ActionKind.CREATE_WORK_QUEUE_ITEM:
            if not action.expression:
                raise ValueError({"expression": "Give the item's title (an expression)."})
            try:
                title = compile_checked(action.expression, catalog)
            except ValueError as error:
                raise ValueError({"expression": str(error)}) from None
            if not expression_fits(title, FieldType.TEXT):
                raise ValueError(
                    {"expression": f"The title expression gives {title.infer_type()}, not text."}
                )
        return CompiledAction(
            kind,
            action.position,
            f"{label}: {queue}",
            value=title,
            queue_id=queue.pk,
            status=action.status,
        )
    raise ValueError({"kind": f"Unknown action {kind!r}."})
