"""The demo organization `hrh` that `make run` loads, so a new user has something to look at.

The builders are also what the test fixtures use, so the demo is exercised by every run of the
suite. Run-time rows are made through plans.services, like any other change.
"""

import json

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from healix.models import Organization, User, UserType
from integrations.models import (
    SUBSCRIPTION_SCOPES,
    HttpIntegration,
    IntegrationDefinition,
    IntegrationField,
    IntegrationFieldType,
)
from integrations.webhooks.services import ALL, set_choices
from integrations.webhooks.signing import new_secret
from plans import services
from portal import services as portal_services
from portal.models import Partner
from templates.models import (
    AssignMode,
    CustomField,
    FieldType,
    Form,
    FormAssignmentDefinition,
    FormField,
    PlanTemplate,
    Role,
    ServiceLocation,
    WorkQueue,
    WorkQueueStatus,
)

__all__ = [
    "DEMO_ORG_SLUG",
    "DEMO_RECEIVER_NAME",
    "create_demo_rules",
    "create_demo_template",
    "create_demo_work_queue",
    "ensure_demo_integration",
    "load_demo",
]

# The seed's example: the appointment form shows the time slot the scheduling engine posted.
TIME_SLOT_PREFILL = 'lastStr("integration.aiEngineTimeSlot.timeSlot")'

DEMO_ORG_SLUG = "hrh"
# The demo's HTTP integration; `manage.py demo_webhook_receiver` (the Procfile's receiver)
# points its URL at itself when it starts.
DEMO_RECEIVER_NAME = "Demo receiver"
DEMO_RECEIVER_PLACEHOLDER_URL = "http://127.0.0.1:8099/webhooks"


def ensure_demo_integration(organization: Organization) -> HttpIntegration:
    """The demo organization's HTTP integration wanting every event, test users' included.
    The row is made directly, not through the SSRF-checked create_integration(): its loopback
    URL is only reachable where HEALIX_WEBHOOK_ALLOWED_NETWORKS allows loopback (`make run`
    does), and every delivery is checked again when it is sent. Its subscriptions are the
    services' own."""
    integration, created = HttpIntegration.objects.get_or_create(
        organization=organization,
        partner_name=DEMO_RECEIVER_NAME,
        defaults={
            "url": DEMO_RECEIVER_PLACEHOLDER_URL,
            "secret": new_secret(),
            "include_test_events": True,
        },
    )
    if created:
        set_choices(integration, subscriptions=dict.fromkeys(SUBSCRIPTION_SCOPES, ALL))
    return integration


def create_demo_template(organization: Organization, name: str = "sAI-ERComp") -> PlanTemplate:
    """Patient (primary) and Nurse roles; an intake form given at once, an appointment form
    given by rule; two custom fields; the integration aiEngineTimeSlot."""
    template = PlanTemplate.objects.create(
        organization=organization,
        name=name,
        title="ER companion",
        description="Follows a patient after an emergency-room visit.",
    )
    patient = Role.objects.create(
        template=template,
        role_id="Patient",
        name="Patient",
        description="The person the plan is for.",
        assignable_user_types=[UserType.USER],
        is_primary=True,
    )
    nurse = Role.objects.create(
        template=template,
        role_id="Nurse",
        name="Nurse",
        description="Follows up with the patient.",
        assignable_user_types=[UserType.STAFF],
    )
    intake = Form.objects.create(template=template, name="intake", title="Intake")
    for position, (field_name, field_type, required, choices) in enumerate(
        [
            ("age", FieldType.NUMBER, True, []),
            ("symptoms", FieldType.CHOICES, False, ["fever", "cough", "pain"]),
            ("notes", FieldType.TEXT, False, []),
        ]
    ):
        FormField.objects.create(
            form=intake,
            name=field_name,
            field_type=field_type,
            required=required,
            choices=choices,
            position=position,
        )
    appointment = Form.objects.create(template=template, name="appointment", title="Appointment")
    FormField.objects.create(
        form=appointment, name="slot", field_type=FieldType.TEXT, required=True, position=0
    )
    FormField.objects.create(
        form=appointment, name="confirmed", field_type=FieldType.BOOLEAN, position=1
    )
    FormAssignmentDefinition.objects.create(
        template=template, form=intake, role=patient, assign_mode=AssignMode.AT_ONCE
    )
    FormAssignmentDefinition.objects.create(
        template=template, form=appointment, role=patient, assign_mode=AssignMode.BY_RULE
    )
    FormAssignmentDefinition.objects.create(
        template=template, form=intake, role=nurse, assign_mode=AssignMode.BY_RULE
    )
    CustomField.objects.create(template=template, name="score", field_type=FieldType.NUMBER)
    CustomField.objects.create(
        template=template,
        name="triage",
        field_type=FieldType.CHOICE,
        choices=["green", "amber", "red"],
    )
    # The seed's example: a scheduling system posts a time slot for the patient.
    time_slot = IntegrationDefinition.objects.create(
        template=template,
        subject="aiEngineTimeSlot",
        description="A time slot proposed by the AI scheduling engine.",
    )
    IntegrationField.objects.create(
        definition=time_slot, name="timeSlot", field_type=IntegrationFieldType.STRING, required=True
    )
    return template


def create_demo_rules(template: PlanTemplate) -> None:
    """The seed's example rule: when aiEngineTimeSlot posts a slot, give the patient the
    appointment form prefilled with it, and mark the plan's risk status "scheduled"."""
    from rules.models import ActionKind, Rule, RuleAction, RuleColumn, Trigger

    appointment = template.form_assignment_definitions.get(
        form__name="appointment", role__role_id="Patient"
    )
    appointment.default_calculations = {"slot": TIME_SLOT_PREFILL}
    appointment.save(update_fields=["default_calculations"])
    RuleColumn.objects.create(
        template=template,
        position=0,
        name="timeSlot",
        reference="integration.aiEngineTimeSlot.timeSlot",
    )
    RuleColumn.objects.create(
        template=template, position=1, name="riskStatus", reference="plan.riskStatus"
    )
    rule = Rule.objects.create(
        template=template,
        position=0,
        name="Offer the appointment",
        trigger=Trigger.INTEGRATION,
        subject="aiEngineTimeSlot",
        # Any slot, but not again once the plan is scheduled (a later slot is left to staff).
        cells={"riskStatus": "!=scheduled"},  # timeSlot: empty, any slot
    )
    RuleAction.objects.create(
        rule=rule, position=0, kind=ActionKind.ASSIGN_FORM, form_assignment=appointment
    )
    RuleAction.objects.create(
        rule=rule,
        position=1,
        kind=ActionKind.SET_DATA_POINT,
        target="plan.riskStatus",
        expression='"scheduled"',
    )


def create_demo_work_queue(organization: Organization, name: str = "triage") -> WorkQueue:
    """Three statuses in order, and two service windows."""
    queue = WorkQueue.objects.create(
        organization=organization, name=name, description="Walk-in triage."
    )
    statuses = [
        ("waiting", "Waiting", "Call back to waiting"),
        ("in_service", "In service", "Start service"),
        ("done", "Done", "Finish"),
    ]
    for step, (status_id, label, change_to_label) in enumerate(statuses, start=1):
        WorkQueueStatus.objects.create(
            queue=queue,
            status_id=status_id,
            label=label,
            change_to_label=change_to_label,
            step_number=step,
        )
    ServiceLocation.objects.create(queue=queue, name="Window 1")
    ServiceLocation.objects.create(queue=queue, name="Window 2")
    return queue


def _user(organization: Organization, username: str, user_type: str, **extra) -> User:
    # Demo people log in only if an administrator gives them a password.
    user = User(username=username, organization=organization, user_type=user_type, **extra)
    user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def load_demo() -> str | None:
    """Create the demo organization once; returns a read-only partner portal link (its path)
    for the demo's partner, or None when the organization is already there.

    Its administrator, hrh-admin, is the acting user of the demo's run-time changes.
    """
    if Organization.objects.filter(slug=DEMO_ORG_SLUG).exists():
        return None
    hrh = Organization.objects.create(slug=DEMO_ORG_SLUG, name="Healix Regional Hospital")
    content_manager = _user(
        hrh, "hrh-content", UserType.ADMIN, is_staff=True, first_name="Carla", last_name="Content"
    )
    administrator = _user(
        hrh, "hrh-admin", UserType.ADMIN, is_staff=True, first_name="Adam", last_name="Admin"
    )
    for user, group_name in [
        (content_manager, "Content managers"),
        (administrator, "Administrators"),
    ]:
        group = Group.objects.filter(name=group_name).first()
        if group is not None:
            user.groups.add(group)
    actor = administrator
    nurse = _user(hrh, "nina.nurse", UserType.STAFF, first_name="Nina", last_name="Nurse")
    jones = _user(hrh, "pat.jones", UserType.USER, first_name="Pat", last_name="Jones")
    tester = _user(hrh, "test.patient", UserType.USER, is_test=True, first_name="Test")

    template = create_demo_template(hrh)
    create_demo_rules(template)
    queue = create_demo_work_queue(hrh)
    # Before the demo's events: the webhook consumer matches them against it.
    integration = ensure_demo_integration(hrh)
    # The receiver is the demo's partner: its webhook and the scheduling engine's subject.
    partner = Partner.objects.create(organization=hrh, name=integration.partner_name)
    portal_services.set_members(partner, integrations=[integration], subjects=["aiEngineTimeSlot"])
    first = services.assign_plan(
        actor=actor,
        template=template,
        user=jones,
        role_assignments={"Nurse": nurse},
        title="Pat Jones, ER follow-up",
        start_date=timezone.now(),
    )
    services.assign_plan(
        actor=actor,
        template=template,
        user=tester,
        role_assignments={"Nurse": nurse},
        title="Test patient",
    )
    intake = first.form_assignments.get(definition__form__name="intake")
    services.submit_form(
        actor=actor, assignment=intake, data={"age": 54, "symptoms": ["pain"], "notes": "Knee"}
    )
    item = services.create_work_queue_item(
        actor=actor,
        queue=queue,
        plan=first,
        title="Pat Jones: knee X-ray",
        service_location=queue.service_locations.get(name="Window 1"),
    )
    services.change_work_queue_item_status(actor=actor, item=item, status="in_service")
    # The seed's example once, so the admin shows a rule that fired: the scheduling engine
    # posts a slot for Pat Jones, and the rules give the appointment form (the worker, handed
    # the same event after this commit, finds it already evaluated).
    from integrations.inbound.services import ingest
    from rules.services import evaluate_inbound_events

    slot = json.dumps({"planId": str(first.pk), "timeSlot": "2026-12-01T09:30"})
    evaluate_inbound_events([ingest(hrh, "aiEngineTimeSlot", slot, "rest").event_id])
    return portal_services.issue_session(partner, access="read-only", issued_by=actor).path
