"""The integrations app's models, one module per job: inbound events, webhooks, deliveries."""

from integrations.models.deliveries import (
    AttemptOutcome,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
)
from integrations.models.inbound import (
    RESERVED_FIELD_NAMES,
    InboundEvent,
    InboundSource,
    InboundStatus,
    IntegrationDefinition,
    IntegrationField,
    IntegrationFieldType,
    UnroutableMessage,
)
from integrations.models.webhooks import (
    SUBSCRIPTION_SCOPES,
    TEST_EVENT_TYPE,
    HttpIntegration,
    HttpIntegrationCondition,
    HttpIntegrationEvent,
    IntegrationEventKind,
    WebhookSubscription,
)

__all__ = [
    "RESERVED_FIELD_NAMES",
    "SUBSCRIPTION_SCOPES",
    "TEST_EVENT_TYPE",
    "AttemptOutcome",
    "DeliveryStatus",
    "HttpIntegration",
    "HttpIntegrationCondition",
    "HttpIntegrationEvent",
    "InboundEvent",
    "InboundSource",
    "InboundStatus",
    "IntegrationDefinition",
    "IntegrationEventKind",
    "IntegrationField",
    "IntegrationFieldType",
    "UnroutableMessage",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
