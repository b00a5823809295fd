"""Celery tasks of the rules: thin, they call rules.services."""

from healix.celery import app
from rules import services

__all__ = ["evaluate_due_rules", "evaluate_submission"]


@app.task(name="rules.evaluate_submission")
def evaluate_submission(submission_id: int, trace_id: str | None = None) -> int:
    """After a form submission's commit: evaluate the plan's "on change" rows."""
    return services.evaluate_submission(submission_id, trace_id)


@app.task(name="rules.evaluate_due_rules")
def evaluate_due_rules() -> int:
    """Celery beat: time-elapsed rows that came due."""
    return services.evaluate_due_rules()
