"""GET /metrics: the Prometheus exposition of healix/observability/metrics.py (summed over every
process in
multi-process mode) plus gauges read from the database at scrape time, where a counter cannot
be right: what waits now (unpublished events, pending deliveries) is a state, not an event.

Access: with HEALIX_METRICS_TOKEN set, only `Authorization: Bearer <token>`; without it, only
a direct request from loopback (no proxy header), so a development machine needs nothing and a
server behind a proxy exposes nothing until it is given a token. See docs/operations.md.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from healix.admin.operations import waiting
from healix.api.problems import problem_json
from healix.observability import metrics as definitions  # noqa: F401  (registers them in this process)

__all__ = ["DatabaseCollector", "metrics", "registry"]

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Headers a reverse proxy adds: a request carrying one did not come from this machine.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


class DatabaseCollector(Collector):
    """The gauges of what waits now (healix.admin.operations.waiting)."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "healix_metrics_database_up", "1 if the gauges below could be read from PostgreSQL."
        )
        try:
            now_waiting = waiting()
        except DatabaseError:
            # The counters are worth most during an outage: answer them without the gauges.
            logger.exception("/metrics: the database gauges could not be read")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        unpublished = GaugeMetricFamily(
            "healix_outbox_unpublished_events",
            "Events written to the outbox and not yet published.",
            labels=["organization"],
        )
        oldest = GaugeMetricFamily(
            "healix_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished event (absent when none waits).",
            labels=["organization"],
        )
        now = timezone.now()
        for organization_id, (count, since) in now_waiting.unpublished.items():
            unpublished.add_metric([str(organization_id)], count)
            oldest.add_metric([str(organization_id)], max(0.0, (now - since).total_seconds()))
        deliveries = GaugeMetricFamily(
            "healix_webhook_deliveries_pending",
            "Webhook deliveries not yet succeeded or failed (due, leased or awaiting a retry).",
            labels=["organization", "integration"],
        )
        for (organization_id, integration_id), count in now_waiting.pending.items():
            deliveries.add_metric([str(organization_id), str(integration_id)], count)
        rules = GaugeMetricFamily(
            "healix_inbound_awaiting_rules",
            "Accepted inbound events the rules are not done with yet.",
            labels=["organization"],
        )
        for organization_id, count in now_waiting.awaiting_rules.items():
            rules.add_metric([str(organization_id)], count)
        given_up = GaugeMetricFamily(
            "healix_inbound_rules_given_up",
            "Accepted inbound events the rules failed on until the sweep gave up (re-run them).",
            labels=["organization"],
        )
        for organization_id, count in now_waiting.rules_given_up.items():
            given_up.add_metric([str(organization_id)], count)
        yield from (unpublished, oldest, deliveries, rules, given_up)


def registry() -> CollectorRegistry:
    """What one scrape exposes: every process's files in multi-process mode (else this
    process's own metrics), and the database's gauges."""
    found = CollectorRegistry(auto_describe=False)
    if settings.HEALIX_METRICS_DIR:
        MultiProcessCollector(found, path=settings.HEALIX_METRICS_DIR)
    else:
        found.register(_Default())
    found.register(DatabaseCollector())
    return found


class _Default(Collector):
    """This process's default registry, as one collector of ours."""

    def collect(self) -> Iterator[Metric]:
        return iter(REGISTRY.collect())


def _allowed(request: HttpRequest) -> bool:
    token = settings.HEALIX_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return secrets.compare_digest(given.encode(), f"Bearer {token}".encode())
    if any(header in request.META for header in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        detail = "Send Authorization: Bearer <HEALIX_METRICS_TOKEN>, or scrape from loopback."
        return problem_json(403, "Forbidden", detail, "metrics-forbidden")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE)
