"""The outgoing system event types, in one place (the contract's messageType values)."""

from django.db import models

__all__ = ["SUBJECT_PREFIX", "EventType", "subject_for"]

# Every Healix subject starts with this token: healix.<orgId>.<type>.
SUBJECT_PREFIX = "healix"


class EventType(models.TextChoices):
    PLAN_CREATED = "planCreated", "Plan created"
    PLAN_UPDATED = "planUpdated", "Plan updated"
    FORM_SUBMITTED = "formSubmitted", "Form submitted"
    # The seed once says "workQueueStatusUpdated"; this is the name used everywhere.
    WORK_QUEUE_ITEM_STATUS_UPDATED = "workQueueItemStatusUpdated", "Work queue item status updated"


def subject_for(org_id: str, event_type: str) -> str:
    """The NATS subject, which is also the envelope's messageType: healix.<orgId>.<type>."""
    return f"{SUBJECT_PREFIX}.{org_id}.{event_type}"
