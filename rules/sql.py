"""The raw SQL of the rules: only what the ORM cannot say, each statement with its why."""

from integrations.models import InboundEvent, InboundStatus
from plans.models import FormAssignment, FormSubmission, Plan
from rules.models import RowOutcomeRecord, RuleEvaluation
from templates.models import Form, FormAssignmentDefinition

__all__ = [
    "COPY_EVALUATIONS_SQL",
    "INBOUND_SQL",
    "LOCK_PLANS_SQL",
    "NEXT_EVALUATION_IDS_SQL",
    "RECORD_ROW_OUTCOMES_SQL",
    "SUBMISSIONS_SQL",
]

# The latest submissions of the forms a table reads, for a whole batch of plans in one round
# trip: a four-table join whose rows the ORM would turn into model instances first. The
# batch's ids are joined as rows (unnest), so PostgreSQL counts them and probes the plan_id
# index once per plan; `plan_id = ANY(array)` led it to scan every assignment instead.
SUBMISSIONS_SQL = f"""
SELECT a.plan_id, f.name, s.data
FROM unnest(%s::uuid[]) AS batch(plan_id)
JOIN {FormAssignment._meta.db_table} a ON a.plan_id = batch.plan_id
JOIN {FormSubmission._meta.db_table} s ON s.assignment_id = a.id
JOIN {FormAssignmentDefinition._meta.db_table} d ON d.id = a.definition_id
JOIN {Form._meta.db_table} f ON f.id = d.form_id
WHERE f.name = ANY(%s)
ORDER BY s.submitted_at, s.id
"""
# A batch's plans locked in id order (as plans.services locks one, so two triggers of a plan
# queue up), with what the rules read of them (rules.data.PlanRow): the ORM's model instances
# for 500 plans cost this process more than PostgreSQL spends on the statement.
LOCK_PLANS_SQL = f"""
SELECT id, title, status, risk_status, start_date, end_date, custom_fields
FROM {Plan._meta.db_table}
WHERE id = ANY(%s::uuid[]) AND template_id = %s
ORDER BY id
FOR UPDATE
"""
# The accepted inbound events a table reads, for a whole batch of plans: `plan_ids && array`
# (array overlap), which the ORM cannot say. The batch's ids go in as a sub-select's value:
# given a literal array of hundreds of ids, PostgreSQL estimates that most rows overlap it
# (0.5 % per element, compounded) and reads every event of the organization; a value it cannot
# see gets the operator's default estimate, and the plan_ids GIN index (rules/migrations/0003).
INBOUND_SQL = f"""
SELECT plan_ids, subject, payload FROM {InboundEvent._meta.db_table}
WHERE organization_id = %s AND status = '{InboundStatus.ACCEPTED}' AND subject = ANY(%s)
  AND plan_ids && (SELECT %s::uuid[])
ORDER BY received_at, id
"""

# Ids for a batch of audit records from the table's sequence, ahead of their COPY, so chained
# evaluations can name their origin: the ORM never reads a sequence.
NEXT_EVALUATION_IDS_SQL = (
    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"
)
# The audit records in bulk: at hundreds per batch, an INSERT's statement building costs more
# than the evaluations themselves, and the ORM has no COPY.
COPY_EVALUATIONS_SQL = "COPY {table} ({columns}) FROM STDIN".format(
    table=RuleEvaluation._meta.db_table,
    columns=", ".join(f'"{field.column}"' for field in RuleEvaluation._meta.concrete_fields),
)
# The row outcomes a batch of evaluations names, each stored once per organization, with their
# ids, new or not. DO UPDATE (a no-op) rather than DO NOTHING: it returns the rows that were
# already there, also those another worker committed after this statement began; inserted in
# digest order, so that two workers upserting the same outcomes lock them in the same order.
RECORD_ROW_OUTCOMES_SQL = f"""
INSERT INTO {RowOutcomeRecord._meta.db_table} (organization_id, digest, outcome)
SELECT %s, digest, outcome::jsonb
FROM unnest(%s::text[], %s::text[]) AS new(digest, outcome)
ORDER BY digest
ON CONFLICT (organization_id, digest) DO UPDATE SET digest = EXCLUDED.digest
RETURNING digest, id
"""
