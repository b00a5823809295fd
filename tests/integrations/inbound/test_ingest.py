"""integrations.ingest(): first message only, routing, validation, stored rejections."""

import json
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from integrations.inbound.services import Outcome, canonical_hash, ingest, rerun
from integrations.models import InboundEvent, InboundSource, InboundStatus, IntegrationField
from plans import services
from plans.models import PlanStatus
from rules import inbound
from tests.fixtures.broker import both_brokers
from tests.fixtures.domain import make_user
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.django_db

SUBJECT = "aiEngineTimeSlot"


def send(org, body, subject=SUBJECT, source=InboundSource.REST):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return ingest(org, subject, data, source)


def test_the_same_data_in_any_key_order_and_spacing_is_one_event(org, plan):
    # Given one payload written three ways
    first = json.dumps({"planId": str(plan.pk), "timeSlot": "2026-01-05T10:00"})
    reordered = json.dumps({"timeSlot": "2026-01-05T10:00", "planId": str(plan.pk)})
    spaced = f'{{ "timeSlot" :  "2026-01-05T10:00",\n "planId": "{plan.pk}" }}'
    # When each arrives, over REST and NATS
    results = [
        send(org, first),
        send(org, reordered, source=InboundSource.NATS),
        send(org, spaced),
    ]
    # Then the first is accepted and the others are counted on it
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    event = InboundEvent.objects.get()
    assert results[1].duplicate_of == results[2].duplicate_of == event.pk == results[0].event_id
    assert event.duplicate_count == 2
    assert event.last_seen_at is not None
    assert event.plan_ids == [plan.pk]
    assert event.payload_hash == canonical_hash(json.loads(first))
    assert results[1].answer() == {
        "id": str(event.pk),
        "status": "duplicate",
        "duplicateOf": str(event.pk),
    }
    assert results[0].answer() == {"id": str(event.pk), "status": "accepted", "duplicateOf": None}


def test_canonical_hash_ignores_key_order_but_not_values():
    assert canonical_hash({"a": 1, "b": [1, 2]}) == canonical_hash({"b": [1, 2], "a": 1})
    assert canonical_hash({"a": 1.0}) == canonical_hash({"a": 1})  # RFC 8785 numbers
    assert canonical_hash({"a": [1, 2]}) != canonical_hash({"a": [2, 1]})


def test_an_upper_case_plan_id_is_the_same_data(org, plan):
    # Given the same plan named in lower and in upper case
    lower = send(org, {"planId": str(plan.pk), "timeSlot": "9:00"})
    upper = send(org, {"planId": str(plan.pk).upper(), "timeSlot": "9:00"})
    # Then the second is a duplicate of the first, not a second event
    assert (lower.outcome, upper.outcome) == (Outcome.ACCEPTED, Outcome.DUPLICATE)
    assert InboundEvent.objects.filter(status="accepted").count() == 1


def test_a_rejected_message_does_not_block_a_later_valid_copy(org, template, plan):
    # Given the definition lacks a field the partner sends
    payload = {"planId": str(plan.pk), "timeSlot": "10:00", "room": "B12"}
    rejected = send(org, payload)
    assert rejected.outcome == Outcome.REJECTED
    assert rejected.problems[0].pointer == "#/room"
    # When the definition is fixed and the same data arrives again
    IntegrationField.objects.create(
        definition=template.integrations.get(), name="room", field_type="string", position=1
    )
    again = send(org, payload)
    # Then the new copy is accepted; the rejection stays on record
    assert again.outcome == Outcome.ACCEPTED
    statuses = sorted(InboundEvent.objects.values_list("status", flat=True))
    assert statuses == [InboundStatus.ACCEPTED, InboundStatus.REJECTED]


def test_rerun_accepts_a_rejected_event_once_its_definition_is_fixed(org, template, plan):
    payload = {"planId": str(plan.pk), "timeSlot": "10:00", "room": "B12"}
    event = InboundEvent.objects.get(pk=send(org, payload).event_id)
    IntegrationField.objects.create(
        definition=template.integrations.get(), name="room", field_type="string", position=1
    )
    # When it is re-run
    result = rerun(event)
    # Then the same row is now the accepted event, routed to the plan
    event.refresh_from_db()
    assert (result.outcome, event.status, event.errors) == (Outcome.ACCEPTED, "accepted", [])
    assert event.plan_ids == [plan.pk]
    # And a re-run copy of data accepted meanwhile counts as a duplicate, not a second event
    later = InboundEvent.objects.get(
        pk=send(org, {**payload, "timeSlot": "11:00", "room": 7}).event_id
    )
    send(org, {**payload, "timeSlot": "11:00", "room": "7"})
    assert rerun_outcome(later) == Outcome.DUPLICATE
    assert InboundEvent.objects.filter(status="accepted").count() == 2


def test_rerun_racing_an_accepted_copy_counts_as_its_duplicate(org, template, plan, monkeypatch):
    # Given a rejected event whose data is accepted by another copy right after rerun() looked
    payload = {"planId": str(plan.pk), "timeSlot": "10:00", "room": "B12"}
    event = InboundEvent.objects.get(pk=send(org, payload).event_id)
    IntegrationField.objects.create(
        definition=template.integrations.get(), name="room", field_type="string", position=1
    )
    accepted = send(org, payload)
    from integrations.inbound import services

    real_count = services._count_on_first_copy
    calls = []

    def count_too_early(event, digest):
        calls.append(digest)
        return None if len(calls) == 1 else real_count(event, digest)

    monkeypatch.setattr(services, "_count_on_first_copy", count_too_early)
    # When it is re-run
    result = rerun(event)
    # Then the unique index catches it: a duplicate of the accepted copy, no error
    assert (result.outcome, result.duplicate_of) == (Outcome.DUPLICATE, accepted.event_id)
    event.refresh_from_db()
    assert event.status == "rejected"
    assert InboundEvent.objects.filter(status="accepted").count() == 1


def rerun_outcome(event):
    # The stored payload had room 7 (a number); make it match the accepted copy's data.
    event.payload["room"] = "7"
    event.save()
    return rerun(event).outcome


@pytest.mark.parametrize(
    ("body", "title", "pointer", "detail"),
    [
        (b"{not json", "Malformed JSON", "#", "Not valid JSON"),
        (b"\xff\xfe", "Malformed JSON", "#", "the bytes are not UTF-8"),
        ('{"a": 1, "a": 2}', "Malformed JSON", "#", "appears more than once"),
        ('{"a": NaN}', "Malformed JSON", "#", "NaN is not JSON"),
        ("[1, 2]", "Invalid payload", "#", "must be a JSON object"),
        ('{"timeSlot": "x"}', "Invalid payload", "#", "give planId and/or userId"),
        ('{"planId": "nope", "timeSlot": "x"}', "Invalid payload", "#/planId", "Expected a UUID"),
        ('{"planId": 7, "timeSlot": "x"}', "Invalid payload", "#/planId", "Expected a UUID"),
        ('{"planId": "%(plan)s", "timeSlot": "a\\u0000b"}', "Invalid payload", "#", "U+0000"),
    ],
)
def test_each_bad_input_is_stored_rejected_with_its_reason(org, plan, body, title, pointer, detail):
    if isinstance(body, str):
        body = body % {"plan": plan.pk}
    # When it arrives
    result = send(org, body)
    # Then it is stored as rejected, with the reason at its pointer
    assert result.rejection.title == title
    event = InboundEvent.objects.get(pk=result.event_id)
    assert event.status == InboundStatus.REJECTED
    assert event.errors[0]["pointer"] == pointer
    assert detail in event.errors[0]["detail"]
    assert event.payload is not None or event.raw_body != "" or body == b""


def test_schema_violations_name_every_failing_field(org, template, plan):
    definition = template.integrations.get()
    IntegrationField.objects.create(definition=definition, name="when", field_type="date")
    IntegrationField.objects.create(definition=definition, name="count", field_type="integer")
    result = send(org, {"planId": str(plan.pk), "when": "2026-02-30", "count": 1.5, "x": 1})
    assert result.rejection.status == 400
    assert [p.pointer for p in result.problems] == ["#/count", "#/timeSlot", "#/when", "#/x"]
    assert result.problems[1].detail == "This field is required."


def test_unknown_subject_and_payload_too_large(org, plan, settings):
    unknown = send(org, {"planId": str(plan.pk)}, subject="noSuchSubject")
    assert (unknown.rejection.status, unknown.rejection.title) == (404, "Unknown subject")
    settings.HEALIX_INBOUND_MAX_BYTES = 100
    big = send(org, {"planId": str(plan.pk), "timeSlot": "x" * 200})
    assert big.rejection.status == 413
    stored = InboundEvent.objects.get(pk=big.event_id)
    assert stored.status == InboundStatus.REJECTED and stored.raw_body.startswith('{"planId"')


def test_user_id_targets_every_open_plan_of_that_person_listening(org, actor, template, patient):
    # Given two open plans and one closed plan of the patient, and one of another person
    open_plans = [services.assign_plan(actor=actor, template=template, user=patient) for _ in "ab"]
    closed = services.assign_plan(actor=actor, template=template, user=patient)
    services.update_plan(actor=actor, plan=closed, status=PlanStatus.CLOSED)
    services.assign_plan(actor=actor, template=template, user=make_user(org, "someone"))
    # When an event names the patient
    result = send(org, {"userId": str(patient.pk), "timeSlot": "10:00"})
    # Then it targets the two open plans
    event = InboundEvent.objects.get(pk=result.event_id)
    assert sorted(event.plan_ids) == sorted(p.pk for p in open_plans)


def test_plan_and_user_together_must_agree(org, plan, nurse):
    result = send(org, {"planId": str(plan.pk), "userId": str(nurse.pk), "timeSlot": "x"})
    assert result.problems[0].pointer == "#/userId"
    assert "is not a plan of user" in result.problems[0].detail


def test_ids_of_another_organization_read_like_unknown_ids(org, plan, other_plan, other_patient):
    # When hrh's event names the other organization's plan, user, and an unknown plan
    foreign_plan = send(org, {"planId": str(other_plan.pk), "timeSlot": "x"})
    foreign_user = send(org, {"userId": str(other_patient.pk), "timeSlot": "x"})
    unknown = send(org, {"planId": str(uuid.uuid4()), "timeSlot": "x"})
    # Then each is rejected, and the foreign ids get exactly the unknown ids' message
    assert foreign_plan.problems[0].detail == f"No plan {other_plan.pk} here."
    assert unknown.problems[0].detail.startswith("No plan ")
    assert foreign_user.problems[0].detail.startswith(f"No open plan of user {other_patient.pk}")
    assert not InboundEvent.objects.filter(status="accepted").exists()
    assert set(InboundEvent.objects.values_list("organization", flat=True)) == {org.pk}


def test_a_plan_whose_template_does_not_listen_is_refused(org, actor, patient, plan):
    from tests.fixtures.domain import make_template

    other_template = make_template(org, name="quiet")
    other_template.integrations.all().delete()
    quiet = services.assign_plan(actor=actor, template=other_template, user=patient)
    result = send(org, {"planId": str(quiet.pk), "timeSlot": "x"})
    assert "does not listen to subject aiEngineTimeSlot" in result.problems[0].detail


@both_brokers
@pytest.mark.django_db(transaction=True)
def test_accepted_events_are_handed_to_the_rules_by_a_worker_after_commit_only(
    fresh_celery_queue, org, plan, request
):
    # Given no worker yet: one event commits and another is rolled back
    committed = send(org, {"planId": str(plan.pk), "timeSlot": "1"})
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = send(org, {"planId": str(plan.pk), "timeSlot": "2"})
        raise RuntimeError("abort")
    assert not InboundEvent.objects.filter(pk=rolled_back.event_id).exists()
    # Then nothing was handed over in the request itself: a task waits in the queue
    assert InboundEvent.objects.get(pk=committed.event_id).rules_done_at is None
    # When a real worker starts
    request.getfixturevalue("celery_worker")
    # Then it hands the committed event over (records it as ready)
    wait_until(lambda: InboundEvent.objects.get(pk=committed.event_id).rules_done_at is not None)


@pytest.mark.django_db(transaction=True)
def test_the_sweep_hands_over_accepted_events_whose_hand_off_was_lost(
    fresh_celery_queue, org, plan, request
):
    # Given an accepted event whose on-commit hand-off never ran (as if the process died after
    # the commit), received two minutes ago, and a fresh one
    lost = InboundEvent.objects.create(
        organization=org,
        subject="aiEngineTimeSlot",
        source="nats",
        status="accepted",
        payload={"planId": str(plan.pk), "timeSlot": "lost"},
        payload_hash="lost",
        plan_ids=[plan.pk],
    )
    InboundEvent.objects.filter(pk=lost.pk).update(
        received_at=timezone.now() - timedelta(minutes=2)
    )
    fresh = InboundEvent.objects.create(
        organization=org,
        subject="aiEngineTimeSlot",
        source="nats",
        status="accepted",
        payload={"planId": str(plan.pk), "timeSlot": "fresh"},
        payload_hash="fresh",
        plan_ids=[plan.pk],
    )
    # When beat's sweep runs with a one-minute threshold
    assert inbound.sweep_unfinished(older_than_seconds=60) == 1
    # Then a real worker hands the lost one to the rules; the fresh one is left to its own task
    request.getfixturevalue("celery_worker")
    wait_until(lambda: InboundEvent.objects.get(pk=lost.pk).rules_done_at is not None)
    assert InboundEvent.objects.get(pk=fresh.pk).rules_done_at is None
    # And once done, it is swept no more
    assert inbound.sweep_unfinished(older_than_seconds=60) == 0
