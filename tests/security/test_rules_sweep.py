"""Threat: events that keep failing hold the rules' sweep for every organization.

Beat's sweep hands accepted events the rules are not done with to the rules again. Before, it
took the oldest 1,000 of all organizations and retried a failing event at every sweep, forever:
one organization's failing (or merely numerous) events filled every sweep and another
organization's lost hand-offs were never evaluated. Now a failure is recorded on its event
alone, the sweep takes the organizations in turn, a failing event waits out a growing delay
and is given up after HANDOFF_MAX_RETRIES, visibly, until an administrator hands it over again.

The failure here is real: a trigger makes PostgreSQL refuse A's evaluation records (as a full
disk or a broken audit table would), outside any action.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from dev.demo import create_demo_rules
from healix.admin.operations import waiting
from integrations.models import InboundEvent, InboundSource, InboundStatus
from plans.models import Plan
from rules import inbound
from rules.models import RuleEvaluation
from tests.fixtures.waiting import wait_until

SUBJECT = "aiEngineTimeSlot"
REFUSAL = "healix test: evaluation records of this organization are refused"


@pytest.fixture
def refused_evaluations(org, transactional_db):
    """PostgreSQL refuses every evaluation record of `org` (and of no other organization)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE FUNCTION test_refuse_evaluations() RETURNS trigger AS $$
            BEGIN
                IF NEW.organization_id = {org.pk} THEN
                    RAISE EXCEPTION '{REFUSAL}';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_refuse_evaluations BEFORE INSERT ON rules_ruleevaluation
                FOR EACH ROW EXECUTE FUNCTION test_refuse_evaluations();
            """
        )
    yield lift_refusal
    lift_refusal()


def lift_refusal() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER IF EXISTS test_refuse_evaluations ON rules_ruleevaluation;"
            "DROP FUNCTION IF EXISTS test_refuse_evaluations();"
        )


def lost_event(plan: Plan, slot: str, minutes_ago: int) -> InboundEvent:
    """An accepted event whose hand-off was lost (the process died after the commit)."""
    event = InboundEvent.objects.create(
        organization_id=plan.organization_id,
        subject=SUBJECT,
        source=InboundSource.NATS,
        status=InboundStatus.ACCEPTED,
        payload={"planId": str(plan.pk), "timeSlot": slot},
        payload_hash=f"{plan.pk}-{slot}",
        plan_ids=[plan.pk],
    )
    received = timezone.now() - timedelta(minutes=minutes_ago)
    InboundEvent.objects.filter(pk=event.pk).update(received_at=received)
    return event


def ready(event: InboundEvent) -> bool:
    return InboundEvent.objects.get(pk=event.pk).rules_done_at is not None


def failed(event: InboundEvent) -> bool:
    return REFUSAL in InboundEvent.objects.get(pk=event.pk).rules_error


def test_given_org_a_events_keep_failing_when_the_sweep_runs_then_org_b_is_served_every_time(
    refused_evaluations, celery_worker, template, plan, other_template, other_plan
):
    create_demo_rules(template)
    create_demo_rules(other_template)
    # Given five lost events of A, which fail, older than B's one lost event
    mine = [lost_event(plan, f"a{n}", minutes_ago=10) for n in range(5)]
    theirs = lost_event(other_plan, "b0", minutes_ago=5)
    # When a sweep takes three
    assert inbound.sweep_unfinished(60, limit=3) == 3
    # Then B's event is among them, and is evaluated and done
    wait_until(lambda: ready(theirs))
    assert RuleEvaluation.objects.filter(plan=other_plan).count() == 1
    # And each of A's two taken is not done, its failure recorded on it alone
    wait_until(lambda: sum(failed(event) for event in mine) == 2)
    tried = [InboundEvent.objects.get(pk=e.pk) for e in mine if failed(e)]
    assert all(e.rules_done_at is None and e.rules_retries == 1 for e in tried)
    assert all(e.rules_retry_at > timezone.now() for e in tried)
    # When B loses another event, and the sweep runs again at once
    again = lost_event(other_plan, "b1", minutes_ago=2)
    assert inbound.sweep_unfinished(60, limit=3) == 3
    # Then A's failed events wait out their delay, B is served again, and so are A's others
    wait_until(lambda: ready(again))
    wait_until(lambda: sum(failed(event) for event in mine) == 4)
    assert all(InboundEvent.objects.get(pk=e.pk).rules_retries == 1 for e in tried)


def test_given_an_event_that_keeps_failing_then_it_is_given_up_visibly_and_can_be_rerun(
    refused_evaluations,
    celery_worker,
    client,
    hrh_administrator,
    template,
    plan,
    other_template,
    other_plan,
):
    create_demo_rules(template)
    create_demo_rules(other_template)
    # Given a lost event of A that fails every time, and one of B
    mine = lost_event(plan, "a", minutes_ago=10)
    theirs = lost_event(other_plan, "b", minutes_ago=10)
    # When beat's sweeps come round for days (each past the event's delay)
    later = timezone.now() + timedelta(days=1)
    taken = [inbound.sweep_unfinished(60, now=later)]
    wait_until(lambda: ready(theirs) and failed(mine))
    for _sweep in range(inbound.HANDOFF_MAX_RETRIES + 2):
        later += timedelta(days=1)
        taken.append(inbound.sweep_unfinished(60, now=later))
    # Then A's event was handed over HANDOFF_MAX_RETRIES times (B's once) and then given up
    assert taken[0] == 2
    assert taken[1 : inbound.HANDOFF_MAX_RETRIES] == [1] * (inbound.HANDOFF_MAX_RETRIES - 1)
    assert taken[inbound.HANDOFF_MAX_RETRIES :] == [0, 0, 0]
    given_up = InboundEvent.objects.get(pk=mine.pk)
    assert (given_up.rules_done_at, given_up.rules_retries) == (None, inbound.HANDOFF_MAX_RETRIES)
    # And it is visible: counted in operations, listed and explained in the admin
    assert waiting(plan.organization_id).rules_given_up == {plan.organization_id: 1}
    assert waiting(other_plan.organization_id).rules_given_up == {}
    client.force_login(hrh_administrator)
    changelist = reverse("admin:integrations_inboundevent_changelist")
    listed = client.get(changelist, {"rules": "given_up"})
    assert [event.pk for event in listed.context["cl"].result_list] == [mine.pk]
    page = client.get(reverse("admin:integrations_inboundevent_change", args=[mine.pk]))
    assert REFUSAL in page.content.decode()
    # (The sweeps queued A's event once each; the worker, one task at a time in order, must
    # have run them all before the cause is fixed, or one of them would finish the event and
    # leave the administrator nothing to hand over: B's marker event, queued last, says so.)
    marker = lost_event(other_plan, "c", minutes_ago=0)
    inbound.queue_evaluation([marker.pk])
    wait_until(lambda: ready(marker))
    # When the cause is fixed and an administrator hands it to the rules again
    refused_evaluations()
    response = client.post(
        changelist, {"action": "hand_to_rules_again", "_selected_action": [mine.pk]}
    )
    assert response.status_code == 302
    # Then it is evaluated and done, its failure cleared
    wait_until(lambda: ready(mine))
    done = InboundEvent.objects.get(pk=mine.pk)
    assert (done.rules_retries, done.rules_error) == (0, "")
    assert RuleEvaluation.objects.filter(plan=plan).count() == 1
