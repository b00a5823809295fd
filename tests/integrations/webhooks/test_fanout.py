"""Fan-out: each event type and each choice delivers to exactly the integrations it should,
test-user events only where asked, payload conditions, and never across organizations.

Events come from the real services (plans/services/) as emit() stored them; fan_out() is
what the healix-webhooks consumer calls for them (its NATS side is tested in
test_webhook_e2e.py)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from events.models import OutboxEvent
from events.types import EventType
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.webhooks.fanout import fan_out, parse_event
from integrations.webhooks.services import ALL, ConditionSpec, update_integration
from plans import services
from tests.fixtures.domain import make_template, make_user
from tests.fixtures.webhooks import make_integration

pytestmark = pytest.mark.django_db

URL = "https://127.0.0.1/hook"


@pytest.fixture(autouse=True)
def _loopback(webhook_settings):
    pass


def fan_out_all() -> set[tuple[str, str]]:
    """Fan out every event stored so far; {(partner name, event type)} of the deliveries."""
    events = [parse_event(row.payload) for row in OutboxEvent.objects.order_by("id")]
    fan_out(events)
    return set(WebhookDelivery.objects.values_list("integration__partner_name", "event_type"))


@pytest.fixture
def second_template(org):
    return make_template(org, "other-app")


def test_plan_events_go_to_the_integrations_choosing_their_template(
    org, actor, patient, template, second_template
):
    # Given integrations choosing: this template, the other one, all, and nothing
    make_integration(
        org,
        URL,
        partner_name="this",
        subscriptions={EventType.PLAN_CREATED: [template], EventType.PLAN_UPDATED: [template]},
    )
    make_integration(
        org, URL, partner_name="that", subscriptions={EventType.PLAN_CREATED: [second_template]}
    )
    make_integration(
        org,
        URL,
        partner_name="all",
        subscriptions={EventType.PLAN_CREATED: ALL, EventType.PLAN_UPDATED: ALL},
    )
    make_integration(org, URL, partner_name="none")
    # When a plan of the template is created and updated
    plan = services.assign_plan(actor=actor, template=template, user=patient)
    services.update_plan(actor=actor, plan=plan, risk_status="high")
    # Then exactly these deliveries exist
    assert fan_out_all() == {
        ("this", "planCreated"),
        ("this", "planUpdated"),
        ("all", "planCreated"),
        ("all", "planUpdated"),
    }


def test_created_and_updated_are_chosen_separately(org, actor, patient, template):
    make_integration(
        org, URL, partner_name="created only", subscriptions={EventType.PLAN_CREATED: [template]}
    )
    make_integration(
        org, URL, partner_name="updated only", subscriptions={EventType.PLAN_UPDATED: [template]}
    )
    plan = services.assign_plan(actor=actor, template=template, user=patient)
    services.update_plan(actor=actor, plan=plan, risk_status="high")
    assert fan_out_all() == {("created only", "planCreated"), ("updated only", "planUpdated")}


def test_form_submitted_goes_to_the_chosen_forms_of_the_chosen_templates(
    org, actor, plan, template, second_template
):
    intake = template.forms.get(name="intake")
    same_name_elsewhere = second_template.forms.get(name="intake")
    make_integration(
        org, URL, partner_name="intake", subscriptions={EventType.FORM_SUBMITTED: [intake]}
    )
    make_integration(
        org,
        URL,
        partner_name="elsewhere",
        subscriptions={EventType.FORM_SUBMITTED: [same_name_elsewhere]},
    )
    make_integration(
        org,
        URL,
        partner_name="appointment",
        subscriptions={EventType.FORM_SUBMITTED: [template.forms.get(name="appointment")]},
    )
    make_integration(org, URL, partner_name="all", subscriptions={EventType.FORM_SUBMITTED: ALL})
    services.submit_form(actor=actor, assignment=plan.form_assignments.get(), data={"age": 40})
    assert fan_out_all() == {("intake", "formSubmitted"), ("all", "formSubmitted")}


def test_status_updates_go_to_the_chosen_work_queues(org, actor, plan, work_queue):
    from tests.fixtures.domain import make_work_queue

    other_queue = make_work_queue(org, "radiology")
    make_integration(
        org,
        URL,
        partner_name="triage",
        subscriptions={EventType.WORK_QUEUE_ITEM_STATUS_UPDATED: [work_queue]},
    )
    make_integration(
        org,
        URL,
        partner_name="radiology",
        subscriptions={EventType.WORK_QUEUE_ITEM_STATUS_UPDATED: [other_queue]},
    )
    make_integration(
        org, URL, partner_name="all", subscriptions={EventType.WORK_QUEUE_ITEM_STATUS_UPDATED: ALL}
    )
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="X")
    services.change_work_queue_item_status(actor=actor, item=item, status="done")
    assert fan_out_all() == {
        ("triage", "workQueueItemStatusUpdated"),
        ("all", "workQueueItemStatusUpdated"),
    }


def test_test_user_events_only_when_included(org, actor, template, nurse):
    tester = make_user(org, "tester", is_test=True)
    make_integration(org, URL, partner_name="default", subscriptions={EventType.PLAN_CREATED: ALL})
    make_integration(
        org,
        URL,
        partner_name="with tests",
        subscriptions={EventType.PLAN_CREATED: ALL},
        include_test_events=True,
    )
    services.assign_plan(actor=actor, template=template, user=tester)
    assert fan_out_all() == {("with tests", "planCreated")}


def test_inactive_integrations_receive_nothing(org, actor, patient, template):
    integration, _secret = make_integration(org, URL, subscriptions={EventType.PLAN_CREATED: ALL})
    update_integration(integration, is_active=False)
    services.assign_plan(actor=actor, template=template, user=patient)
    assert fan_out_all() == set()


def test_payload_condition_in_shorthand_syntax(org, actor, plan, work_queue):
    # Given an integration that only wants items reaching "done" with priority 3 or more
    make_integration(
        org,
        URL,
        partner_name="done, urgent",
        subscriptions={EventType.WORK_QUEUE_ITEM_STATUS_UPDATED: ALL},
        conditions=[
            ConditionSpec("status", "text", "=done"),
            ConditionSpec("priority", "number", ">=3"),
        ],
    )
    make_integration(
        org,
        URL,
        partner_name="not waiting",
        subscriptions={EventType.WORK_QUEUE_ITEM_STATUS_UPDATED: ALL},
        conditions=[ConditionSpec("status", "text", "notIn[waiting]")],
    )
    urgent = services.create_work_queue_item(
        actor=actor, queue=work_queue, plan=plan, title="A", priority=5
    )
    routine = services.create_work_queue_item(
        actor=actor, queue=work_queue, plan=plan, title="B", priority=1
    )
    services.change_work_queue_item_status(actor=actor, item=urgent, status="done")
    services.change_work_queue_item_status(actor=actor, item=routine, status="done")
    services.change_work_queue_item_status(actor=actor, item=routine, status="waiting")
    events = [parse_event(row.payload) for row in OutboxEvent.objects.order_by("id")]
    fan_out(events)
    # Then "done, urgent" got one (urgent -> done), "not waiting" two (both -> done)
    counts = {
        name: WebhookDelivery.objects.filter(integration__partner_name=name).count()
        for name in ("done, urgent", "not waiting")
    }
    assert counts == {"done, urgent": 1, "not waiting": 2}


def test_a_nested_info_field_can_be_a_condition(org, actor, plan):
    make_integration(
        org, URL, partner_name="older", subscriptions={EventType.FORM_SUBMITTED: ALL},
        conditions=[ConditionSpec("data.age", "number", "range[65,120]")],
    )  # fmt: skip
    services.submit_form(actor=actor, assignment=plan.form_assignments.get(), data={"age": 40})
    assert fan_out_all() == set()


def test_a_bad_condition_is_refused_when_saved(org):
    with pytest.raises(ValidationError) as refused:
        make_integration(
            org,
            URL,
            subscriptions={EventType.WORK_QUEUE_ITEM_STATUS_UPDATED: ALL},
            conditions=[ConditionSpec("priority", "number", ">>3")],
        )
    assert "cell" in refused.value.message_dict


def test_fan_out_twice_creates_each_delivery_once(org, actor, patient, template):
    make_integration(org, URL, subscriptions={EventType.PLAN_CREATED: ALL})
    services.assign_plan(actor=actor, template=template, user=patient)
    fan_out_all()
    fan_out_all()
    assert WebhookDelivery.objects.count() == 1


def test_one_organizations_events_never_reach_anothers_integrations(
    org, other_org, actor, patient, template, other_plan, other_work_queue
):
    # Given the other organization's integration wanting everything, test events included
    make_integration(
        other_org, URL, partner_name="other's", subscriptions=dict.fromkeys(EventType.values, ALL),
        include_test_events=True,
    )  # fmt: skip
    make_integration(org, URL, partner_name="mine", subscriptions={EventType.PLAN_CREATED: ALL})
    # When hrh produces events of every type
    plan = services.assign_plan(actor=actor, template=template, user=patient)
    services.update_plan(actor=actor, plan=plan, risk_status="high")
    services.submit_form(actor=actor, assignment=plan.form_assignments.get(), data={"age": 40})
    # Then the other organization's integration receives only its own plan's event
    deliveries = fan_out_all()
    assert ("mine", "planCreated") in deliveries
    other_deliveries = WebhookDelivery.objects.filter(integration__partner_name="other's")
    assert {d.organization_id for d in other_deliveries} == {other_org.pk}
    assert {parse_event(d.payload).org_id for d in other_deliveries} == {"other"}


def test_choices_of_another_organization_are_refused(org, other_template):
    # In validation ...
    with pytest.raises(ValidationError):
        make_integration(org, URL, subscriptions={EventType.PLAN_CREATED: [other_template]})
    # ... and by PostgreSQL itself
    integration, _secret = make_integration(org, URL)
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookSubscription.objects.create(
            organization=org, integration=integration, event_type="planCreated",
            template=other_template,
        )  # fmt: skip


def test_the_consumers_cache_sees_every_change_to_an_integration(org, actor, patient, template):
    # Given the consumer's cached fan-out, warmed with an integration wanting nothing
    integration, _secret = make_integration(org, URL, partner_name="late")

    def deliveries_after_one_plan() -> int:
        before = OutboxEvent.objects.count()
        services.assign_plan(actor=actor, template=template, user=patient)
        events = [parse_event(row.payload) for row in OutboxEvent.objects.order_by("id")[before:]]
        fan_out(events, cache=True)
        return WebhookDelivery.objects.count()

    assert deliveries_after_one_plan() == 0
    # When it starts wanting plan created, then is deactivated
    update_integration(integration, subscriptions={EventType.PLAN_CREATED: ALL})
    assert deliveries_after_one_plan() == 1
    update_integration(integration, is_active=False)
    assert deliveries_after_one_plan() == 1
    # And a new integration is seen at once too
    make_integration(org, URL, partner_name="new", subscriptions={EventType.PLAN_CREATED: ALL})
    assert deliveries_after_one_plan() == 2
