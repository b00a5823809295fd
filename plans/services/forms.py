"""Forms: assigned, and submitted (which queues the rules for the plan)."""

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

import events
from events import EventType
from healix.celery import app
from healix.models import User
from healix.observability.tracing import current_trace_id
from plans.models import (
    FormAssignment,
    FormAssignmentStatus,
    FormSubmission,
    Plan,
)
from plans.services.checks import (
    lock,
    lock_plan_row,
    require_actor,
    require_open,
    require_same_organization_of,
)
from templates.models import (
    FormAssignmentDefinition,
)
from templates.values import check_values

# Queued by name (rules/tasks.py runs it): the rules call these services, so importing the
# task here would make the two modules import each other.
SUBMISSION_RULES_TASK = "rules.evaluate_submission"

logger = logging.getLogger(__name__)


# --- forms ---------------------------------------------------------------------------------


def create_form_assignment(
    plan: Plan,
    definition: FormAssignmentDefinition,
    user: User,
    actor: User,
    prefill: Mapping[str, Any],
) -> FormAssignment:
    return FormAssignment.objects.create(
        organization_id=plan.organization_id,
        plan=plan,
        definition=definition,
        user=user,
        prefill=dict(prefill),
        assigned_by=actor,
    )


@transaction.atomic
def assign_form(
    *,
    actor: User,
    plan: Plan,
    definition: FormAssignmentDefinition,
    prefill: Mapping[str, Any] | None = None,
) -> FormAssignment:
    """Give the form of `definition` to the user holding its role in `plan`."""
    require_actor(actor, plan.organization_id)
    require_same_organization_of(plan.organization_id, definition=definition)
    require_open(lock(plan))
    if definition.template_id != plan.template_id:
        raise ValidationError(
            {"definition": f"{definition} is not a form assignment of template {plan.template}."}
        )
    holder = plan.role_assignments.filter(role_id=definition.role_id).select_related("user").first()
    if holder is None:
        raise ValidationError({"definition": f"Nobody holds role {definition.role} in this plan."})
    prefill = prefill or {}
    errors = check_values(
        definition.form.fields.all(), prefill, partial=True, owner=f"form {definition.form}"
    )
    if errors:
        raise ValidationError({"prefill": [f"{name}: {msg}" for name, msg in errors.items()]})
    return create_form_assignment(plan, definition, holder.user, actor, prefill)


@transaction.atomic
def submit_form(
    *, actor: User, assignment: FormAssignment, data: Mapping[str, Any]
) -> FormSubmission:
    """Store the submission of a form assignment, its data checked field by field.

    Errors are keyed by form field name, so a caller can show each next to its field.
    """
    require_actor(actor, assignment.organization_id)
    # Locks go plan first, then its rows, in every service: one order, no deadlocks. By id:
    # the plan is read once, locked, with what the event says about it (see emit()).
    plan, locked = lock_plan_row(assignment.plan_id)
    assignment = lock(assignment)
    if assignment.status == FormAssignmentStatus.SUBMITTED:
        raise ValidationError(f"Form assignment {assignment.pk} was already submitted.")
    require_open(plan)
    if not isinstance(data, Mapping):
        raise ValidationError("Form data must be an object of field values.")
    form = assignment.definition.form
    errors = check_values(form.fields.all(), data, owner=f"form {form.name}")
    if errors:
        raise ValidationError(errors)
    submission = FormSubmission.objects.create(
        organization_id=assignment.organization_id,
        assignment=assignment,
        data=dict(data),
        submitted_by=actor,
    )
    assignment.status = FormAssignmentStatus.SUBMITTED
    assignment.save(update_fields=["status"])
    events.emit(EventType.FORM_SUBMITTED, actor=actor, submission=submission, locked=locked)
    # The rules see the submission only once it is committed, under this trace id.
    transaction.on_commit(
        partial(_queue_rules_for_submission, submission.pk, current_trace_id()), robust=True
    )
    return submission


def _queue_rules_for_submission(submission_id: int, trace_id: str | None) -> None:
    """On commit: hand the submission to the rules' worker. Never raises into the caller,
    whose submission is committed either way."""
    try:
        app.send_task(SUBMISSION_RULES_TASK, args=(submission_id, trace_id))
    except Exception:
        logger.exception("Could not queue submission %s for the rules", submission_id)
