"""Everything a portal page reads, always through the session's partner: its own HTTP
integrations, their deliveries, its API keys, its subjects and their inbound events. A row of
another partner or organization is simply not found (404), whatever id is asked for.

"The partner's subjects" (docs/portal.md): the inbound subjects an administrator made its own
(PartnerSubject; each subject is one partner's at most). Its inbound events are those of its
subjects: events record no key, and the bus cannot say which key published a message."""

import uuid

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from healix.models import OrganizationAPIKey
from integrations.models import (
    HttpIntegration,
    InboundEvent,
    IntegrationDefinition,
    WebhookAttempt,
    WebhookDelivery,
)
from portal.models import Partner, PartnerSubject

__all__ = [
    "api_keys",
    "definitions",
    "deliveries",
    "delivery",
    "inbound_event",
    "inbound_events",
    "integration",
    "integrations",
    "subjects",
]

RECENT_INBOUND = 50


def _pk(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404("No such row.") from None


def integrations(partner: Partner) -> QuerySet[HttpIntegration]:
    return HttpIntegration.objects.filter(
        organization_id=partner.organization_id, partner=partner
    ).order_by("created_at")


def integration(partner: Partner, pk: object) -> HttpIntegration:
    found = integrations(partner).filter(pk=_pk(pk)).first()
    if found is None:
        raise Http404("No endpoint of yours with this id.")
    return found


def deliveries(partner: Partner) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(
            organization_id=partner.organization_id, integration__partner=partner
        )
        .select_related("integration")
        .prefetch_related(Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("number")))
        .order_by("-created_at", "id")
    )


def delivery(partner: Partner, pk: object) -> WebhookDelivery:
    found = deliveries(partner).filter(pk=_pk(pk)).first()
    if found is None:
        raise Http404("No delivery of yours with this id.")
    return found


def api_keys(partner: Partner) -> QuerySet[OrganizationAPIKey]:
    return OrganizationAPIKey.objects.filter(
        organization_id=partner.organization_id, partner=partner, revoked=False
    ).select_related("organization")


def subjects(partner: Partner) -> list[str]:
    """The subjects whose events and schemas the partner sees (see the module doc)."""
    owned = PartnerSubject.objects.filter(
        organization_id=partner.organization_id, partner_id=partner.pk
    )
    return sorted(owned.values_list("subject", flat=True))


def definitions(partner: Partner) -> QuerySet[IntegrationDefinition]:
    return (
        IntegrationDefinition.objects.filter(
            organization_id=partner.organization_id, subject__in=subjects(partner)
        )
        .select_related("template")
        .prefetch_related("fields")
        .order_by("subject", "template__name")
    )


def inbound_events(partner: Partner, status: str = "") -> list[InboundEvent]:
    rows = InboundEvent.objects.filter(
        organization_id=partner.organization_id, subject__in=subjects(partner)
    )
    if status:
        rows = rows.filter(status=status)
    return list(rows.order_by("-received_at")[:RECENT_INBOUND])


def inbound_event(partner: Partner, pk: object) -> InboundEvent:
    found = InboundEvent.objects.filter(
        organization_id=partner.organization_id, subject__in=subjects(partner), pk=_pk(pk)
    ).first()
    if found is None:
        raise Http404("No inbound event of yours with this id.")
    return found
