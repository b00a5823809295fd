"""The only functions that change run-time state.

The admin, the API, the rules and the tests all call these. Each runs in one transaction, takes
the acting user, and refuses with a django ValidationError whose message dict names the field at
fault. Rows are locked (SELECT ... FOR UPDATE) where two writers could race, so an old value read
here is the value that was really replaced.

A CLOSED plan takes nothing new (roles, forms, submissions, work queue items), but its own
attributes still change (so it can be reopened) and its existing work queue items can still be
worked to the end.
"""

from plans.services.checks import UNSET
from plans.services.forms import SUBMISSION_RULES_TASK, assign_form, submit_form
from plans.services.plans import assign_plan, assign_role, update_plan
from plans.services.work_queue_items import (
    change_work_queue_item,
    change_work_queue_item_status,
    create_work_queue_item,
    update_work_queue_item,
)

__all__ = [
    "SUBMISSION_RULES_TASK",
    "UNSET",
    "assign_form",
    "assign_plan",
    "assign_role",
    "change_work_queue_item",
    "change_work_queue_item_status",
    "create_work_queue_item",
    "submit_form",
    "update_plan",
    "update_work_queue_item",
]
