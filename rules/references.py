"""The dynamic data model of a template: which references exist, their type, which are writable.

A rule's column, an expression's `lastVal("...")` and a "set data point" target all name a
reference such as `submission.intake.age`. The catalog of one template answers what each one
is, so the editor can refuse an unknown reference or a cell of the wrong type on save, and the
data source can turn stored ISO text into dates by the field's declared type.
"""

from dataclasses import dataclass
from difflib import get_close_matches

from templates.models import FieldType, PlanTemplate, WorkQueue

__all__ = ["PLAN_ATTRIBUTES", "ReferenceCatalog", "ReferenceInfo", "UnknownReference"]


@dataclass(frozen=True)
class ReferenceInfo:
    reference: str
    field_type: (
        str  # a column type of rules.languages.shorthand: text, number, boolean, choice, ...
    )
    choices: tuple[str, ...] = ()
    writable: bool = False

    @property
    def kind(self) -> str:
        return self.reference.split(".", 1)[0]


class UnknownReference(ValueError):
    pass


# plan.<attribute>: (model field, type, writable). startDate is set when the plan is assigned.
PLAN_ATTRIBUTES: dict[str, tuple[str, str, bool]] = {
    "title": ("title", FieldType.TEXT, True),
    "startDate": ("start_date", FieldType.DATETIME, False),
    "endDate": ("end_date", FieldType.DATETIME, True),
    "status": ("status", FieldType.CHOICE, True),
    "riskStatus": ("risk_status", FieldType.TEXT, True),
}
PLAN_STATUSES = ("OPEN", "CLOSED")

# workQueueItem.<queue>.<field>: (type, writable)
WORK_QUEUE_ITEM_FIELDS: dict[str, tuple[str, bool]] = {
    "title": (FieldType.TEXT, False),
    "createdAt": (FieldType.DATETIME, False),
    "ticketNumber": (FieldType.NUMBER, False),
    "priority": (FieldType.NUMBER, True),
    "serviceLocation": (FieldType.CHOICE, True),
    "queuePosition": (FieldType.NUMBER, True),
    "status": (FieldType.CHOICE, True),
}

# Integration field types as rules compare them; objects have no comparison, so no reference.
INTEGRATION_TYPES = {
    "string": FieldType.TEXT,
    "number": FieldType.NUMBER,
    "integer": FieldType.NUMBER,
    "boolean": FieldType.BOOLEAN,
    "date": FieldType.DATE,
    "datetime": FieldType.DATETIME,
    "array": "array",
}


class ReferenceCatalog:
    """Every reference of one template, loaded in a handful of queries."""

    def __init__(self, template: PlanTemplate) -> None:
        self.template = template
        self.references: dict[str, ReferenceInfo] = {}
        for name, (_field, field_type, writable) in PLAN_ATTRIBUTES.items():
            choices = PLAN_STATUSES if name == "status" else ()
            self._add(f"plan.{name}", field_type, choices, writable)
        for custom in template.custom_fields.all():
            self._add(f"plan.{custom.name}", custom.field_type, tuple(custom.choices), True)
        for form in template.forms.prefetch_related("fields"):
            for form_field in form.fields.all():
                self._add(
                    f"submission.{form.name}.{form_field.name}",
                    form_field.field_type,
                    tuple(form_field.choices),
                )
        for definition in template.integrations.prefetch_related("fields"):
            for integration_field in definition.fields.all():
                field_type = INTEGRATION_TYPES.get(integration_field.field_type)
                if field_type:
                    self._add(
                        f"integration.{definition.subject}.{integration_field.name}", field_type
                    )
        queues = WorkQueue.objects.filter(organization_id=template.organization_id)
        for queue in queues.prefetch_related("statuses", "service_locations"):
            for name, (field_type, writable) in WORK_QUEUE_ITEM_FIELDS.items():
                choices: tuple[str, ...] = ()
                if name == "status":
                    choices = tuple(status.status_id for status in queue.statuses.all())
                elif name == "serviceLocation":
                    choices = tuple(location.name for location in queue.service_locations.all())
                self._add(f"workQueueItem.{queue.name}.{name}", field_type, choices, writable)

    def _add(self, reference: str, field_type: str, choices=(), writable: bool = False) -> None:
        self.references[reference] = ReferenceInfo(
            reference, str(field_type), tuple(choices), writable
        )

    def get(self, reference: str) -> ReferenceInfo | None:
        return self.references.get(reference)

    def require(self, reference: str, *, writable: bool = False) -> ReferenceInfo:
        """The reference's description, or UnknownReference with a message for the editor."""
        info = self.references.get(reference)
        if info is None:
            close = get_close_matches(reference, list(self.references), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownReference(
                f"`{reference}` is not data of template {self.template.name}{hint}"
            )
        if writable and not info.writable:
            writable_names = ", ".join(sorted(r for r, i in self.references.items() if i.writable))
            raise UnknownReference(f"`{reference}` is read only; a rule can set {writable_names}")
        return info
