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
    TEST_EVENT_TYPE,
    HttpIntegration,
    HttpIntegrationCondition,
    HttpIntegrationEvent,
    HttpIntegrationForm,
    HttpIntegrationTemplate,
    HttpIntegrationWorkQueue,
    IntegrationEventKind,
    PlanEventType,
)

__all__ = [
    "RESERVED_FIELD_NAMES",
    "TEST_EVENT_TYPE",
    "AttemptOutcome",
    "DeliveryStatus",
    "HttpIntegration",
    "HttpIntegrationCondition",
    "HttpIntegrationEvent",
    "HttpIntegrationForm",
    "HttpIntegrationTemplate",
    "HttpIntegrationWorkQueue",
    "InboundEvent",
    "InboundSource",
    "InboundStatus",
    "IntegrationDefinition",
    "IntegrationEventKind",
    "IntegrationField",
    "IntegrationFieldType",
    "PlanEventType",
    "UnroutableMessage",
    "WebhookAttempt",
    "WebhookDelivery",
]
