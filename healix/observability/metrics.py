"""Prometheus metrics: every counter and histogram of Healix, defined once, and the one-line
helpers the services call where the thing happens. /metrics (healix/observability/metrics_view.py)
exposes
them with the gauges read from the database at scrape time.

Multi-process: with PROMETHEUS_MULTIPROC_DIR set before prometheus_client is imported (the
launcher sets it for every process of the Procfile), each process writes its values to files
there and /metrics adds them up, so gunicorn's workers, consume_bus, the relay and the Celery
workers are one view. Without it each process counts for itself alone (tests, a shell).

Labels stay bounded: organization ids, configured subjects and integrations, event types,
outcomes. Never a trace id, an event id or anything a partner can vary at will (an unknown
subject is counted with an empty subject label and its rejection reason).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:  # the services import this module; it must not import them back
    from integrations.inbound.results import IngestResult, Message
    from integrations.webhooks.transport import Response
    from rules.models import RuleEvaluation

__all__ = [
    "DELIVERIES",
    "DELIVERY_ATTEMPTS",
    "DELIVERY_ATTEMPT_SECONDS",
    "DELIVERY_LAG_SECONDS",
    "EVENTS_PUBLISHED",
    "INBOUND_MESSAGES",
    "INGEST_SECONDS",
    "PUBLISH_LAG_SECONDS",
    "RULES_EVALUATIONS",
    "RULES_EVALUATION_SECONDS",
    "RULES_FIRED",
    "count_deliveries",
    "count_evaluations",
    "count_ingest",
    "count_published",
    "now",
]

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # A missing folder would make every count (so every ingest) fail: make it, if it is not.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# Latency buckets in seconds: a millisecond (one ingest, one evaluation) up to the minutes a
# retried webhook or an outbox held up by a NATS outage takes.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
)  # fmt: skip

INBOUND_MESSAGES = Counter(
    "healix_inbound_messages",
    "Inbound messages by outcome (accepted, duplicate, rejected); rejected ones by reason.",
    ["organization", "subject", "status", "reason"],
)
INGEST_SECONDS = Histogram(
    "healix_inbound_ingest_seconds",
    "Duration of one ingest_batch() call: a REST request's message or a NATS batch.",
    ["source"],
    buckets=LATENCY_BUCKETS,
)
EVENTS_PUBLISHED = Counter(
    "healix_events_published",
    "System events the relay published to JetStream (acked and marked published).",
    ["organization", "event_type"],
)
PUBLISH_LAG_SECONDS = Histogram(
    "healix_events_publish_lag_seconds",
    "From the outbox write (occurredAt) to the event marked published.",
    ["event_type"],
    buckets=LATENCY_BUCKETS,
)
DELIVERY_ATTEMPTS = Counter(
    "healix_webhook_attempts",
    "Webhook HTTP attempts by outcome: succeeded, retry (will be retried), failed (final).",
    ["organization", "integration", "outcome"],
)
DELIVERIES = Counter(
    "healix_webhook_deliveries",
    "Webhook deliveries that reached a final status (succeeded or failed).",
    ["organization", "integration", "status"],
)
DELIVERY_ATTEMPT_SECONDS = Histogram(
    "healix_webhook_attempt_seconds",
    "Duration of one webhook HTTP attempt (the request and its answer).",
    ["organization"],
    buckets=LATENCY_BUCKETS,
)
DELIVERY_LAG_SECONDS = Histogram(
    "healix_webhook_delivery_lag_seconds",
    "End to end: from the event's occurredAt to its webhook delivery succeeding.",
    ["organization"],
    buckets=LATENCY_BUCKETS,
)
RULES_EVALUATIONS = Counter(
    "healix_rules_evaluations",
    "Decision-table evaluations recorded, by trigger.",
    ["organization", "trigger"],
)
RULES_FIRED = Counter(
    "healix_rules_fired",
    "Decision-table rows that fired, by trigger.",
    ["organization", "trigger"],
)
RULES_EVALUATION_SECONDS = Histogram(
    "healix_rules_evaluation_seconds",
    "One plan's evaluation: its rows and the fired rows' actions.",
    ["trigger"],
    buckets=LATENCY_BUCKETS,
)


def now() -> float:
    """A monotonic start time for the helpers' `seconds` arguments."""
    return time.perf_counter()


def count_ingest(
    messages: Sequence[Message], results: Sequence[IngestResult], source: str, started: float
) -> None:
    """After ingest_batch(): one count per message, and the call's duration."""
    INGEST_SECONDS.labels(source).observe(time.perf_counter() - started)
    for message, result in zip(messages, results, strict=True):
        if result.rejection is None:
            labels = (message.organization_id, message.subject, result.outcome, "")
        else:
            labels = (message.organization_id, "", result.outcome, result.rejection.slug)
        INBOUND_MESSAGES.labels(*labels).inc()


def count_published(rows: Iterable[tuple[int, str, float]]) -> None:
    """After the relay marked events published: (organization id, type, lag in seconds)."""
    # Counted per (organization, type), each label set looked up once a batch, not once a row:
    # a batch of the relay is 500 rows, mostly of a few kinds.
    published: dict[tuple[int, str], int] = {}
    lags: dict[str, Any] = {}
    for organization_id, event_type, lag in rows:
        published[organization_id, event_type] = published.get((organization_id, event_type), 0) + 1
        if event_type not in lags:
            lags[event_type] = PUBLISH_LAG_SECONDS.labels(event_type)
        lags[event_type].observe(max(0.0, float(lag)))
    for (organization_id, event_type), count in published.items():
        EVENTS_PUBLISHED.labels(organization_id, event_type).inc(count)


def count_deliveries(results: Iterable[tuple[Any, Response]]) -> None:
    """After the attempts of a batch were recorded: (WebhookDelivery, transport response)."""
    for delivery, response in results:
        organization, integration = delivery.organization_id, str(delivery.integration_id)
        outcome = "retry" if delivery.status == "pending" else delivery.status
        DELIVERY_ATTEMPTS.labels(organization, integration, outcome).inc()
        if response.duration_ms is not None:
            DELIVERY_ATTEMPT_SECONDS.labels(organization).observe(response.duration_ms / 1000)
        if outcome == "retry":
            continue
        DELIVERIES.labels(organization, integration, delivery.status).inc()
        occurred = _occurred_at(delivery.payload)
        if outcome == "succeeded" and occurred is not None and delivery.completed_at:
            lag = (delivery.completed_at - occurred).total_seconds()
            DELIVERY_LAG_SECONDS.labels(organization).observe(max(0.0, lag))


def _occurred_at(payload: str) -> datetime | None:
    try:
        return datetime.fromisoformat(json.loads(payload)["occurredAt"])
    except (ValueError, KeyError, TypeError):  # a test event or a foreign body: no lag
        return None


def count_evaluations(evaluations: list[RuleEvaluation], seconds: list[float]) -> None:
    """After a batch of evaluations was made (`seconds`: each one's, with its actions): the
    series looked up once per organization and trigger, not once per evaluation."""
    groups: dict[tuple[int, str], list[int]] = {}
    for index, evaluation in enumerate(evaluations):
        groups.setdefault((evaluation.organization_id, evaluation.trigger), []).append(index)
    for (organization, trigger), indexes in groups.items():
        histogram = RULES_EVALUATION_SECONDS.labels(trigger)
        for index in indexes:
            histogram.observe(seconds[index])
        RULES_EVALUATIONS.labels(organization, trigger).inc(len(indexes))
        fired = sum(len(evaluations[index].fired_rules) for index in indexes)
        if fired:
            RULES_FIRED.labels(organization, trigger).inc(fired)
