"""The data a table reads for its plans, loaded in bulk: a few queries for any number of plans.

Values are coerced here, at the data-source boundary, by the field's declared type: form data
and payloads store dates as ISO text, while the expression language's date functions need date
objects (docs/rules-languages.md, "Date functions refuse text").
"""

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection

from plans.models import FormSubmission, Plan, WorkQueueItem
from rules.references import PLAN_ATTRIBUTES, ReferenceCatalog
from rules.sql import INBOUND_SQL, LOCK_PLANS_SQL, SUBMISSIONS_SQL
from templates.models import FieldType

__all__ = ["PlanData", "PlanRow", "coerce", "load_plan_data", "lock_plans"]


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


@dataclass(slots=True)
class PlanRow:
    """A locked plan as the rules read it (its attributes in PLAN_ATTRIBUTES, its custom
    fields); load_plan_data takes these or Plan instances alike."""

    pk: uuid.UUID
    title: str
    status: str
    risk_status: str
    start_date: datetime | None
    end_date: datetime | None
    custom_fields: dict[str, Any]


def lock_plans(plan_ids: list[uuid.UUID], template_id: int) -> list[PlanRow]:
    """Lock the plans of `template_id` among `plan_ids`, in id order, and read them."""
    with connection.cursor() as cursor:
        cursor.execute(LOCK_PLANS_SQL, [plan_ids, template_id])
        rows = cursor.fetchall()
    return [PlanRow(*row[:-1], _json(row[-1]) or {}) for row in rows]


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


def _json(value: Any) -> Any:
    # Django's psycopg connection hands jsonb over as text; the ORM would parse it.
    return json.loads(value) if isinstance(value, str) else value


def load_plan_data(
    plans: list[Plan] | list[PlanRow],
    references: set[str],
    catalog: ReferenceCatalog,
    *,
    submission: FormSubmission | None = None,
) -> dict[uuid.UUID, PlanData]:
    """PlanData for each plan, holding every value of `references` the plans have: a query
    per kind of reference (submissions, integrations, work queue items) for all plans."""
    data = {plan.pk: PlanData() for plan in plans}
    ids = list(data)
    types = {r: (catalog.get(r).field_type if catalog.get(r) else "") for r in references}
    plan_references = []  # (reference, model attribute or None, custom field name, type)
    for reference in references:
        parts = reference.split(".")
        if parts[0] == "plan" and len(parts) == 2:
            attribute = PLAN_ATTRIBUTES.get(parts[1])
            plan_references.append(
                (reference, attribute[0] if attribute else None, parts[1], types[reference])
            )
    for plan in plans:
        source = data[plan.pk]
        custom = plan.custom_fields or {}
        for reference, attribute, name, field_type in plan_references:
            value = getattr(plan, attribute) if attribute else custom.get(name)
            source.put(reference, coerce(value, field_type))
    forms = _split(references, "submission")
    if forms and ids:
        with connection.cursor() as cursor:
            cursor.execute(SUBMISSIONS_SQL, [ids, list(forms)])
            rows = cursor.fetchall()
        for plan_id, form_name, values in rows:
            values = _json(values)
            if not isinstance(values, dict):
                continue
            for field_name in forms[form_name]:
                if field_name in values:
                    reference = f"submission.{form_name}.{field_name}"
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
        with connection.cursor() as cursor:
            cursor.execute(INBOUND_SQL, [catalog.template.organization_id, list(subjects), ids])
            events = cursor.fetchall()
        for plan_ids, subject, payload in events:
            payload = _json(payload)
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
