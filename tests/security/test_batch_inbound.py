"""Threat: a partner of one organization writes into another's through the batch POST.

A batch carries many events under one API key, loads the plans they name in one query per
batch (routing.PlanIndex.prefetch, which the single POST never uses) and may carry an
Idempotency-Key another organization also chose. Whatever a batch of `other`'s key names,
its events are stored in `other` only, another organization's plans and people are unknown
to it, another organization's accepted data is never counted as its duplicate, and another
organization's stored answers are never replayed to it.
"""

import json

import pytest

from integrations.models import InboundEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/inbound/aiEngineTimeSlot/batch/"


def slot(plan, value="2026-01-05T10:00") -> dict:
    return {"planId": str(plan.pk), "timeSlot": value}


def post_batch(client, events, **extra):
    return client.post(URL, json.dumps(events), content_type="application/json", **extra)


def test_a_batch_naming_anothers_plans_is_stored_in_its_own_organization_only(
    api, other_api, plan, other_plan
):
    # Given hrh's accepted event
    ours = post_batch(api, [slot(plan, "a")]).json()["results"][0]["id"]
    # When the other organization's key sends a batch naming hrh's plan and person, and hrh's
    # exact data
    batch = [
        slot(other_plan, "mine"),
        slot(plan, "a"),
        slot(plan, "b"),
        {"userId": str(plan.user_id), "timeSlot": "c"},
    ]
    answers = post_batch(other_api, batch).json()["results"]
    # Then only its own event is accepted; hrh's plan and person are unknown to it
    assert [a["status"] for a in answers] == ["accepted", 400, 400, 400]
    assert answers[1]["errors"][0]["detail"] == f"No plan {plan.pk} here."
    assert answers[3]["errors"][0]["pointer"] == "#/userId"
    # And nothing was stored in hrh, nor counted on hrh's event as a duplicate
    assert ours not in {a["id"] for a in answers}
    assert list(InboundEvent.objects.filter(organization=plan.organization)) == [
        InboundEvent.objects.get(pk=ours, duplicate_count=0)
    ]
    stored = InboundEvent.objects.filter(pk__in=[a["id"] for a in answers])
    assert {event.organization for event in stored} == {other_plan.organization}


def test_an_idempotency_key_is_never_replayed_to_another_organization(
    api, other_api, plan, other_plan
):
    # Given hrh's batch under an Idempotency-Key
    headers = {"Idempotency-Key": "nightly-batch"}
    ours = post_batch(api, [slot(plan, "a")], headers=headers).json()["results"]
    # When the other organization sends the same body under the same key
    theirs = post_batch(other_api, [slot(plan, "a")], headers=headers)
    # Then it gets its own answer (hrh's plan is unknown to it), not hrh's stored one
    assert "Idempotent-Replayed" not in theirs
    answer = theirs.json()["results"][0]
    assert answer["status"] == 400 and answer["id"] != ours[0]["id"]
    assert InboundEvent.objects.get(pk=answer["id"]).organization == other_plan.organization
