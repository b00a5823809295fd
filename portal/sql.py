"""The portal's raw SQL: only what the ORM cannot say, each statement with its why."""

from integrations.models import WebhookAttempt, WebhookDelivery

__all__ = ["ENDPOINT_STATS_SQL"]

# Per integration over a window: attempts, those that succeeded, and the median and 95th
# percentile of their durations: percentile_cont has no ORM aggregate. No bound on the
# deliveries' age: a replayed old delivery's new attempts count too. The join walks
# delivery_integration and the attempts' (delivery, number) key.
ENDPOINT_STATS_SQL = f"""
SELECT d.integration_id,
       count(*) AS attempts,
       count(*) FILTER (WHERE a.outcome = 'succeeded') AS succeeded,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY a.duration_ms) AS p95
FROM {WebhookAttempt._meta.db_table} a
JOIN {WebhookDelivery._meta.db_table} d ON d.id = a.delivery_id
WHERE d.integration_id = ANY(%(ids)s)
  AND a.started_at >= %(since)s
GROUP BY d.integration_id
"""
