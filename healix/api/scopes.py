"""What an API key may do: one scope per resource and kind of access, chosen when the key is
made. A request outside its key's scopes gets 403 naming the scope it lacks.

A write scope does not imply the read scope: a partner that only posts inbound events needs
nothing else, and whoever makes the key ticks exactly what the partner needs.
"""

from django.db import models

__all__ = ["LEGACY_SCOPES", "Scope"]


class Scope(models.TextChoices):
    INBOUND_READ = "inbound:read", "inbound:read: list and read inbound events"
    INBOUND_WRITE = "inbound:write", "inbound:write: send inbound events"
    EVENTS_READ = "events:read", "events:read: read the outgoing event log"
    PLANS_READ = "plans:read", "plans:read: list and read plans"
    PLANS_WRITE = "plans:write", "plans:write: create plans and change them"
    FORMS_READ = "forms:read", "forms:read: list and read form assignments"
    FORMS_WRITE = "forms:write", "forms:write: submit forms"
    WORK_QUEUES_READ = "work-queues:read", "work-queues:read: list and read work queue items"
    WORK_QUEUES_WRITE = "work-queues:write", "work-queues:write: change work queue items"
    INTEGRATIONS_READ = "integrations:read", "integrations:read: read inbound subjects"
    WEBHOOKS_ADMIN = "webhooks:admin", "webhooks:admin: manage HTTP integrations (webhooks)"


# Keys made before scopes existed could only use the inbound API; they keep exactly that.
LEGACY_SCOPES = [Scope.INBOUND_READ.value, Scope.INBOUND_WRITE.value]
