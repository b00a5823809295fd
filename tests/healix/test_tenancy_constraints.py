"""Every cross-reference stays inside one organization: in model validation and in PostgreSQL.

The composite keys are checked generically: for every foreign key between tenant-owned models,
a row of `hrh` is pointed at the matching row of `other`, bypassing Django's validation with a
queryset update, and PostgreSQL must refuse it.
"""

from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction

from dev.demo import create_demo_rules
from events.types import EventType
from healix.db import constraint_name
from healix.models import Organization, OrganizationOwned, User, UserType
from integrations.models import (
    HttpIntegration,
    HttpIntegrationEvent,
    InboundEvent,
    IntegrationDefinition,
    WebhookDelivery,
    WebhookSubscription,
)
from integrations.webhooks.services import create_integration, rotate_secret, send_test_event
from plans import services
from plans.models import (
    FormAssignment,
    FormSubmission,
    Plan,
    RoleAssignment,
    WorkQueueItem,
    WorkQueueItemStatusChange,
)
from portal.models import Partner, PartnerSubject, PortalSession
from portal.services import issue_session, set_members
from rules.models import Rule, RuleAction, RuleColumn, RuleEvaluation
from rules.services import evaluate_inbound_events
from templates.models import (
    CustomField,
    Form,
    FormAssignmentDefinition,
    FormField,
    PlanTemplate,
    Role,
    WorkQueue,
    WorkQueueStatus,
)
from tests.fixtures.domain import make_template, make_user, make_work_queue

pytestmark = pytest.mark.django_db

# Who acted is not tenant data: a platform superuser (no organization) may act anywhere.
ACTOR_FIELDS = {"created_by", "assigned_by", "submitted_by", "changed_by"}


def tenant_foreign_keys() -> list[tuple[type[models.Model], str]]:
    """(model, field) for every foreign key from a tenant row to another tenant row or user."""
    return [
        (model, name) for model, name, scope in scoped_foreign_keys() if scope == "organization"
    ]


def scoped_foreign_keys() -> list[tuple[type[models.Model], str, str]]:
    """(model, field, scope) for every foreign key from a tenant row to a row that belongs to
    an organization: directly (scope "organization"), or through a required parent such as a
    work queue status's queue (scope "queue", which the referencing row must carry too)."""
    found = []
    for model in apps.get_models():
        if not issubclass(model, OrganizationOwned):
            continue
        for field in model._meta.concrete_fields:
            if not field.is_relation or field.name in ACTOR_FIELDS | {"organization"}:
                continue
            target = field.related_model
            if issubclass(target, OrganizationOwned) or target is User:
                found.append((model, field.name, "organization"))
                continue
            parents = [
                parent.name
                for parent in target._meta.concrete_fields
                if parent.is_relation
                and not parent.null
                and issubclass(parent.related_model, OrganizationOwned)
            ]
            assert parents, f"{model.__name__}.{field.name} points at a row of no organization"
            found.append((model, field.name, parents[0]))
    return found


def build_world(organization: Organization) -> dict[Any, models.Model]:
    """One row of every tenant model in `organization`, all linked together; (model, field)
    names a row of the model for that field where the model's own row would not do."""
    actor = make_user(organization, f"{organization.slug}-actor", UserType.ADMIN)
    patient = make_user(organization, f"{organization.slug}-patient", UserType.USER)
    template = make_template(organization)
    queue = make_work_queue(organization)
    plan = services.assign_plan(actor=actor, template=template, user=patient)
    assignment = plan.form_assignments.get()
    services.submit_form(actor=actor, assignment=assignment, data={"age": 30})
    item = services.create_work_queue_item(actor=actor, queue=queue, plan=plan, title="Visit")
    services.change_work_queue_item_status(actor=actor, item=item, status="done")
    integration, _secret = create_integration(
        organization,
        partner_name="Acme",
        url="https://93.184.216.34/hook",  # a public address: no allow-list needed
        subscriptions={
            EventType.PLAN_CREATED: [template],
            EventType.FORM_SUBMITTED: [template.forms.get(name="intake")],
            EventType.WORK_QUEUE_ITEM_STATUS_UPDATED: [queue],
        },
    )
    rotate_secret(integration)
    partner = Partner.objects.create(organization=organization, name="Acme")
    set_members(partner, integrations=[integration], subjects=["aiEngineTimeSlot"])
    create_demo_rules(template)
    rule = template.rules.get()
    RuleAction.objects.create(
        rule=rule, position=2, kind="change_work_queue_item_status", work_queue=queue, status="done"
    )
    event = InboundEvent.objects.create(
        organization=organization,
        subject="aiEngineTimeSlot",
        source="rest",
        status="accepted",
        payload={"timeSlot": "09:30"},
        plan_ids=[plan.pk],
    )
    evaluate_inbound_events([event.pk])
    return {
        User: patient,
        PlanTemplate: template,
        Role: template.roles.get(is_primary=True),
        Form: template.forms.get(name="intake"),
        CustomField: template.custom_fields.first(),
        IntegrationDefinition: template.integrations.first(),
        FormAssignmentDefinition: assignment.definition,
        WorkQueue: queue,
        Plan: plan,
        RoleAssignment: plan.role_assignments.first(),
        FormAssignment: assignment,
        FormSubmission: assignment.submission,
        WorkQueueItem: item,
        WorkQueueItemStatusChange: item.status_changes.last(),
        HttpIntegration: integration,
        WebhookSubscription: integration.subscriptions.get(event_type=EventType.PLAN_CREATED),
        # A subscription names one scope: the row whose scope a test points elsewhere.
        (WebhookSubscription, "form"): integration.subscriptions.get(
            event_type=EventType.FORM_SUBMITTED
        ),
        (WebhookSubscription, "work_queue"): integration.subscriptions.get(
            event_type=EventType.WORK_QUEUE_ITEM_STATUS_UPDATED
        ),
        HttpIntegrationEvent: integration.events.get(),
        WebhookDelivery: send_test_event(integration),
        RuleColumn: template.rule_columns.first(),
        Rule: rule,
        RuleAction: rule.actions.get(position=2),
        RuleEvaluation: RuleEvaluation.objects.get(plan=plan),
        Partner: partner,
        PortalSession: issue_session(partner).session,
        PartnerSubject: partner.subjects.get(),
    }


def test_every_scoped_reference_has_its_composite_key():
    # Given every foreign key between rows that belong to an organization
    missing = []
    for model, field_name, scope in scoped_foreign_keys():
        field = model._meta.get_field(field_name)
        scope_column = model._meta.get_field(scope).column
        name = constraint_name(model._meta.db_table, field.column, scope_column)
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
        # Then each has a composite key (scope, field) in PostgreSQL
        if name not in constraints or not constraints[name]["foreign_key"]:
            missing.append(f"{model.__name__}.{field_name} (scope {scope})")
    assert missing == []


def test_the_generic_check_covers_every_tenant_reference():
    # The list below is what the migrations protect; a new foreign key must join it.
    names = sorted(f"{model.__name__}.{field}" for model, field in tenant_foreign_keys())
    assert names == [
        "CustomField.template",
        "Form.template",
        "FormAssignment.definition",
        "FormAssignment.plan",
        "FormAssignment.user",
        "FormAssignmentDefinition.form",
        "FormAssignmentDefinition.role",
        "FormAssignmentDefinition.template",
        "FormSubmission.assignment",
        "HttpIntegration.partner",
        "HttpIntegrationEvent.integration",
        "IntegrationDefinition.template",
        "PartnerSubject.partner",
        "Plan.template",
        "Plan.user",
        "PortalSession.partner",
        "Role.template",
        "RoleAssignment.plan",
        "RoleAssignment.role",
        "RoleAssignment.user",
        "Rule.template",
        "RuleAction.form_assignment",
        "RuleAction.rule",
        "RuleAction.work_queue",
        "RuleColumn.template",
        "RuleEvaluation.plan",
        "RuleEvaluation.template",
        "WebhookDelivery.integration",
        "WebhookSubscription.form",
        "WebhookSubscription.integration",
        "WebhookSubscription.template",
        "WebhookSubscription.work_queue",
        "WorkQueueItem.plan",
        "WorkQueueItem.queue",
        "WorkQueueItemStatusChange.item",
        "WorkQueueItemStatusChange.queue",
    ]


@pytest.mark.parametrize(
    ("model", "field_name"),
    tenant_foreign_keys(),
    ids=lambda value: getattr(value, "__name__", value),
)
def test_postgresql_refuses_a_reference_into_another_organization(
    org, other_org, model, field_name
):
    # Given the same world in two organizations
    ours, theirs = build_world(org), build_world(other_org)
    row = ours.get((model, field_name), ours[model])
    foreign = theirs[model._meta.get_field(field_name).related_model]
    # Then the composite key exists in the database
    field = model._meta.get_field(field_name)
    name = constraint_name(model._meta.db_table, field.column, "organization_id")
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    assert constraints[name]["foreign_key"] == (
        field.related_model._meta.db_table,
        "organization_id",
    )
    # When a row of hrh is pointed at the other organization's row, skipping validation
    # Then PostgreSQL refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=row.pk).update(**{field_name: foreign})


@pytest.mark.parametrize(
    ("model", "field_name"),
    [(model, name) for model, name in tenant_foreign_keys() if model is not User],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_model_validation_names_the_foreign_field(org, other_org, model, field_name):
    ours, theirs = build_world(org), build_world(other_org)
    row = ours.get((model, field_name), ours[model])
    setattr(row, field_name, theirs[model._meta.get_field(field_name).related_model])
    with pytest.raises(ValidationError) as excinfo:
        row.clean()
    assert excinfo.value.message_dict[field_name][0].endswith("belongs to another organization.")


def test_an_item_status_must_be_of_its_own_queue(org):
    # Given an item of the triage queue and another queue of the same organization
    world = build_world(org)
    item = world[WorkQueueItem]
    lab = make_work_queue(org, name="lab")
    # When its status or service location is set to the lab queue's, bypassing the service
    # Then PostgreSQL refuses both
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkQueueItem.objects.filter(pk=item.pk).update(status=lab.statuses.first())
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkQueueItem.objects.filter(pk=item.pk).update(
            service_location=lab.service_locations.first()
        )
    # And a status change of the item cannot name the lab queue's statuses either
    change = item.status_changes.last()
    for field_name in ("old_status", "new_status"):
        with pytest.raises(IntegrityError), transaction.atomic():
            WorkQueueItemStatusChange.objects.filter(pk=change.pk).update(
                **{field_name: lab.statuses.first()}
            )


def test_a_form_assignment_definition_stays_inside_its_template(org):
    template = make_template(org)
    second = make_template(org, name="second")
    definition = template.form_assignment_definitions.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        FormAssignmentDefinition.objects.filter(pk=definition.pk).update(form=second.forms.first())
    definition.role = second.roles.first()
    with pytest.raises(ValidationError) as excinfo:
        definition.clean()
    assert excinfo.value.message_dict["role"] == ["The role belongs to another template."]


def test_template_constraints(org):
    template = make_template(org)
    with pytest.raises(IntegrityError), transaction.atomic():
        Role.objects.create(template=template, role_id="Doctor", name="Doctor", is_primary=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Role.objects.create(template=template, role_id="Patient", name="Duplicate")
    with pytest.raises(IntegrityError), transaction.atomic():
        Role.objects.create(template=template, role_id="has space", name="Bad")
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanTemplate.objects.create(organization=org, name=template.name)
    form = template.forms.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        FormField.objects.create(form=form, name="pick", field_type="choice", choices=[])
    with pytest.raises(IntegrityError), transaction.atomic():
        FormField.objects.create(form=form, name="plain", field_type="text", choices=["a"])
    with pytest.raises(IntegrityError), transaction.atomic():
        FormField.objects.create(form=form, name="odd", field_type="colour")


def test_choice_field_validation_messages(org):
    template = make_template(org)
    field = FormField(form=template.forms.first(), name="pick", field_type="choice")
    with pytest.raises(ValidationError) as excinfo:
        field.full_clean()
    assert excinfo.value.message_dict["choices"] == ["A choice field needs at least one value."]


def test_work_queue_constraints(org):
    queue = make_work_queue(org)
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkQueueStatus.objects.create(queue=queue, status_id="waiting", label="x", step_number=9)
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkQueueStatus.objects.create(queue=queue, status_id="new", label="x", step_number=1)


def test_ticket_numbers_are_unique_per_queue(org):
    world = build_world(org)
    item = world[WorkQueueItem]
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkQueueItem.objects.create(
            organization=org,
            queue=item.queue,
            plan=item.plan,
            title="Copy",
            ticket_number=item.ticket_number,
            status=item.status,
        )


def test_users_belong_to_an_organization_unless_superuser(org):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="nobody")
    with pytest.raises(ValidationError) as excinfo:
        User(username="nobody").clean()
    assert "organization" in excinfo.value.message_dict
    assert User.objects.create_superuser("root", password="x").organization is None


def test_organization_slug_is_a_subject_token(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.create(slug="h.r", name="Dotted")
    with pytest.raises(ValidationError):
        Organization(slug="HRH*", name="Bad").full_clean()
