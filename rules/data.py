"""The data a table reads for its plans, loaded in bulk: a few queries for any number of plans.

Values are coerced here, at the data-source boundary, by the field's declared type: form data
and payloads store dates as ISO text, while the expression language's date functions need date
objects (docs/rules-languages.md, "Date functions refuse text").
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from integrations.models import InboundEvent, InboundStatus
from plans.models import FormSubmission, Plan, WorkQueueItem
from rules.references import PLAN_ATTRIBUTES, ReferenceCatalog
from templates.models import FieldType

__all__ = ["PlanData", "coerce", "load_plan_data"]


def coerce(value: Any, field_type: str) -> Any:
    """A stored value as rules compare it: ISO text to date/datetime; others unchanged."""
    if field_type == FieldType.DATE and isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    if field_type == FieldType.DATETIME:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip().replace("z", "Z"))
            except ValueError:
                try:
                    return datetime.combine(
                        date.fromisoformat(value.strip()), datetime.min.time(), UTC
                    )
                except ValueError:
                    return None
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
    return value


class PlanData:
    """A `DataSource` for one plan: first and last values per reference, and the values of the
    submission that triggered the evaluation."""

    __slots__ = ("first_values", "last_values", "submission_values")

    def __init__(self) -> None:
        self.last_values: dict[str, Any] = {}
        self.first_values: dict[str, Any] = {}
        self.submission_values: dict[str, Any] = {}

    def put(self, reference: str, value: Any) -> None:
        """Record a value in time order: the first one stays first, the latest is last."""
        self.first_values.setdefault(reference, value)
        self.last_values[reference] = value

    def last(self, reference: str) -> Any:
        return self.last_values.get(reference)

    def first(self, reference: str) -> Any:
        return self.first_values.get(reference)

    def submission(self, reference: str) -> Any:
        # The triggering submission's value; otherwise the plan's latest submission of the form.
        if reference in self.submission_values:
            return self.submission_values[reference]
        return self.last_values.get(reference)


def _split(references: Iterable[str], kind: str) -> dict[str, set[str]]:
    """{"<form or subject or queue>": {field, ...}} for references of one kind."""
    found: dict[str, set[str]] = defaultdict(set)
    for reference in references:
        parts = reference.split(".")
        if parts[0] == kind and len(parts) == 3:
            found[parts[1]].add(parts[2])
    return found


def load_plan_data(
    plans: list[Plan],
    references: set[str],
    catalog: ReferenceCatalog,
    *,
    submission: FormSubmission | None = None,
) -> dict[uuid.UUID, PlanData]:
    """PlanData for each plan, holding every value of `references` the plans have."""
    data = {plan.pk: PlanData() for plan in plans}
    ids = list(data)
    types = {r: (catalog.get(r).field_type if catalog.get(r) else "") for r in references}
    for plan in plans:
        source = data[plan.pk]
        for reference in references:
            parts = reference.split(".")
            if parts[0] != "plan" or len(parts) != 2:
                continue
            attribute = PLAN_ATTRIBUTES.get(parts[1])
            value = (
                getattr(plan, attribute[0])
                if attribute
                else (plan.custom_fields or {}).get(parts[1])
            )
            source.put(reference, coerce(value, types[reference]))
    forms = _split(references, "submission")
    if forms and ids:
        rows = (
            FormSubmission.objects.filter(
                assignment__plan_id__in=ids, assignment__definition__form__name__in=list(forms)
            )
            .order_by("submitted_at", "id")
            .values_list("assignment__plan_id", "assignment__definition__form__name", "data")
        )
        for plan_id, form_name, values in rows:
            for field_name in forms[form_name]:
                reference = f"submission.{form_name}.{field_name}"
                if isinstance(values, dict) and field_name in values:
                    data[plan_id].put(reference, coerce(values[field_name], types[reference]))
    if submission is not None and submission.assignment.plan_id in data:
        form_name = submission.assignment.definition.form.name
        for field_name in forms.get(form_name, ()):
            reference = f"submission.{form_name}.{field_name}"
            value = coerce(submission.data.get(field_name), types[reference])
            data[submission.assignment.plan_id].submission_values[reference] = value
    subjects = _split(references, "integration")
    if subjects and ids:
        wanted = set(ids)
        events = (
            InboundEvent.objects.filter(
                organization_id=catalog.template.organization_id,
                status=InboundStatus.ACCEPTED,
                subject__in=list(subjects),
                plan_ids__overlap=ids,
            )
            .order_by("received_at", "id")
            .values_list("plan_ids", "subject", "payload")
        )
        for plan_ids, subject, payload in events:
            if not isinstance(payload, dict):
                continue
            for plan_id in wanted.intersection(plan_ids):
                for field_name in subjects[subject]:
                    if field_name in payload:
                        reference = f"integration.{subject}.{field_name}"
                        data[plan_id].put(reference, coerce(payload[field_name], types[reference]))
    queues = _split(references, "workQueueItem")
    if queues and ids:
        items = (
            WorkQueueItem.objects.filter(plan_id__in=ids, queue__name__in=list(queues))
            .select_related("queue", "status", "service_location")
            .order_by("created_at", "id")
        )
        for item in items:
            values = {
                "title": item.title,
                "createdAt": item.created_at,
                "ticketNumber": item.ticket_number,
                "priority": item.priority,
                "serviceLocation": item.service_location.name if item.service_location else None,
                "queuePosition": item.queue_position,
                "status": item.status.status_id,
            }
            for field_name in queues[item.queue.name]:
                data[item.plan_id].put(
                    f"workQueueItem.{item.queue.name}.{field_name}", values.get(field_name)
                )
    return data
